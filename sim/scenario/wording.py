"""How values from a YAML file are spelled and shown in messages.

The lowest module of :mod:`sim.scenario`: the YAML 1.2 spelling of a decimal number, a
mapping key as text, a value as a message shows it, and the shapes of a line map and of
a problem, which every later module builds on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ..text import printable

__all__ = ["DECIMAL_FLOAT", "DECIMAL_INT", "Lines", "Problem", "inline", "is_number",
           "show_text", "show_value", "yaml_key"]

Lines = dict[tuple[Any, ...], tuple[str, int]]
"""Key path (``("keyworkers", "staff")``, list items by index) -> (file, line)."""
Problem = tuple[str, int | None, str, str]
"""One problem: (file, line or None, key path, message)."""

DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
"""A whole number as YAML 1.2 spells it (``12``, ``-3``, ``1_000``; not ``040``)."""
DECIMAL_FLOAT = re.compile(r"^[-+]?(?:(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?"
                           r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$|^[-+]?\.(?:inf|Inf|INF)$"
                           r"|^\.(?:nan|NaN|NAN)$")
"""A decimal number as YAML 1.2 spells it (``-0.5``, ``1e-3``, ``.inf``; not ``1:30``)."""


def inline(text: object) -> str:
    """:func:`printable`, newlines and tabs escaped too: one line of a message."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def yaml_key(value: object) -> str:
    """Normalise a YAML mapping key (``true`` parses as a bool) to its string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_number(x: object) -> bool:
    """True for an int or a float, never a bool."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def show_text(text: str, limit: int = 60) -> str:
    """``repr`` of user text, cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def show_value(x: Any) -> str:
    """A value as a message shows it: short, YAML's spelling of true/false, dates as
    dates, long text and huge numbers cut."""
    if x is None:
        return "nothing (an empty value)"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x) if x.bit_length() <= 80 else f"a number of {len(str(x)[:5000]):,}+ digits"
    if isinstance(x, float):
        return f"{x:.1f}" if x.is_integer() and abs(x) < 1e15 else f"{x:g}"
    if isinstance(x, dt.date):
        return x.isoformat()
    if isinstance(x, str):
        return show_text(x)
    if isinstance(x, Mapping):
        return "a mapping"
    if isinstance(x, list | tuple):
        return f"a list of {len(x)} item{'s' if len(x) != 1 else ''}"
    return f"{type(x).__name__} {show_text(repr(x))}"
