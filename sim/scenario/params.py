"""Dotted parameter paths: the one way a policy, a sweep, a fit or a ``fitted:`` file
names and changes a value of a scenario.

A path is the YAML key path joined by dots, list items by index:
``keyworkers.caseload_cap``, ``mortality.after_exit.0.per_100_person_years``, and
``policies.N.set.KEY`` for what policy ``N`` sets ``KEY`` to. Everything here works on
raw scenario data (``Scenario.model_dump(mode="python", by_alias=True)``); the result is
validated again by whoever asked for it.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["FIXED_KEYS", "PolicyError", "apply_policy", "assign_parameter", "get_parameter",
           "set_parameter", "with_parameters"]

FIXED_KEYS = {"name": "the scenario's name (it names the output folder)",
              "description": "the scenario's description",
              "policies": "the list of policies (give each change as its own policy)"}
"""Top-level keys that no dotted parameter path may set (``run`` is refused too)."""

_POLICY_SET = re.compile(r"^policies\.(\d+)\.set\.(.+)$")

ModelT = TypeVar("ModelT", bound=BaseModel)


class PolicyError(Exception):
    """A policy sets a parameter that does not exist or to a value that is not valid."""

    def __init__(self, index: int, error: ValidationError | str, key: str | None = None) -> None:
        super().__init__(str(error))
        self.index, self.error, self.key = index, error, key


def _walk(raw: dict[str, Any], dotted: str, policy_index: int) -> tuple[Any, Any]:
    """The list or mapping that holds the last key of ``dotted``, and that key (an index
    for a list): the one walk of a dotted path. The path must exist.

    :raises PolicyError: (with ``policy_index``) naming the first key that does not.
    """
    parts = dotted.split(".")
    node: Any = raw
    for depth, part in enumerate(parts):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise PolicyError(policy_index, f"no item {part!r} in this list", key=dotted)
            idx: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                close = difflib.get_close_matches(part, [str(k) for k in node], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where = ".".join(parts[:depth]) or "the scenario"
                raise PolicyError(
                    policy_index, f"no parameter {part!r} in {where}{hint}", key=dotted
                )
            idx = part
        else:
            raise PolicyError(policy_index, f"{'.'.join(parts[:depth])} has no keys", key=dotted)
        if depth == len(parts) - 1:
            break
        node = node[idx]
    return node, idx


def assign_parameter(raw: dict[str, Any], dotted: str, value: Any, policy_index: int
                     ) -> Any:
    """Set ``raw[a][b][c] = value`` (a copy of it) for ``dotted = "a.b.c"``; the path must
    exist, and may not be under ``run`` or a key of :data:`FIXED_KEYS`. A whole float
    given for a count becomes an int.

    :returns: the list or mapping the value was set in.
    :raises PolicyError: (with ``policy_index``) when the path cannot be set.
    """
    top = dotted.split(".")[0]
    if top == "run":
        raise PolicyError(policy_index, "run settings (dates, horizon, seed) cannot change "
                          "during a run", key=dotted)
    if top in FIXED_KEYS:
        raise PolicyError(policy_index, f"{FIXED_KEYS[top]} cannot be changed by a "
                          "policy, a sweep or a fit", key=dotted)
    node, idx = _walk(raw, dotted, policy_index)
    current = node[idx]
    if isinstance(current, int) and not isinstance(current, bool) \
            and isinstance(value, float) and value.is_integer():
        value = int(value)  # a sweep or a fit moves a count in whole floats
    node[idx] = copy.deepcopy(value)
    return node


def set_parameter(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted-path parameter in raw scenario data (the path must exist).

    Setting one share of a review's ``probabilities`` (say ``planned_exit``) gives the
    difference to ``continue``, so the shares still sum to 1. ``policies.N.set.KEY`` sets
    what policy ``N`` sets ``KEY`` to (``KEY`` is itself dotted), such as the level of a
    caseload cap brought in on a date.

    :raises PolicyError: (with index -1) when the path does not exist.
    """
    m = _POLICY_SET.match(dotted)
    if m:
        _policy_set(raw, int(m.group(1)), m.group(2), dotted)[m.group(2)] = value
        return
    node = assign_parameter(raw, dotted, value, policy_index=-1)
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[-2] == "probabilities" and parts[-1] != "continue" \
            and "continue" in node:
        node["continue"] = 0.0
        node["continue"] = max(0.0, 1.0 - sum(node.values()))


def get_parameter(raw: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted-path parameter of raw scenario data (as
    :func:`set_parameter` addresses it); the path must exist.

    :raises PolicyError: (with index -1) when it does not.
    """
    m = _POLICY_SET.match(dotted)
    if m:
        return _policy_set(raw, int(m.group(1)), m.group(2), dotted)[m.group(2)]
    node, idx = _walk(raw, dotted, policy_index=-1)
    return node[idx]


def _policy_set(raw: dict[str, Any], n: int, key: str, dotted: str) -> dict[str, Any]:
    """Policy ``n``'s ``set`` mapping, which must already set ``key``."""
    policies = raw.get("policies", [])
    if n >= len(policies):
        raise PolicyError(-1, f"the scenario has {len(policies)} policies; there is no "
                          f"policy {n}", key=dotted)
    sets = policies[n].get("set", {})
    if key not in sets:
        raise PolicyError(-1, f"policy {n} does not set {key!r} (it sets "
                          f"{', '.join(sets) or 'nothing'})", key=dotted)
    return sets


def apply_policy(raw: dict[str, Any], index: int, sets: Mapping[str, Any],
                 close: str | None = None, open_: str | None = None) -> None:
    """Apply policy ``index`` to raw scenario data: set each dotted key of ``sets``, then
    close or open the service named.

    :raises PolicyError: (with ``index`` and the key) when a key cannot be set.
    """
    for key, value in sets.items():
        try:
            set_parameter(raw, key, value)
        except PolicyError as exc:
            raise PolicyError(index, exc.error, key=key) from None
    for name, flag in ((close, False), (open_, True)):
        if name:
            raw["modalities"][name]["open"] = flag


def with_parameters(scenario: ModelT, values: Mapping[str, Any]) -> ModelT:
    """``scenario`` with the dotted-path parameters set (:func:`set_parameter`), validated
    again.

    :raises PolicyError: when a path does not exist.
    :raises pydantic.ValidationError: when a value makes the scenario invalid.
    """
    model = type(scenario)
    touched = {str(dotted).split(".")[0] for dotted in values}
    raw: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key, value = field.alias or name, getattr(scenario, name)
        if key not in touched:
            raw[key] = value  # an untouched section is taken as validated, not again
        elif isinstance(value, BaseModel):
            raw[key] = value.model_dump(mode="python", by_alias=True)
        elif isinstance(value, list):
            raw[key] = [v.model_dump(mode="python", by_alias=True)
                        if isinstance(v, BaseModel) else copy.deepcopy(v) for v in value]
        else:
            raw[key] = copy.deepcopy(value)
    for dotted, value in values.items():
        set_parameter(raw, dotted, value)
    return model.model_validate(raw)
