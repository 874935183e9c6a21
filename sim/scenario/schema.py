"""A scenario written out: the JSON Schema of scenario files (for editors), the fully
merged scenario as YAML, and the hash that identifies what a run used.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from .models import Scenario

__all__ = ["json_schema", "resolved_yaml", "scenario_hash"]


def resolved_yaml(scenario: Scenario) -> str:
    """The fully merged scenario as YAML (what a run actually used)."""
    data = json.loads(scenario.model_dump_json(by_alias=True))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def scenario_hash(yaml_text: str) -> str:
    """Short SHA-256 of the resolved scenario text (identifies what was run): the first
    16 hex digits of the digest of its UTF-8 bytes."""
    return hashlib.sha256(yaml_text.encode()).hexdigest()[:16]


def _strip_required(node: Any) -> None:
    """Remove every ``required`` list from a JSON Schema, in place."""
    if isinstance(node, dict):
        node.pop("required", None)
        for v in node.values():
            _strip_required(v)
    elif isinstance(node, list):
        for v in node:
            _strip_required(v)


def json_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file, for editors.

    ``required`` lists are removed because a file that ``extends`` a baseline gives only
    a few keys; ``treatsim validate`` checks completeness. Unknown keys stay errors.
    """
    schema = Scenario.model_json_schema(by_alias=True)
    _strip_required(schema)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "a scenario file (relative to this one) that this file overrides",
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "treatsim scenario"
    return schema
