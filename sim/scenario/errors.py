"""Scenario errors: :class:`ScenarioError`, finding the line of a key path, and putting
pydantic's validation errors into short sentences.

Each problem names the file, the line and the key path, e.g.
``scenarios/x.yaml:23: keyworkers.caseload_cap: must be at least 1, got 0``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from .bounds import MAX_DATE, MIN_DATE, NAME_PATTERN, SECOND_DAYS
from .models import Scenario
from .wording import DECIMAL_FLOAT, DECIMAL_INT, Lines, Problem, inline, show_text, show_value

__all__ = ["EXPLAIN", "MAX_PROBLEMS", "ScenarioError", "allowed_keys", "describe_error",
           "format_path", "locate", "unique_problems", "validation_error", "yaml_loc"]

MAX_PROBLEMS = 20
"""Most problems listed in one error; the rest are counted."""
EXPLAIN = 5 * MAX_PROBLEMS
"""Most validation errors of one file put into words (a file of 20,000 unknown keys is
not worth 20,000 "did you mean" searches); the rest are counted."""


class ScenarioError(Exception):
    """One or more problems in a scenario file, each with its file, line and key path."""

    def __init__(self, problems: list[tuple[str, int | None, str, str]], more: int = 0
                 ) -> None:
        self.problems = problems
        self.more = more  # problems found but not explained (beyond EXPLAIN)
        super().__init__(self.message())

    def message(self) -> str:
        """The whole error as one paragraph: one line per problem (at most
        :data:`MAX_PROBLEMS`, then how many more), control characters escaped."""
        lines = []
        for file, line, key, msg in self.problems[:MAX_PROBLEMS]:
            where = inline(f"{file}:{line}" if line else file)
            text = f"{where}: {inline(key)}: {inline(msg)}" if key else \
                f"{where}: {inline(msg)}"
            lines.append(text if len(text) <= 600 else text[:597] + "...")
        more = len(self.problems) - MAX_PROBLEMS + self.more
        if more > 0 and self.problems:
            file = inline(self.problems[min(MAX_PROBLEMS, len(self.problems) - 1)][0])
            lines.append(f"{file}: and {more} more problem{'s' if more > 1 else ''}")
        return "\n".join(lines)


def locate(lines: Lines, loc: tuple[Any, ...], file: str) -> tuple[str, int | None]:
    """(file, line) of key path ``loc``: the line of its deepest key found in ``lines``
    (walking up the path), or ``(file, None)`` when none is."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return (file, None)


def unique_problems(problems: list[Problem]) -> list[Problem]:
    """``problems`` without repeats, in order."""
    return list(dict.fromkeys(problems))


def format_path(loc: Iterable[Any]) -> str:
    """A key path as messages write it: ``policies[0].set.keyworkers``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _wrapper_name(part: Any) -> bool:
    """True for a pydantic validator-wrapper segment of an error's loc."""
    return isinstance(part, str) and ("[" in part or "function" in part)


def yaml_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """A pydantic error's loc as the YAML keys of ``data`` spell it: union-tag segments
    (``weibull``) and validator wrappers dropped, ``self_`` given as ``self``."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                out.append(part)
                node = node[part]
                continue
            if part == "self_" and "self" in node:
                out.append("self")
                node = node["self"]
                continue
            if isinstance(part, str) and node.get("dist") == part:
                continue  # discriminator tag
            if _wrapper_name(part):
                continue
            out.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        else:
            if _wrapper_name(part):
                continue
            out.append(part)
            node = None
    return tuple(out)


def allowed_keys(loc: tuple[Any, ...], data: Any = None, root: Any = None) -> list[str]:
    """Keys allowed at ``loc`` (for "did you mean"), best effort.

    ``data`` (the YAML content) picks the distribution model from its ``dist`` key;
    ``root`` is the model of the whole file (default :class:`Scenario`).
    """
    tp: Any = root or Scenario
    node = data
    for part in loc:
        tp = _model_of(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next(
                (f for n, f in tp.model_fields.items() if (f.alias or n) == part), None
            )
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
        else:
            return []
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    tp = _model_of(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _model_of(tp: Any, node: Any = None) -> Any:
    """Strip ``Annotated`` and ``Optional``; pick a distribution model by ``node["dist"]``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(models) > 1:
                tag = node.get("dist") if isinstance(node, dict) else None
                for m in models:
                    field = m.model_fields.get("dist")
                    if field is not None and tag in typing.get_args(field.annotation):
                        return m
                return None
            tp = models[0] if models else args[0]
        else:
            return tp


# --------------------------------------------------------------------------- wording


