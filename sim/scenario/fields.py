"""The building blocks of the scenario sections: the strict base model, shares that sum
to 1, multipliers by attribute level, bounded durations and rates.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..distributions import Distribution
from ..vocab import ATTRIBUTE_LEVELS
from .bounds import (
    MAX_DURATION_DAYS,
    MAX_FACTOR,
    SECOND_DAYS,
    SUM_TOLERANCE,
    Per100PY,
    PerYear,
    StepDays,
)
from .wording import is_number, show_value, yaml_key

__all__ = ["DIST_LIMITS", "DeathRate", "DeathWindow", "Duration", "Multipliers", "Rate",
           "Strict", "never_lasts", "shares"]


class Strict(BaseModel):
    """Base of every scenario section: frozen, unknown keys are errors, and types are
    strict: a number is not text and ``true`` is not a number (an int is a float)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


# --------------------------------------------------------------------------- shares


def _share_checker(levels: Iterable[str], what: str) -> Any:
    """A validator for a mapping of shares over ``levels`` that must sum to 1."""
    allowed = tuple(levels)

    def check(v: Mapping[Any, float]) -> dict[str, float]:
        if not isinstance(v, Mapping):
            raise PydanticCustomError("dict_type", "expected a mapping")
        for k, x in v.items():
            if not is_number(x):
                raise ValueError(f"{yaml_key(k)}: expected a number, got {show_value(x)}")
        out = {yaml_key(k): float(x) for k, x in v.items()}
        unknown = [k for k in out if k not in allowed]
        if unknown:
            raise ValueError(
                f"unknown {what} {unknown[0]!r}; expected some of: {', '.join(allowed)}"
            )
        for k, x in out.items():
            if not (0 <= x <= 1) or math.isnan(x):
                raise ValueError(f"share for {k!r} must be between 0 and 1, got {x}")
        total = sum(out.values())
        if abs(total - 1) > SUM_TOLERANCE:
            terms = " + ".join(f"{k} {x:g}" for k, x in out.items())
            raise ValueError(f"probabilities must sum to 1, got {total:g} ({terms})")
        return out

    return check


def shares(levels: Iterable[str], what: str) -> Any:
    """Annotated type: shares (each 0 to 1) over a subset of ``levels`` summing to 1;
    ``what`` names a level in messages ("unknown substance group 'x'")."""
    return Annotated[dict[str, float], BeforeValidator(_share_checker(levels, what))]


# --------------------------------------------------------------------------- multipliers


def _check_multipliers(v: Mapping[Any, Any]) -> dict[str, dict[str, float]]:
    """Validate ``{attribute: {level: factor}}`` against :data:`ATTRIBUTE_LEVELS`."""
    if not isinstance(v, Mapping):
        raise ValueError("expected a mapping of attribute -> {level: factor}")
    out: dict[str, dict[str, float]] = {}
    for attr, table in v.items():
        attr = yaml_key(attr)
        if attr not in ATTRIBUTE_LEVELS:
            close = difflib.get_close_matches(attr, ATTRIBUTE_LEVELS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown attribute {attr!r}{hint}; known: {', '.join(ATTRIBUTE_LEVELS)}"
            )
        if not isinstance(table, Mapping):
            raise ValueError(f"{attr}: expected a mapping of level -> factor")
        levels = ATTRIBUTE_LEVELS[attr]
        row: dict[str, float] = {}
        for level, factor in table.items():
            level = yaml_key(level)
            if level not in levels:
                raise ValueError(
                    f"{attr}: unknown level {level!r}; expected one of {', '.join(levels)}"
                )
            if not is_number(factor):
                raise ValueError(f"{attr}.{level}: expected a number, got {show_value(factor)}")
            if not 0 <= factor <= MAX_FACTOR:
                raise ValueError(f"{attr}.{level}: factor must be between 0 and "
                                 f"{MAX_FACTOR:g}, got {show_value(factor)}")
            row[level] = float(factor)
        out[attr] = row
    return out


Multipliers = Annotated[dict[str, dict[str, float]], BeforeValidator(_check_multipliers)]
"""``{attribute: {level: factor}}``: factors multiply a rate for people at that level."""


# --------------------------------------------------------------------------- durations

DIST_LIMITS: dict[str, tuple[float, float]] = {
    "mean_days": (SECOND_DAYS, MAX_DURATION_DAYS),
    "scale_days": (SECOND_DAYS, MAX_DURATION_DAYS),
    "sd_days": (SECOND_DAYS, MAX_DURATION_DAYS),
    "shape": (0.05, 1_000.0),
    "days": (0.0, MAX_DURATION_DAYS),
    "weights": (0.0, 1e9),
}
"""Bounds of the numbers of a declared duration distribution (:mod:`sim.distributions`):
no scale below one second (a step of the run), a shape for which the mean and variance
are finite numbers."""


def _dist_numbers(v: Any) -> Any:
    """A distribution's numbers are numbers: ``true`` or ``"7"`` is not a duration."""
    if isinstance(v, Mapping):
        for k, x in v.items():
            if k == "dist" or x is None:
                continue
            for item in x if isinstance(x, list) else [x]:
                if not is_number(item):
                    raise ValueError(f"{yaml_key(k)}: expected a number, got {show_value(item)}")
    return v


def _dist_bounds(d: Any) -> Any:
    """Check the bounds of :data:`DIST_LIMITS`."""
    for name, (low, high) in DIST_LIMITS.items():
        value = getattr(d, name, None)
        for x in value if isinstance(value, list) else [value]:
            if x is not None and not low <= x <= high:
                lo = "one second (1.16e-05 days)" if low == SECOND_DAYS else f"{low:g}"
                raise ValueError(f"{name}: must be between {lo} and {high:g}, got {show_value(x)}")
    return d


def never_lasts(d: Any) -> bool:
    """True for a fixed or empirical duration (days) that is always shorter than a
    second."""
    days = getattr(d, "days", None)
    longest = max(days) if isinstance(days, list) else days
    return longest is not None and longest < SECOND_DAYS


Duration = Annotated[Distribution, BeforeValidator(_dist_numbers), AfterValidator(_dist_bounds)]
"""A declared duration in days (:mod:`sim.distributions`), bounded; a fixed duration
may be zero."""


# --------------------------------------------------------------------------- rates


class Rate(Strict):
    """A hazard in events per person-year, optionally varying by attribute."""

    per_year: PerYear = 0.0
    multipliers: Multipliers = Field(default_factory=dict)


class DeathRate(Strict):
    """A mortality hazard in deaths per 100 person-years."""

    per_100_person_years: Per100PY = 0.0


class DeathWindow(Strict):
    """Raised mortality for the first ``until_day`` days after leaving treatment."""

    until_day: StepDays
    per_100_person_years: Per100PY
