"""The bounds of every number a scenario holds, and the number types built on them.

Every number a scenario holds is bounded, so that a value that validates cannot break
or hang a run: no step shorter than a second, no rate above MAX_RATE a year, no count
above MAX_PEOPLE. Whether a valid scenario is too big for the machine is a separate
question, answered before a run by sim.limits.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "MAX_DATE", "MAX_DAYS", "MAX_DURATION_DAYS", "MAX_FACTOR", "MAX_FOLLOW_UP_DAYS",
    "MAX_GBP", "MAX_PEOPLE", "MAX_RATE", "MAX_REPLICATIONS", "MAX_SEED", "MAX_YEARS",
    "MIN_DATE", "NAME_PATTERN", "SECOND_DAYS", "SUM_TOLERANCE",
    "Count", "Date", "Days", "Factor", "Money", "Per100PY", "PerYear", "Probability",
    "StepDays",
]

SECOND_DAYS = 1 / 86_400
"""One second, in days: the shortest duration or step a scenario may give."""
MAX_DAYS = 36_525.0
"""The longest duration a scenario may give directly (100 years), in days."""
MAX_DURATION_DAYS = 1e6
"""The largest scale of a declared duration distribution, in days."""
MAX_RATE = 1_000.0
"""Largest hazard, in events per person-year (about three a day)."""
MAX_PEOPLE = 10_000_000
"""Largest count of people (population, incidence a year, places, staff)."""
MAX_GBP = 1e12
"""Largest amount of money, in pounds."""
MAX_FACTOR = 1_000.0
"""Largest multiplier of a rate or share."""
MAX_YEARS = 200
"""Longest run, in reporting years (and warm-up years)."""
MAX_FOLLOW_UP_DAYS = 3_650.0
"""Longest follow-up after the last reporting year, in days."""
MAX_REPLICATIONS = 100_000
"""Most replications of a run (or of one point of a sweep)."""
MAX_SEED = 2**63 - 1
"""Largest seed (seeds are non-negative 64-bit integers)."""
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2200, 12, 31)
"""Dates (start and policies) lie in this range."""
SUM_TOLERANCE = 1e-6
"""How far from 1 shares may sum (a share of 1, no unit)."""

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""A scenario's (or a sweep's) name: it names the output folder, so 1 to 64 letters,
digits, ``_`` and ``-`` (never ``.``, ``..``, a path or an empty name)."""

Probability = Annotated[float, Field(ge=0, le=1)]
PerYear = Annotated[float, Field(ge=0, le=MAX_RATE)]
"""Events per person-year."""
Per100PY = Annotated[float, Field(ge=0, le=100 * MAX_RATE)]
"""Deaths per 100 person-years."""
Money = Annotated[float, Field(ge=0, le=MAX_GBP)]
"""Pounds."""
Days = Annotated[float, Field(ge=0, le=MAX_DAYS)]
"""A duration in days, zero allowed."""
StepDays = Annotated[float, Field(ge=SECOND_DAYS, le=MAX_DAYS)]
"""A duration in days of at least one second."""
Factor = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
"""A positive multiplier."""
Count = Annotated[int, Field(ge=0, le=MAX_PEOPLE)]
"""A count of people or places."""


def _date_input(v: Any) -> Any:
    """Dates come as YAML dates or ISO text; a number is not a date (pydantic would read
    it as seconds since 1970)."""
    if isinstance(v, bool | int | float):
        raise PydanticCustomError("date_type", "expected a date")
    return v


Date = Annotated[dt.date, BeforeValidator(_date_input),
                 Field(strict=False, ge=MIN_DATE, le=MAX_DATE)]
"""A date between :data:`MIN_DATE` and :data:`MAX_DATE`."""
