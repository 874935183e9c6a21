"""Validating raw scenario data into a frozen :class:`Scenario`: every problem named
with its file, line and key path as the YAML spells it, the policies' included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .errors import (
    EXPLAIN,
    ScenarioError,
    describe_error,
    format_path,
    locate,
    unique_problems,
    yaml_loc,
)
from .models import Policy, Scenario
from .params import PolicyError, assign_parameter
from .timeline import policy_conflicts
from .wording import Lines, Problem

__all__ = ["parse_scenario"]

Found = tuple[tuple[Any, ...], str]
"""An explained error: (key path as the YAML spells it, message)."""


def parse_scenario(data: Mapping[str, Any], lines: Lines | None = None,
                   file: str = "<scenario>") -> Scenario:
    """Validate raw scenario data into a :class:`Scenario`, policies included.

    :param data: the merged YAML content.
    :param lines: key path -> (file, line), for error messages.
    :param file: the name shown when a key has no known line.
    :raises ScenarioError: listing every problem with file, line and key path.
    """
    lines = lines or {}
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise _section_errors(exc, data, lines, file) from None
    conflicts = policy_conflicts(scenario, lines, file)
    if conflicts:
        raise ScenarioError(conflicts)
    try:
        scenario.phases()
    except PolicyError as exc:
        raise _policy_errors(exc, scenario, lines, file) from None
    scenario.set_source_lines(file, lines)
    return scenario


# --------------------------------------------------------------------------- the sections


def _section_errors(exc: ValidationError, data: Mapping[str, Any], lines: Lines,
                    file: str) -> ScenarioError:
    """The problems of the file as a whole (before any policy is applied)."""
    errors = exc.errors()
    found = [_explain(err, data, lines, file) for err in errors[:EXPLAIN]]
    # "scale: unknown key (did you mean 'scale_days'?)" explains "scale_days: missing"
    meant = set()
    for loc, msg in found:
        m = re.match(r"unknown key \(did you mean '([^']+)'\?\)", msg)
        if m and loc:
            meant.add((*loc[:-1], m.group(1)))
    problems = []
    for loc, msg in found:
        if msg == "required key is missing" and loc in meant:
            continue
        f, line = locate(lines, loc, file)
        problems.append((f, line, format_path(loc), msg))
    return ScenarioError(unique_problems(problems), more=len(errors[EXPLAIN:]))


def _explain(err: Mapping[str, Any], root: Any, lines: Lines, file: str) -> Found:
    """One pydantic error on the data ``root``: its key path and sentence."""
    loc = yaml_loc(tuple(err["loc"]), root)
    return _refine(loc, describe_error(err, loc, root), root, lines, file)


def _value_at(root: Any, loc: tuple[Any, ...]) -> Any:
    """The value at key path ``loc`` of ``root``, or None."""
    node = root
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _named_in_message(msg: str) -> Found:
    """A model-level check names its own key path first ("a.b[0].c is ..."): point at
    it."""
    head, _, rest = msg.partition(" ")
    if re.fullmatch(r"[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*", head) \
            and head.split(".")[0].split("[")[0] in Scenario.model_fields and rest:
        parts: list[Any] = []
        for seg in head.split("."):
            name, *idx = re.split(r"[\[\]]", seg)
            parts.append(name)
            parts.extend(int(i) for i in idx if i)
        return tuple(parts), rest
    return (), msg


def _refine(loc: tuple[Any, ...], msg: str, root: Any, lines: Lines, file: str) -> Found:
    """Point model-level and table-level errors at the key they are about."""
    if not loc:
        return _named_in_message(msg)
    node = _value_at(root, loc)
    if not isinstance(node, dict):
        return loc, msg
    if len(loc) == 2 and loc[0] == "policies":
        for start, key in (("closing", "close"), ("a policy cannot both", "close"),
                           ("transition", "transition"), ("a transition", "transition")):
            if msg.startswith(start) and key in node:
                return (*loc, key), msg
        return loc, msg
    m = re.match(r"(?:unknown [^']*|share for )'([^']+)'", msg)
    if m and m.group(1) in node:
        return (*loc, m.group(1)), msg
    m = re.match(r"([A-Za-z_]+)(?:\.([^:\s]+))?: (.+)$", msg)
    if m and m.group(1) in node:
        sub, inner = (*loc, m.group(1)), node[m.group(1)]
        for part in m.group(2).split(".") if m.group(2) else ():
            if not (isinstance(inner, dict) and part in inner):
                break
            sub, inner = (*sub, part), inner[part]
        return sub, m.group(3)
    if "must sum to 1" in msg:
        msg += _inherited(loc, node, lines, file)
    return loc, msg


def _inherited(loc: tuple[Any, ...], node: dict[str, Any], lines: Lines, file: str) -> str:
    """For shares that do not sum to 1: which of them came from the file extended (a
    child that adds a share must drop the base's), or ``""``."""
    here = locate(lines, loc, file)[0]
    inherited = [str(k) for k in node if locate(lines, (*loc, k), file)[0] != here]
    if inherited and (*loc, next(iter(node))) in lines:
        src = locate(lines, (*loc, inherited[0]), file)[0]
        return (f"; {', '.join(inherited)} inherited from {src} "
                "(set them to 0 to drop them)")
    return ""


# --------------------------------------------------------------------------- the policies


def _policy_errors(exc: PolicyError, scenario: Scenario, lines: Lines, file: str
                   ) -> ScenarioError:
    """The problems of policy ``exc.index``: a key it cannot set, or what is invalid
    after it, named by the key it sets where one is to blame."""
    i = exc.index
    base = ("policies", i, "set")
    if isinstance(exc.error, str):
        loc = (*base, exc.key) if exc.key else base
        f, line = locate(lines, loc, file)
        return ScenarioError([(f, line, format_path(base) + f".{exc.key}", exc.error)])
    policy = scenario.policies[i]
    # rebuild (roughly) what the policy produced, to name its keys as the YAML does
    raw = scenario.model_dump(mode="python", by_alias=True)
    for key, value in policy.set.items():
        try:
            assign_parameter(raw, key, value, policy_index=i)
        except PolicyError:
            pass
    problems = [_policy_problem(_explain(err, raw, lines, file), policy, i, lines, file)
                for err in exc.error.errors()[:EXPLAIN]]
    return ScenarioError(unique_problems(problems))


def _policy_problem(found: Found, policy: Policy, i: int, lines: Lines, file: str
                    ) -> Problem:
    """An error in the parameters after policy ``i``, at the key of its ``set`` that
    leads to it, or at the policy as a whole."""
    inner, msg = found
    base = ("policies", i, "set")
    dotted = ".".join(str(p) for p in inner)
    key = next((k for k in policy.set
                if dotted and (dotted == k or dotted.startswith(k + ".")
                               or k.startswith(dotted + "."))), None)
    if key is not None:
        f, line = locate(lines, (*base, key), file)
        return (f, line, f"{format_path(base)}.{dotted}", msg)
    f, line = locate(lines, ("policies", i), file)
    what = f"{format_path(inner)}: " if inner else ""
    return (f, line, format_path(("policies", i)), f"after this policy, {what}{msg}")