def _number_hint(got: Any) -> str:
    """Why text given for a number is not one (YAML 1.1 habits, quotes)."""
    if not isinstance(got, str):
        return ""
    t = got.strip()
    if re.fullmatch(r"[-+]?0[0-9_]+(\.[0-9_]*)?", t):
        return "; a number cannot start with 0 (YAML 1.1 reads 040 as 32, octal)"
    if re.fullmatch(r"[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?", t):
        return "; YAML 1.1 reads 1:30 as 90 (base 60): write the number itself"
    if re.fullmatch(r"[-+]?0[xXbBoO][0-9a-fA-F_]+", t):
        return "; write numbers in decimal"
    if DECIMAL_INT.match(t) or DECIMAL_FLOAT.match(t):
        return "; it is quoted text: remove the quotes"
    return ""


_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("greater than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}


def _bound_text(kind: str, ctx: Mapping[str, Any], got: Any) -> str:
    """"must be at least 1, got 0" for a pydantic bound error."""
    words, name = _BOUNDS[kind]
    limit = ctx.get(name)
    if isinstance(got, dt.date):  # pydantic gives a date bound as text
        limit = MAX_DATE if name in ("le", "lt") else MIN_DATE
    text = "one second (1.16e-05 days)" if limit == SECOND_DAYS else \
        f"{limit:g}" if isinstance(limit, float) else show_value(limit)
    return f"must be {words} {text}, got {show_value(got)}"


def _unknown_key(loc: tuple[Any, ...], data: Any, root: Any) -> str:
    """"unknown key (did you mean 'x'?)", or the keys that are allowed there."""
    allowed = allowed_keys(loc[:-1], data, root)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = f"; expected one of: {', '.join(allowed)}" if allowed and not close else ""
    return f"unknown key{hint}{known}"


def _unknown_distribution(ctx: Mapping[str, Any]) -> str:
    """A ``dist`` that names no distribution."""
    names = [t.strip(" '\"") for t in str(ctx.get("expected_tags", "")).split(",")]
    tag = str(ctx.get("tag"))
    close = difflib.get_close_matches(tag, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"unknown distribution {show_text(tag)}{hint}; dist must be one of: "
            f"{', '.join(names)}")


def _scalar_problem(kind: str, ctx: Mapping[str, Any], got: Any) -> str | None:
    """The sentence for an error about one value (a number, a date, a name), or None."""
    shown_got = show_value(got)
    if kind in _BOUNDS:
        return _bound_text(kind, ctx, got)
    if kind == "int_type" and isinstance(got, float) or kind == "int_from_float":
        return f"expected a whole number, got {shown_got}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return f"expected a number, got {shown_got}{_number_hint(got)}"
    if kind == "finite_number":
        return f"expected a finite number, got {shown_got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {shown_got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {shown_got}"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"expected a date like 2022-12-06, got {shown_got}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return ("must be 1 to 64 letters, digits, '_' or '-' (it names the output folder), "
                f"got {shown_got}")
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}, got {shown_got}"
    return None


def _shape_problem(kind: str, ctx: Mapping[str, Any], got: Any) -> str | None:
    """The sentence for an error about the kind of a value (a mapping, a list, text), or
    None."""
    typed = "nothing (an empty value)" if got is None else \
        f"{type(got).__name__} {show_text(repr(got))}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {typed}"
    if kind == "list_type":
        return f"expected a list, got {typed}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return (f"has {ctx.get('actual_length', 'too many')} items; at most "
                f"{ctx.get('max_length')} are allowed")
    if kind == "string_type":
        return f"expected text, got {show_value(got)}"
    return None


def describe_error(err: Mapping[str, Any], loc: tuple[Any, ...], data: Any = None,
                   root: Any = None) -> str:
    """Turn one pydantic error into a short sentence.

    :param loc: the error's key path (:func:`yaml_loc`).
    :param data: the YAML content (for the keys allowed at an unknown key).
    :param root: the model of the whole file (default :class:`Scenario`).
    """
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(loc, data, root)
    if kind == "union_tag_invalid":
        return _unknown_distribution(ctx)
    if kind == "union_tag_not_found":
        return "a distribution needs a 'dist' key: exponential, weibull, lognormal, gamma, " \
               "fixed or empirical"
    text = _scalar_problem(kind, ctx, got) or _shape_problem(kind, ctx, got)
    if text is not None:
        return text
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {show_value(got)}"


def validation_error(exc: ValidationError, data: Mapping[str, Any], lines: Lines, file: str,
                     root: type[BaseModel]) -> ScenarioError:
    """Turn a pydantic error on a YAML file's ``root`` model into a :class:`ScenarioError`."""
    problems = []
    errors = exc.errors()
    for err in errors[:EXPLAIN]:
        loc = yaml_loc(tuple(err["loc"]), data)
        f, line = locate(lines, loc, file)
        problems.append((f, line, format_path(loc), describe_error(err, loc, data, root)))
    return ScenarioError(unique_problems(problems), more=len(errors[EXPLAIN:]))
