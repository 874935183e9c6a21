"""Scenario files: the pydantic models of the YAML, the loader and the JSON Schema.

A scenario is one YAML file (or a short file that ``extends`` another and overrides a
few keys). It is validated once, at load, into a frozen :class:`Scenario`; the model
never sees raw YAML. Every key is declared here with its unit: rates are
``per_year``, durations are declared distributions in days (see
:mod:`sim.distributions`), deaths are ``per_100_person_years``, money is ``_gbp``.

Errors are collected into one :class:`ScenarioError` whose lines each name the file,
the line and the key path, e.g.
``scenarios/x.yaml:23: keyworkers.caseload_cap: must be at least 1, got 0``.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import math
import os
import re
import stat
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .distributions import Distribution
from .text import printable

__all__ = [
    "ATTRIBUTE_LEVELS",
    "MODALITIES",
    "Scenario",
    "ScenarioError",
    "is_sweep_file",
    "json_schema",
    "load_scenario",
    "parse_scenario",
    "scenario_warnings",
]

# --------------------------------------------------------------------------- vocabulary

SUBSTANCES = ("opiate", "opiate_crack", "crack", "non_opiate")
"""Substance groups, as NDTMS groups them."""
MODALITIES = ("ost", "psychosocial", "hat", "detox", "rehab")
"""Treatment modalities a person can be in (one at a time)."""
SOURCES = ("self", "gp", "criminal_justice", "prison_release")
"""Referral sources."""
ATTRIBUTE_LEVELS: dict[str, tuple[str, ...]] = {
    "substance": SUBSTANCES,
    "sex": ("male", "female"),
    "age_band": ("18-29", "30-49", "50+"),
    "injecting": ("true", "false"),
    "mental_health": ("true", "false"),
    "housing_need": ("true", "false"),
    "previously_treated": ("true", "false"),
    "source": SOURCES,
    "ost_setting": ("specialist", "gp_shared_care"),
    "ost_formulation": ("oral", "long_acting_injectable"),
}
"""Attributes a parameter may depend on (through ``multipliers``), with their levels."""

SUM_TOLERANCE = 1e-6

# --------------------------------------------------------------------------- bounds
#
# Every number a scenario holds is bounded, so that a value that validates cannot break
# or hang a run: no step shorter than a second, no rate above MAX_RATE a year, no count
# above MAX_PEOPLE. Whether a valid scenario is too big for the machine is a separate
# question, answered before a run by sim.limits.

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

MAX_FILE_BYTES = 1 << 20
"""Largest YAML file read (1 MiB)."""
MAX_NODES = 50_000
"""Most values (keys, scalars, lists, mappings) in one YAML file, each use of an alias
counted in full."""
MAX_DEPTH = 40
"""Deepest nesting of lists and mappings in one YAML file."""
MAX_EXTENDS = 16
"""Longest chain of ``extends``."""
MAX_PROBLEMS = 20
"""Most problems listed in one error; the rest are counted."""
EXPLAIN = 5 * MAX_PROBLEMS
"""Most validation errors of one file put into words (a file of 20,000 unknown keys is
not worth 20,000 "did you mean" searches); the rest are counted."""

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

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""A scenario's (or a sweep's) name: it names the output folder, so 1 to 64 letters,
digits, ``_`` and ``-`` (never ``.``, ``..``, a path or an empty name)."""


class Strict(BaseModel):
    """Base of every scenario section: frozen, unknown keys are errors, and types are
    strict: a number is not text and ``true`` is not a number (an int is a float)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def _inline(text: object) -> str:
    """:func:`printable`, newlines and tabs escaped too: one line of a message."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def _key(value: object) -> str:
    """Normalise a YAML mapping key (``true`` parses as a bool) to its string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _shares(levels: Iterable[str], what: str) -> Any:
    """A validator for a mapping of shares over ``levels`` that must sum to 1."""
    allowed = tuple(levels)

    def check(v: Mapping[Any, float]) -> dict[str, float]:
        if not isinstance(v, Mapping):
            raise PydanticCustomError("dict_type", "expected a mapping")
        for k, x in v.items():
            if not _is_number(x):
                raise ValueError(f"{_key(k)}: expected a number, got {_shown(x)}")
        out = {_key(k): float(x) for k, x in v.items()}
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


def _branch(levels: Iterable[str], what: str) -> Any:
    """Annotated type: shares over a subset of ``levels`` summing to 1."""
    from pydantic import BeforeValidator

    return Annotated[dict[str, float], BeforeValidator(_shares(levels, what))]


# --------------------------------------------------------------------------- rates


def _check_multipliers(v: Mapping[Any, Any]) -> dict[str, dict[str, float]]:
    if not isinstance(v, Mapping):
        raise ValueError("expected a mapping of attribute -> {level: factor}")
    out: dict[str, dict[str, float]] = {}
    for attr, table in v.items():
        attr = _key(attr)
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
            level = _key(level)
            if level not in levels:
                raise ValueError(
                    f"{attr}: unknown level {level!r}; expected one of {', '.join(levels)}"
                )
            if not _is_number(factor):
                raise ValueError(f"{attr}.{level}: expected a number, got {_shown(factor)}")
            if not 0 <= factor <= MAX_FACTOR:
                raise ValueError(f"{attr}.{level}: factor must be between 0 and "
                                 f"{MAX_FACTOR:g}, got {_shown(factor)}")
            row[level] = float(factor)
        out[attr] = row
    return out


def _multipliers_type() -> Any:
    from pydantic import BeforeValidator

    return Annotated[dict[str, dict[str, float]], BeforeValidator(_check_multipliers)]


Multipliers = _multipliers_type()
"""``{attribute: {level: factor}}``: factors multiply a rate for people at that level."""


# --------------------------------------------------------------------------- durations

_DIST_LIMITS: dict[str, tuple[float, float]] = {
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
                if not _is_number(item):
                    raise ValueError(f"{_key(k)}: expected a number, got {_shown(item)}")
    return v


def _dist_bounds(d: Any) -> Any:
    """Check the bounds of :data:`_DIST_LIMITS`."""
    for name, (low, high) in _DIST_LIMITS.items():
        value = getattr(d, name, None)
        for x in value if isinstance(value, list) else [value]:
            if x is not None and not low <= x <= high:
                lo = "one second (1.16e-05 days)" if low == SECOND_DAYS else f"{low:g}"
                raise ValueError(f"{name}: must be between {lo} and {high:g}, got {_shown(x)}")
    return d


def _never_lasts(d: Any) -> bool:
    """True for a fixed or empirical duration that is always shorter than a second."""
    days = getattr(d, "days", None)
    longest = max(days) if isinstance(days, list) else days
    return longest is not None and longest < SECOND_DAYS


Duration = Annotated[Distribution, BeforeValidator(_dist_numbers), AfterValidator(_dist_bounds)]
"""A declared duration in days (:mod:`sim.distributions`), bounded; a fixed duration
may be zero."""


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


# --------------------------------------------------------------------------- sections


class RunSettings(Strict):
    """How long to run and how many replications."""

    start_date: Date
    warmup_years: int = Field(default=2, ge=0, le=MAX_YEARS // 2)
    years: int = Field(default=5, ge=1, le=MAX_YEARS,
                       description="reporting years after the warm-up")
    follow_up_days: float = Field(
        default=183, ge=0, le=MAX_FOLLOW_UP_DAYS,
        description="days simulated after the last reporting year so that 6-month "
        "outcomes (re-presentation, deaths after exit) of its exits are observed",
    )
    replications: int = Field(default=10, ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(default=1, ge=0, le=MAX_SEED)

    @property
    def horizon_days(self) -> float:
        """Days from start to the end of the last reporting year."""
        return 365.0 * (self.warmup_years + self.years)


class Attributes(Strict):
    """Shares of the attributes drawn for each new person."""

    substance: _branch(SUBSTANCES, "substance group")
    sex: _branch(("male", "female"), "sex")
    age_band: _branch(ATTRIBUTE_LEVELS["age_band"], "age band")
    injecting: dict[Literal["opiate", "opiate_crack", "crack", "non_opiate"], Probability] = Field(
        description="probability of injecting, by substance group"
    )
    mental_health: Probability = Field(description="share with co-occurring mental-health need")
    housing_need: Probability = Field(description="share with acute housing need")

    @field_validator("injecting")
    @classmethod
    def _all_groups(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [s for s in SUBSTANCES if s not in v]
        if missing:
            raise ValueError(f"give a probability for every substance group; missing {missing}")
        return v


class InitialPopulation(Strict):
    """Who is there on the start date."""

    community: Count = Field(description="people using, not in treatment")
    previously_treated_share: Probability = Field(
        default=0.5, description="share of the community who have been in treatment before"
    )
    in_treatment: Count
    time_in_treatment: Duration = Field(
        description="days the initial treatment population has already been in treatment"
    )
    substance: _branch(SUBSTANCES, "substance group") | None = Field(
        default=None,
        description="substance shares of the initial treatment population "
        "(default: population.attributes.substance)",
    )


class Community(Strict):
    """Hazards for people using drugs and not in treatment."""

    cessation: Rate = Field(default_factory=Rate, description="natural cessation")
    moving_away: Rate = Field(default_factory=Rate)
    custody: Rate = Field(default_factory=Rate, description="entering prison")
    custody_duration: Duration | None = Field(
        default=None, description="days in custody (needed when any custody rate is above 0)"
    )


class Population(Strict):
    """The population with problem drug use."""

    initial: InitialPopulation
    incidence_per_year: float = Field(ge=0, le=MAX_PEOPLE,
                                      description="new people starting problem use a year")
    attributes: Attributes
    community: Community = Field(default_factory=Community)


class PrisonRelease(Rate):
    """Referral on release from prison, active for ``window_days`` after release."""

    window_days: StepDays = 28.0


class Referral(Strict):
    """Referral hazards from the community, by source (per person-year)."""

    self_: Rate = Field(alias="self")
    gp: Rate
    criminal_justice: Rate
    prison_release: PrisonRelease = Field(default_factory=PrisonRelease)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)


class Triage(Strict):
    """Assessment of everyone referred."""

    capacity_per_week: int | None = Field(
        default=None, ge=1, le=MAX_PEOPLE, description="assessments a week; none means no limit"
    )
    triaged_only: Probability = Field(description="share assessed who do not start treatment")
    cost_per_assessment_gbp: Money = 0.0


class Pressure(Strict):
    """How caseload per keyworker scales drop-out and completion (interpolated)."""

    caseload: list[Annotated[float, Field(gt=0, le=MAX_PEOPLE)]] = Field(
        default_factory=lambda: [40.0], min_length=1, max_length=100)
    dropout_multiplier: list[Factor] = Field(default_factory=lambda: [1.0], min_length=1,
                                             max_length=100)
    completion_multiplier: list[Factor] = Field(default_factory=lambda: [1.0], min_length=1,
                                                max_length=100)

    @model_validator(mode="after")
    def _aligned(self) -> Pressure:
        n = len(self.caseload)
        if len(self.dropout_multiplier) != n or len(self.completion_multiplier) != n:
            raise ValueError(
                "caseload, dropout_multiplier and completion_multiplier must have the same length"
            )
        if any(b <= a for a, b in zip(self.caseload, self.caseload[1:], strict=False)):
            raise ValueError("caseload points must be strictly increasing")
        return self


class Keyworkers(Strict):
    """Keyworkers: every person in treatment holds a place on a caseload."""

    mode: Literal["queue", "pressure"]
    staff: float = Field(gt=0, le=1e6, description="keyworkers (full-time equivalents)")
    caseload_cap: int = Field(default=40, ge=1, le=10_000,
                              description="places per keyworker in queue mode")
    pressure: Pressure = Field(default_factory=Pressure)
    waiting_abandonment: Rate = Field(
        default_factory=Rate, description="hazard of giving up while waiting for a place"
    )
    cost_per_worker_per_year_gbp: Money = 0.0


class Review(Strict):
    """What happens at each 12-weekly review; ``continue`` absorbs any rescaling."""

    probabilities: _branch(
        ("continue", "planned_exit", "ost", "psychosocial", "hat", "detox", "rehab"), "review outcome"
    )
    planned_exit_multipliers: Multipliers = Field(default_factory=dict)
    planned_exit_by_review: list[Annotated[float, Field(ge=0, le=MAX_FACTOR)]] = Field(
        default_factory=list, max_length=1_000,
        description="multipliers of the planned-exit share at the 1st, 2nd, ... review of "
        "a stay in this modality; reviews after the list use the share as given",
    )


class OST(Strict):
    """Opioid substitution treatment."""

    setting: _branch(("specialist", "gp_shared_care"), "OST setting")
    formulation: _branch(("oral", "long_acting_injectable"), "OST formulation")
    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: Money = 0.0
    long_acting_cost_per_day_gbp: Money = 0.0


class Psychosocial(Strict):
    """Structured keyworking without prescribing."""

    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: Money = 0.0


class HAT(Strict):
    """Heroin/diamorphine-assisted treatment clinic."""

    open: bool = True
    places: Count = 0
    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    fixed_cost_per_year_gbp: Money = 0.0
    medicine_cost_per_place_per_day_gbp: Money = 0.0
    medicine_block_days: float = Field(
        default=182.0, ge=1, le=MAX_DAYS,
        description="medicine is bought for every place in blocks of this length (at least "
        "a day: a block is an event of the run)"
    )


_END = ("planned_exit", "dropout", "ost", "psychosocial", "rehab")


class Detox(Strict):
    """Community and inpatient detoxification."""

    inpatient_share: Probability = 0.0
    inpatient_beds: Count = 0
    bed_wait_max_days: Days = Field(
        default=28.0, description="days to wait for a bed before detoxing in the community"
    )
    community_duration: Duration
    inpatient_duration: Duration
    community_outcome: _branch(_END, "detox outcome")
    inpatient_outcome: _branch(_END, "detox outcome")
    community_cost_per_day_gbp: Money = 0.0
    inpatient_cost_per_day_gbp: Money = 0.0


class Rehab(Strict):
    """Residential rehabilitation placements bought from an annual budget."""

    open: bool = True
    budget_per_year_gbp: Money = Field(description="resets each financial year (1 April)")
    price_per_week_gbp: float = Field(ge=0.01, le=MAX_GBP)
    duration: Duration
    outcome: _branch(("planned_exit", "dropout", "ost", "psychosocial"), "rehab outcome")


class Modalities(Strict):
    """Every treatment modality."""

    ost: OST
    psychosocial: Psychosocial
    hat: HAT
    detox: Detox
    rehab: Rehab


class Exits(Strict):
    """Transfers out of treatment."""

    transfer: Rate = Field(default_factory=Rate)
    transfer_custody_share: Probability = Field(
        default=0.5, description="share of transfers that are into custody (the rest move away)"
    )


class Mortality(Strict):
    """Deaths per 100 person-years, by where the person is."""

    community: DeathRate = Field(default_factory=DeathRate)
    in_treatment: dict[Literal["ost", "psychosocial", "hat", "detox", "rehab"], Per100PY] = (
        Field(default_factory=dict, description="per 100 person-years, by modality")
    )
    ost_induction: DeathRate = Field(default_factory=DeathRate)
    ost_induction_days: Days = 14.0
    after_exit: list[DeathWindow] = Field(
        default_factory=list, max_length=100,
        description="raised mortality in the weeks after leaving treatment",
    )
    after_treatment: DeathRate = Field(
        default_factory=DeathRate, description="people not using (after treatment or recovered)"
    )
    multipliers: Multipliers = Field(default_factory=dict)

    @field_validator("after_exit")
    @classmethod
    def _increasing(cls, v: list[DeathWindow]) -> list[DeathWindow]:
        days = [w.until_day for w in v]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("after_exit windows must have strictly increasing until_day")
        return v


class Relapse(Strict):
    """Relapse after a planned exit, and sustained recovery."""

    time_to_relapse: Duration
    multipliers: Multipliers = Field(default_factory=dict)
    sustained_recovery_days: StepDays = Field(
        default=730.0, description="days without relapse after which a person counts as recovered"
    )
    return_to_treatment: Probability = Field(
        default=0.0,
        description="share of relapses that come straight back to treatment (self-referral); "
        "the rest return to the community and its referral hazards",
    )

    @model_validator(mode="after")
    def _time_passes(self) -> Relapse:
        if self.return_to_treatment > 0 and _never_lasts(self.time_to_relapse):
            raise ValueError("time_to_relapse: a relapse that can come straight back to "
                             "treatment (return_to_treatment above 0) must take at least one "
                             "second, or a person could loop without time passing")
        return self


CLOSABLE = ("hat", "rehab")
TRANSITION_TARGETS = ("ost", "ost_long_acting", "psychosocial", "detox", "rehab", "planned_exit")


class Policy(Strict):
    """A timed change: set parameters, or open or close a service, on a date."""

    date: Date
    note: str = ""
    set: dict[str, Any] = Field(default_factory=dict)
    close: Literal["hat", "rehab"] | None = None
    open: Literal["hat", "rehab"] | None = None
    transition: _branch(TRANSITION_TARGETS, "transition target") | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if not (self.set or self.close or self.open):
            raise ValueError("a policy needs at least one of set, close or open")
        if self.close and self.open:
            raise ValueError("a policy cannot both open and close a service")
        if self.close and self.transition is None:
            raise ValueError(
                f"closing {self.close} needs a transition plan: shares of its patients "
                f"moving to {', '.join(TRANSITION_TARGETS)}"
            )
        if self.transition is not None and not self.close:
            raise ValueError("transition is only used when closing a service")
        if self.close and self.transition and self.transition.get(self.close, 0) > 0:
            raise ValueError(f"a transition plan cannot move people into {self.close}, which closes")
        return self


class Scenario(Strict):
    """A whole, validated scenario. Build with :func:`load_scenario` or :func:`parse_scenario`."""

    name: str = Field(default="scenario", pattern=NAME_PATTERN,
                      description="letters, digits, _ and - (it names the output folder)")
    description: str = ""
    run: RunSettings
    population: Population
    referral: Referral
    triage: Triage
    keyworkers: Keyworkers
    entry: dict[
        Literal["opiate", "opiate_crack", "crack", "non_opiate"],
        _branch(("ost", "psychosocial", "hat", "detox", "rehab"), "modality"),
    ] = Field(description="first modality on starting treatment, by substance group")
    modalities: Modalities
    exits: Exits = Field(default_factory=Exits)
    mortality: Mortality = Field(default_factory=Mortality)
    relapse: Relapse
    extra_costs_per_year_gbp: dict[str, Money] = Field(
        default_factory=dict, max_length=100,
        description="other spending a year by name (e.g. a housing support service), "
        "booked as cost_other_gbp",
    )
    policies: list[Policy] = Field(default_factory=list, max_length=1_000)

    _phases: list[tuple[float, Scenario]] | None = PrivateAttr(default=None)
    _source: tuple[str, Lines] | None = PrivateAttr(default=None)

    @field_validator("entry")
    @classmethod
    def _every_group(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        missing = [s for s in SUBSTANCES if s not in v]
        if missing:
            raise ValueError(f"give an entry route for every substance group; missing {missing}")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        c = self.population.community
        if c.custody_duration is None and (
            c.custody.per_year > 0 or (self.exits.transfer.per_year > 0
                                       and self.exits.transfer_custody_share > 0)
        ):
            raise ValueError(
                "population.community.custody_duration is needed when anyone can enter custody"
            )
        for i, p in enumerate(self.policies):
            if p.date < self.run.start_date:
                raise ValueError(
                    f"policies[{i}].date {p.date} is before run.start_date {self.run.start_date}"
                )
        return self

    # ----------------------------------------------------------------- time helpers

    def day_of(self, date: dt.date) -> float:
        """Days from ``run.start_date`` to ``date``."""
        return float((date - self.run.start_date).days)

    def phases(self) -> list[tuple[float, Scenario]]:
        """The parameters in force over time: ``[(day, scenario), ...]`` from day 0.

        Each policy's ``set``, ``open`` and ``close`` is applied, in date order, to the
        parameters in force before it and the result is validated again, so a policy can
        never produce an invalid scenario.  Raises :class:`PolicyError` otherwise.
        """
        if self._phases is None:
            phases: list[tuple[float, Scenario]] = [(0.0, self)]
            raw = self.model_dump(mode="python", by_alias=True)
            raw["policies"] = []
            order = sorted(range(len(self.policies)), key=lambda i: self.policies[i].date)
            for i in order:
                p = self.policies[i]
                for key, value in p.set.items():
                    try:
                        set_parameter(raw, key, value)
                    except PolicyError as exc:
                        raise PolicyError(i, exc.error, key=key) from None
                for name, flag in ((p.close, False), (p.open, True)):
                    if name:
                        raw["modalities"][name]["open"] = flag
                try:
                    nxt = Scenario.model_validate(raw)
                except ValidationError as exc:
                    raise PolicyError(i, exc) from None
                nxt._phases = []
                phases.append((self.day_of(p.date), nxt))
            self._phases = phases
        return self._phases


class PolicyError(Exception):
    """A policy sets a parameter that does not exist or to a value that is not valid."""

    def __init__(self, index: int, error: ValidationError | str, key: str | None = None) -> None:
        super().__init__(str(error))
        self.index, self.error, self.key = index, error, key


FIXED_KEYS = {"name": "the scenario's name (it names the output folder)",
              "description": "the scenario's description",
              "policies": "the list of policies (give each change as its own policy)"}
"""Top-level keys that no dotted parameter path may set (``run`` is refused too)."""


def _assign(raw: dict[str, Any], dotted: str, value: Any, policy_index: int) -> None:
    """Set ``raw[a][b][c] = value`` for ``dotted = "a.b.c"``; the path must exist."""
    parts = dotted.split(".")
    if parts[0] == "run":
        raise PolicyError(policy_index, "run settings (dates, horizon, seed) cannot change "
                          "during a run", key=dotted)
    if parts[0] in FIXED_KEYS:
        raise PolicyError(policy_index, f"{FIXED_KEYS[parts[0]]} cannot be changed by a "
                          "policy, a sweep or a fit", key=dotted)
    node: Any = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
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
        if last:
            current = node[idx]
            if isinstance(current, int) and not isinstance(current, bool) \
                    and isinstance(value, float) and value.is_integer():
                value = int(value)  # a sweep or a fit moves a count in whole floats
            node[idx] = copy.deepcopy(value)
        else:
            node = node[idx]


_POLICY_SET = re.compile(r"^policies\.(\d+)\.set\.(.+)$")


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
    _assign(raw, dotted, value, policy_index=-1)
    parts = dotted.split(".")
    if len(parts) >= 2 and parts[-2] == "probabilities" and parts[-1] != "continue":
        node: Any = raw
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if "continue" in node:
            node["continue"] = 0.0
            node["continue"] = max(0.0, 1.0 - sum(node.values()))


def get_parameter(raw: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted-path parameter of raw scenario data (as
    :func:`set_parameter` addresses it); the path must exist."""
    m = _POLICY_SET.match(dotted)
    if m:
        return _policy_set(raw, int(m.group(1)), m.group(2), dotted)[m.group(2)]
    node: Any = raw
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


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


def with_parameters(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """``scenario`` with the dotted-path parameters set (:func:`set_parameter`), validated
    again.

    :raises PolicyError: when a path does not exist.
    :raises pydantic.ValidationError: when a value makes the scenario invalid.
    """
    touched = {str(dotted).split(".")[0] for dotted in values}
    raw: dict[str, Any] = {}
    for name, field in Scenario.model_fields.items():
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
    return Scenario.model_validate(raw)


# --------------------------------------------------------------------------- errors


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
            where = _inline(f"{file}:{line}" if line else file)
            text = f"{where}: {_inline(key)}: {_inline(msg)}" if key else \
                f"{where}: {_inline(msg)}"
            lines.append(text if len(text) <= 600 else text[:597] + "...")
        more = len(self.problems) - MAX_PROBLEMS + self.more
        if more > 0 and self.problems:
            file = _inline(self.problems[min(MAX_PROBLEMS, len(self.problems) - 1)][0])
            lines.append(f"{file}: and {more} more problem{'s' if more > 1 else ''}")
        return "\n".join(lines)


def _unique(problems: list[Problem]) -> list[Problem]:
    """``problems`` without repeats, in order."""
    return list(dict.fromkeys(problems))


def _fmt_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _clean_loc(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop pydantic's union-tag segments (``weibull``) so loc follows the YAML keys."""
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
            if isinstance(part, str) and ("[" in part or "function" in part):
                continue  # validator wrapper names
            out.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        else:
            if isinstance(part, str) and ("[" in part or "function" in part):
                continue
            out.append(part)
            node = None
    return tuple(out)


def _allowed_keys(loc: tuple[Any, ...], data: Any = None, root: Any = None) -> list[str]:
    """Keys allowed at ``loc`` (for "did you mean"), best effort.

    ``data`` (the YAML content) picks the distribution model from its ``dist`` key;
    ``root`` is the model of the whole file (default :class:`Scenario`).
    """
    tp: Any = root or Scenario
    node = data
    for part in loc:
        tp = _unwrap(tp, node)
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
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any, node: Any = None) -> Any:
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


def _shown_text(text: str, limit: int = 60) -> str:
    """``repr`` of user text, cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def _shown(x: Any) -> str:
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
        return _shown_text(x)
    if isinstance(x, Mapping):
        return "a mapping"
    if isinstance(x, list | tuple):
        return f"a list of {len(x)} item{'s' if len(x) != 1 else ''}"
    return f"{type(x).__name__} {_shown_text(repr(x))}"


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
    if _DECIMAL_INT.match(t) or _DECIMAL_FLOAT.match(t):
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
        f"{limit:g}" if isinstance(limit, float) else _shown(limit)
    return f"must be {words} {text}, got {_shown(got)}"


def _describe(err: Mapping[str, Any], loc: tuple[Any, ...], data: Any = None,
              root: Any = None) -> str:
    """Turn one pydantic error into a short sentence."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    shown = _shown(got)
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data, root)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"; expected one of: {', '.join(allowed)}" if allowed and not close else ""
        return f"unknown key{hint}{known}"
    if kind in _BOUNDS:
        return _bound_text(kind, ctx, got)
    if kind == "int_type" and isinstance(got, float) or kind == "int_from_float":
        return f"expected a whole number, got {shown}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return f"expected a number, got {shown}{_number_hint(got)}"
    if kind == "finite_number":
        return f"expected a finite number, got {shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {shown}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {shown}"
    if kind == "union_tag_invalid":
        names = [t.strip(" '\"") for t in str(ctx.get("expected_tags", "")).split(",")]
        tag = str(ctx.get("tag"))
        close = difflib.get_close_matches(tag, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (f"unknown distribution {_shown_text(tag)}{hint}; dist must be one of: "
                f"{', '.join(names)}")
    if kind == "union_tag_not_found":
        return "a distribution needs a 'dist' key: exponential, weibull, lognormal, gamma, " \
               "fixed or empirical"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"expected a date like 2022-12-06, got {shown}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return ("must be 1 to 64 letters, digits, '_' or '-' (it names the output folder), "
                f"got {shown}")
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx.get('pattern')}, got {shown}"
    typed = "nothing (an empty value)" if got is None else \
        f"{type(got).__name__} {_shown_text(repr(got))}"
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
        return f"expected text, got {shown}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {shown}"


# --------------------------------------------------------------------------- YAML


Lines = dict[tuple[Any, ...], tuple[str, int]]
Problem = tuple[str, int | None, str, str]
"""One problem: (file, line or None, key path, message)."""

_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL, _STR = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:str"
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "int", "float", "bool", "str", "null", "timestamp", "seq", "map", "merge"))
"""The YAML types a scenario may hold; ``!!python/...``, ``!!binary``, ``!!set`` and
other tags are refused."""


class _Budgets:
    """Mixin of the loaders: a budget of nesting and of nodes while composing."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing nesting deeper than :data:`MAX_DEPTH` (PyYAML
        composes recursively: a very deep file would exhaust the stack) and more than
        :data:`MAX_NODES` nodes as written (aliases are counted in full later)."""
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                line = self.peek_event().start_mark.line + 1  # type: ignore[attr-defined]
                raise _TooMuch(line, f"the file nests lists and mappings more than "
                               f"{MAX_DEPTH} levels deep" if self._depth > MAX_DEPTH else
                               f"the file holds more than {MAX_NODES:,} values")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class _Loader(_Budgets, yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 numbers and booleans, and budgets.

    YAML 1.1 reads ``040`` as 32 (octal), ``1:30`` as 90 (base 60), ``0x10`` as 16 and
    ``yes``/``on`` as true; here they stay text, so a number field given one is an error
    naming the key. Decimal numbers (``12``, ``-0.5``, ``1e-3``, ``1_000``), ``true``,
    ``false`` and dates are read as before.
    """


try:  # libyaml scans and parses five times faster; nodes are still composed in Python
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:
    class _FastLoader(_Budgets, yaml.composer.Composer, _CParser,  # type: ignore[misc]
                      yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """:class:`_Loader` on libyaml's parser (its errors are reported by re-reading
        with :class:`_Loader`, whose messages are clearer)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in (_INT, _FLOAT, _BOOL, "tag:yaml.org,2002:value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_DECIMAL_FLOAT = re.compile(r"^[-+]?(?:(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?"
                            r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$|^[-+]?\.(?:inf|Inf|INF)$"
                            r"|^\.(?:nan|NaN|NAN)$")
_Loader.add_implicit_resolver(_INT, _DECIMAL_INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, _DECIMAL_FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
if _CParser is not None:
    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


class _TooMuch(Exception):
    """A YAML file over one of the loader's budgets (line, message)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node) -> None:
    """Refuse a node graph that is cyclic (an alias inside its own anchor), nests deeper
    than :data:`MAX_DEPTH` or holds more than :data:`MAX_NODES` values once every alias
    is expanded ("billion laughs"). Iterative, memoised: linear in the nodes as written.

    :raises _TooMuch: naming the line of the node where the budget is crossed.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            line = node.start_mark.line + 1
            if size[key] > MAX_NODES:
                raise _TooMuch(line, f"the file holds more than {MAX_NODES:,} values once its "
                               "aliases (*name) are expanded, each use counted in full")
            if depth[key] > MAX_DEPTH:
                raise _TooMuch(line, f"the file nests lists and mappings more than "
                               f"{MAX_DEPTH} levels deep (through aliases)")
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_:
                raise _TooMuch(kid.start_mark.line + 1, "an alias (*name) refers to the "
                               "anchor (&name) it is inside: a recursive structure")
            if id(kid) not in size:
                stack.append((kid, False))


def _scalar(node: yaml.ScalarNode, loader: _Loader) -> Any:
    """A scalar's value. An explicit ``!!int``/``!!float``/``!!bool`` tag on text that
    YAML 1.2 would not read as one (``!!int 040``) keeps the text."""
    if node.tag in (_INT, _FLOAT, _BOOL) and \
            loader.resolve(yaml.ScalarNode, node.value, (True, False)) != node.tag:
        return node.value
    return loader.construct_object(node, deep=True)


def _build(node: yaml.Node, loader: _Loader, path: tuple[Any, ...], file: str,
           lines: Lines, problems: list[Problem]) -> Any:
    """Construct Python data from a YAML node, recording each key path's line.

    ``lines[()]`` is the line of the first key of the file. Duplicate keys and values
    that cannot be read (a date like 2022-02-30) are added to ``problems``.
    """
    if not path:
        lines[()] = (file, node.start_mark.line + 1)
    if node.tag not in _PLAIN_TAGS:
        key = _fmt_path(path[:-1] if path and path[-1] == "<key>" else path)
        problems.append((file, node.start_mark.line + 1, key, f"the YAML tag "
                         f"{_shown_text(node.tag)} is not allowed: a scenario holds plain "
                         "numbers, text, dates, true/false, lists and mappings"))
        return None
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(_build(key_node, loader, (*path, "<key>"), file, {}, problems))
            sub = (*path, key)
            if key in out:
                first = lines.get(sub, (file, None))[1]
                also = f" (first given on line {first})" if first else ""
                problems.append((file, key_node.start_mark.line + 1, _fmt_path(sub),
                                 f"duplicate key{also}"))
                continue
            lines[sub] = (file, key_node.start_mark.line + 1)
            out[key] = _build(value_node, loader, sub, file, lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = (file, item.start_mark.line + 1)
            items.append(_build(item, loader, (*path, i), file, lines, problems))
        return items
    try:
        return _scalar(node, loader)
    except ValueError as exc:  # e.g. a date like 2022-02-30 that matches the date pattern
        key = _fmt_path(path[:-1] if path and path[-1] == "<key>" else path)
        problems.append((file, node.start_mark.line + 1, key,
                         f"invalid value {_shown(node.value)}: {str(exc)[:200]}"))
        return node.value


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _read_text(path: Path, shown: str) -> str:
    """The text of a YAML file: a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8,
    without control characters. Never blocks on a pipe or a device."""
    def fail(line: int | None, msg: str) -> ScenarioError:
        return ScenarioError([(shown, line, "", msg)])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise fail(None, "file not found") from None
    except OSError as exc:
        raise fail(None, f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise fail(None, "is a directory, not a scenario file")
        if not stat.S_ISREG(mode):
            raise fail(None, "is not a regular file (a device, pipe or socket)")
        try:
            raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise fail(None, f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(None, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB, the most a "
                   "scenario, sweep or targets file may be")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(raw[: exc.start].count(b"\n") + 1,
                   "the file is not UTF-8 text; save it as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems: list[Problem] = []
    for m in _CONTROL.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if not problems or problems[-1][1] != line:
            problems.append((shown, line, "", f"control character {_inline(m.group())} in the "
                             "text; a scenario file is plain text (write it as an escape "
                             "such as \"\\e\" inside double quotes)"))
    if problems:
        raise ScenarioError(problems)
    return text


_YAML_HINTS = (
    ("expected ',' or '}'", "is a closing '}' or a comma missing?"),
    ("expected ',' or ']'", "is a closing ']' or a comma missing?"),
    ("expected <block end>", "check the indentation: the keys of one mapping must line up"),
    ("mapping values are not allowed", "check the indentation, or quote a value that "
                                       "contains ': '"),
    ("could not find expected ':'", "check the indentation, or quote a value that spans "
                                    "lines"),
    ("'\\t'", "indent with spaces, not tabs"),
    ("end of stream", "is a closing quote or bracket missing?"),
    ("expected a single document", "only one YAML document (no '---') per file"),
)


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """(line, message) of a PyYAML error: its problem and context, never the snippet of
    the file PyYAML quotes."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = " ".join((exc.problem or "").split()) or "invalid YAML"
    context = " ".join((exc.context or "").split())
    if context and exc.context_mark and exc.context_mark.line + 1 != line:
        context += f" that starts on line {exc.context_mark.line + 1}"
    hint = next((h for pattern, h in _YAML_HINTS if pattern in f"{context} {problem}"), "")
    if problem.startswith("but ") and context:
        msg = f"YAML syntax error: {' '.join((exc.context or '').split())}, {problem}"
    else:
        msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return line, msg + (f"; {hint}" if hint else "")


def _read_yaml(path: Path, shown: str) -> tuple[Any, Lines]:
    """Read one YAML file within the budgets: (data, key path -> (file, line)).

    :raises ScenarioError: naming the file and line of every problem found.
    """
    text = _read_text(path, shown)
    try:
        return _parse(text, shown, _FastLoader if _CParser is not None else _Loader)
    except yaml.MarkedYAMLError:
        try:  # PyYAML's own parser says what is wrong more clearly than libyaml
            return _parse(text, shown, _Loader)
        except yaml.MarkedYAMLError as exc:
            line, msg = _syntax_error(exc)
            raise ScenarioError([(shown, line, "", msg)]) from None


def _parse(text: str, shown: str, kind: type) -> tuple[dict[str, Any], Lines]:
    """Parse YAML ``text`` with the loader class ``kind``.

    :raises yaml.MarkedYAMLError: for a syntax error (for the caller to word).
    :raises ScenarioError: for everything else.
    """
    loader = kind(text)
    lines: Lines = {}
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError([(shown, 1, "", "the file is empty (no keys)")])
        _check_graph(node)
        data = _build(node, loader, (), shown, lines, problems)
    except _TooMuch as exc:
        raise ScenarioError([(shown, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        if isinstance(exc, yaml.MarkedYAMLError):
            raise
        raise ScenarioError([(shown, None, "", f"YAML error ({type(exc).__name__})")]) from None
    finally:
        loader.dispose()
    if problems:
        raise ScenarioError(problems)
    if not isinstance(data, dict):
        kind_of = {list: "a list", str: "text"}.get(type(data), f"a single {type(data).__name__}")
        raise ScenarioError(
            [(shown, lines.get((), (shown, 1))[1], "",
              f"a scenario must be a mapping of 'key: value' lines, got {kind_of}")]
        )
    return data, lines


def _merge(base: dict[str, Any], base_lines: Lines, over: dict[str, Any],
           over_lines: Lines) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``: mappings merge, everything else replaces.

    A mapping that names its ``dist`` is a whole distribution: it replaces the base one
    (so a child can switch, say, weibull to lognormal). The line of every key taken from
    ``over`` (however deep) is moved into ``base_lines``, and the lines of what it
    replaced are dropped.
    """
    replaced: set[tuple[Any, ...]] = set()

    def merge(b: dict[str, Any], o: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
        out = dict(b)
        for key, value in o.items():
            sub = (*path, key)
            if isinstance(value, dict) and isinstance(out.get(key), dict) \
                    and "dist" not in value:
                out[key] = merge(out[key], value, sub)
            else:
                if key in out:
                    replaced.add(sub)
                out[key] = value
        return out

    merged = merge(base, over, ())
    if replaced:
        stale = [k for k in base_lines
                 if any(k[:n] in replaced for n in range(1, len(k) + 1))]
        for k in stale:
            del base_lines[k]
    base_lines.update(over_lines)
    return merged


def _resolve(path: Path) -> Path:
    """``path`` made absolute, links resolved where they can be (a link loop is not)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _display(path: Path) -> str:
    try:
        return str(_resolve(path).relative_to(_resolve(Path.cwd())))
    except ValueError:
        return str(path)


SCENARIO_SUFFIXES = (".yaml", ".yml")


def _referenced(path: Path, shown: str, line: int | None, key: str, ref: Any) -> Path:
    """The file that ``key: ref`` of ``path`` names (relative to ``path``): a ``.yaml``
    regular file that exists; nothing of it is read here.

    :raises ScenarioError: at ``shown:line``, naming ``key``.
    """
    def fail(msg: str) -> ScenarioError:
        return ScenarioError([(shown, line, key, msg)])

    if not isinstance(ref, str) or not ref.strip():
        raise fail(f"expected a file name, got {_shown(ref)}")
    if Path(ref).suffix.lower() not in SCENARIO_SUFFIXES:
        raise fail(f"expected a .yaml file, got {_shown(ref)}")
    target = _resolve(path.parent / ref)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        raise fail(f"file not found: {ref} (looked for {_display(target)})") from None
    except OSError as exc:
        raise fail(f"cannot read {ref}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail(f"not a regular file (a folder, device, pipe or socket): {_display(target)}")
    if info.st_size > MAX_FILE_BYTES:
        raise fail(f"{ref} is larger than {MAX_FILE_BYTES // 1024} KiB, the most a scenario "
                   "file may be")
    return target


TOP_KEYS = frozenset({"extends", "fitted", "$schema"})
"""Top-level keys of a scenario file besides the sections of :class:`Scenario`."""


def _scenario_keys() -> list[str]:
    """The top-level sections of a scenario (as the YAML spells them)."""
    return [f.alias or n for n, f in Scenario.model_fields.items()]


def _looks_like_scenario(data: Mapping[str, Any]) -> bool:
    """A referenced file must have a scenario section (or ``extends``/``fitted``) at its
    top level before its content may appear in messages: a secrets file that happens to
    be a YAML mapping must not be quoted back."""
    return bool(set(data) & (TOP_KEYS | set(_scenario_keys())) - {"name", "description"})


def _load_tree(path: Path, stack: tuple[Path, ...], fitted: bool = True,
               via: tuple[str, int | None] | None = None) -> tuple[dict[str, Any], Lines]:
    """Read ``path`` and, through ``extends``, every file it builds on, merged.

    :param stack: the files that extend this one (to find cycles).
    :param via: (file, line) of the ``extends`` that names this file.
    """
    shown = _display(path)
    data, lines = _read_yaml(path, shown)
    if via is not None and not _looks_like_scenario(data):
        raise ScenarioError([(*via, "extends", f"{_display(path)} is not a scenario file "
                              "(none of its top-level keys is a scenario section)")])
    parent = data.pop("extends", None)
    fitted_file = data.pop("fitted", None)
    if not fitted:
        fitted_file = None
    fitted_line = lines.pop(("fitted",), (shown, None))[1]
    data.pop("$schema", None)
    if parent is None:
        return _apply_fitted(path, shown, data, lines, fitted_file, fitted_line)
    line = lines.get(("extends",), (shown, None))[1]
    target = _referenced(path, shown, line, "extends", parent)
    if target in stack or target == _resolve(path):
        chain = " -> ".join(_display(p) for p in (*stack, _resolve(path), target))
        raise ScenarioError([(shown, line, "extends", f"forms a cycle: {chain}")])
    if len(stack) + 1 >= MAX_EXTENDS:
        raise ScenarioError([(shown, line, "extends", f"a chain of more than {MAX_EXTENDS} "
                              "files extending one another")])
    base, base_lines = _load_tree(target, (*stack, _resolve(path)), fitted, (shown, line))
    for key in ("extends", "$schema"):
        lines.pop((key,), None)
    root = lines.pop((), None)
    merged = _merge(base, base_lines, data, lines)
    if root is not None:
        base_lines[()] = root
    return _apply_fitted(path, shown, merged, base_lines, fitted_file, fitted_line)


def _apply_fitted(path: Path, shown: str, data: dict[str, Any], lines: Lines,
                  fitted: Any, line: int | None) -> tuple[dict[str, Any], Lines]:
    """Apply ``fitted: FILE`` (given on ``line``): the dotted-path ``parameters`` of a
    calibration result, set after everything else in the file (so fitted values win)."""
    if fitted is None:
        return data, lines
    target = _referenced(path, shown, line, "fitted", fitted)
    fshown = _display(target)
    fdata, flines = _read_yaml(target, fshown)
    params = fdata.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ScenarioError([(shown, line, "fitted", f"{fshown} is not a calibration result "
                              "(it has no mapping of 'parameters')")])
    data = copy.deepcopy(data)
    problems: list[Problem] = []
    for key, value in params.items():
        where = flines.get(("parameters", key), (fshown, None))
        try:
            set_parameter(data, key, value)
        except PolicyError as exc:
            problems.append((*where, f"parameters.{key}", str(exc.error)))
            continue
        lines[tuple(int(p) if p.isdigit() else p for p in key.split("."))] = where
    if problems:
        raise ScenarioError(problems)
    return data, lines


def parse_scenario(data: Mapping[str, Any], lines: Lines | None = None,
                   file: str = "<scenario>") -> Scenario:
    """Validate raw scenario data into a :class:`Scenario`, policies included.

    :param data: the merged YAML content.
    :param lines: key path -> (file, line), for error messages.
    :param file: the name shown when a key has no known line.
    :raises ScenarioError: listing every problem with file, line and key path.
    """

    lines = lines or {}

    def where(loc: tuple[Any, ...]) -> tuple[str, int | None]:
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                return lines[loc[:n]]
        return (file, None)

    def at(root: Any, loc: tuple[Any, ...]) -> Any:
        node = root
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return None
        return node

    def refine(loc: tuple[Any, ...], msg: str, root: Any) -> tuple[tuple[Any, ...], str]:
        """Point model-level and table-level errors at the key they are about."""
        if not loc:
            # model-level checks name their own key path first: "a.b[0].c is ..."
            head, _, rest = msg.partition(" ")
            if re.fullmatch(r"[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*", head) \
                    and head.split(".")[0].split("[")[0] in Scenario.model_fields and rest:
                parts: list[Any] = []
                for seg in head.split("."):
                    name, *idx = re.split(r"[\[\]]", seg)
                    parts.append(name)
                    parts.extend(int(i) for i in idx if i)
                return tuple(parts), rest
            return loc, msg
        node = at(root, loc)
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
            sub = (*loc, m.group(1))
            if m.group(2) and isinstance(node[m.group(1)], dict) \
                    and m.group(2) in node[m.group(1)]:
                sub = (*sub, m.group(2))
            return sub, m.group(3)
        if "must sum to 1" in msg:
            here = where(loc)[0]
            inherited = [str(k) for k in node if where((*loc, k))[0] != here]
            if inherited and (*loc, next(iter(node))) in lines:
                src = where((*loc, inherited[0]))[0]
                msg += (f"; {', '.join(inherited)} inherited from {src} "
                        "(set them to 0 to drop them)")
        return loc, msg

    def explain(err: Mapping[str, Any], root: Any) -> tuple[tuple[Any, ...], str]:
        loc = _clean_loc(tuple(err["loc"]), root)
        return refine(loc, _describe(err, loc, root), root)

    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors()
        found = [explain(err, data) for err in errors[:EXPLAIN]]
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
            f, line = where(loc)
            problems.append((f, line, _fmt_path(loc), msg))
        raise ScenarioError(_unique(problems), more=len(errors[EXPLAIN:])) from None
    conflicts = _policy_conflicts(scenario, where)
    if conflicts:
        raise ScenarioError(conflicts)
    try:
        scenario.phases()
    except PolicyError as exc:
        i = exc.index
        base = ("policies", i, "set")
        if isinstance(exc.error, str):
            loc = (*base, exc.key) if exc.key else base
            f, line = where(loc)
            raise ScenarioError([(f, line, _fmt_path(base) + f".{exc.key}", exc.error)]) from None
        # rebuild (roughly) what the policy produced, to name its keys as the YAML does
        raw = scenario.model_dump(mode="python", by_alias=True)
        for key, value in scenario.policies[i].set.items():
            try:
                _assign(raw, key, value, policy_index=i)
            except PolicyError:
                pass
        problems = []
        for err in exc.error.errors()[:EXPLAIN]:
            inner, msg = explain(err, raw)
            dotted = ".".join(str(p) for p in inner)
            key = next((k for k in scenario.policies[i].set
                        if dotted and (dotted == k or dotted.startswith(k + ".")
                                       or k.startswith(dotted + "."))), None)
            if key is not None:
                f, line = where((*base, key))
                problem = (f, line, f"{_fmt_path(base)}.{dotted}", msg)
            else:
                f, line = where(("policies", i))
                what = f"{_fmt_path(inner)}: " if inner else ""
                problem = (f, line, _fmt_path(("policies", i)),
                           f"after this policy, {what}{msg}")
            problems.append(problem)
        raise ScenarioError(_unique(problems)) from None
    scenario._source = (file, dict(lines))
    return scenario


def _policy_conflicts(scenario: Scenario, where: Callable[[tuple[Any, ...]], tuple[str, int | None]]
                      ) -> list[Problem]:
    """Two policies on one day that set the same parameter (or one inside the other, or
    open and close the same service): which would win is not something to leave to the
    order of the file."""
    problems: list[Problem] = []
    taken: dict[tuple[dt.date, str], int] = {}
    inside: dict[tuple[dt.date, str], tuple[int, str]] = {}
    for i, p in enumerate(scenario.policies):
        keys = [(("set", k), k) for k in p.set]
        keys += [((verb,), f"modalities.{name}.open")
                 for verb, name in (("close", p.close), ("open", p.open)) if name]
        for loc, key in keys:
            parts = key.split(".")
            prefixes = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
            clash = next(((j, k) for k in prefixes if (j := taken.get((p.date, k))) is not None
                          and j != i), None) or inside.get((p.date, key))
            if clash is not None and clash[0] != i:
                j, other = clash
                f, line = where(("policies", i, *loc))
                problems.append((f, line, _fmt_path(("policies", i, *loc)),
                                 f"policies[{j}] also changes {other} on {p.date}; give one "
                                 "policy per parameter and day (which would win is not "
                                 "defined)"))
            taken.setdefault((p.date, key), i)
            for k in prefixes[:-1]:
                inside.setdefault((p.date, k), (i, key))
    return problems


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things in a valid scenario that are probably not meant, as ``file:line: key:
    message`` lines (the key path alone where the line is not known): a policy dated
    after the last reporting year, which changes nothing that is reported."""
    file, lines = scenario._source or (scenario.name, {})
    start = scenario.run.start_date
    reporting_end = start + dt.timedelta(days=scenario.run.horizon_days)
    run_end = reporting_end + dt.timedelta(days=scenario.run.follow_up_days)
    out = []
    for i, p in enumerate(scenario.policies):
        if p.date < reporting_end:
            continue
        f, line = lines.get(("policies", i, "date"), lines.get(("policies", i), (file, None)))
        when = "after the run ends" if p.date >= run_end else "in the follow-up after"
        out.append(f"{f}:{line}: " if line else f"{f}: ")
        out[-1] += (f"policies[{i}].date: {p.date} is {when} the last reporting year "
                    f"(which ends {reporting_end - dt.timedelta(days=1)}); this policy "
                    "changes nothing that is reported")
    return [_inline(w) for w in out]


def validation_error(exc: ValidationError, data: Mapping[str, Any], lines: Lines, file: str,
                     root: type[BaseModel]) -> ScenarioError:
    """Turn a pydantic error on a YAML file's ``root`` model into a :class:`ScenarioError`."""
    problems = []
    errors = exc.errors()
    for err in errors[:EXPLAIN]:
        loc = _clean_loc(tuple(err["loc"]), data)
        f, line = file, None
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                f, line = lines[loc[:n]]
                break
        problem = (f, line, _fmt_path(loc), _describe(err, loc, data, root))
        problems.append(problem)
    return ScenarioError(_unique(problems), more=len(errors[EXPLAIN:]))


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_model_file(path: Path, model: type[ModelT]
                    ) -> tuple[ModelT, Callable[..., int | None], str]:
    """Load a YAML file that is not a scenario (a targets or sweep file) into ``model``.

    :returns: (the validated object, ``line_of(*key path)``: the line of the deepest
        key of that path found in the file, the file's name as shown in messages).
    :raises ScenarioError: naming file, line and key of every problem found.
    """
    shown = _display(path)
    data, lines = _read_yaml(path, shown)
    data.pop("$schema", None)
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, shown, model) from None

    def line_of(*loc: Any) -> int | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                return lines[loc[:n]][1]
        return None

    return obj, line_of, shown


def load_referenced_scenario(path: Path, ref: str, line_of: Callable[..., int | None],
                             shown: str, fitted: bool = True) -> Scenario:
    """Load the scenario that the file ``path`` names under its ``scenario`` key as
    ``ref`` (relative to ``path``).

    :raises ScenarioError: if it is missing, is ``path`` itself or another kind of file
        (naming the key's line), or is not a valid scenario.
    """
    line = line_of("scenario")
    target = _referenced(path, shown, line, "scenario", ref)
    if target == _resolve(path):
        raise ScenarioError([(shown, line, "scenario", "names this file itself; it must "
                              "name a scenario file")])
    data, _ = _read_yaml(target, _display(target))
    kind = file_kind(data)
    if kind != "scenario":
        raise ScenarioError([(shown, line, "scenario", f"{ref} is a {kind} file, not a "
                              "scenario")])
    if not _looks_like_scenario(data):
        raise ScenarioError([(shown, line, "scenario", f"{ref} is not a scenario file (none "
                              "of its top-level keys is a scenario section)")])
    return load_scenario(target, fitted=fitted)


def file_kind(data: Mapping[str, Any]) -> str:
    """What a YAML file's top-level mapping is: ``"sweep"``, ``"targets"``,
    ``"calibration result"`` or (anything else) ``"scenario"``."""
    keys = set(data)
    if {"design", "parameters"} <= keys:
        return "sweep"
    if {"targets", "free_parameters"} <= keys:
        return "targets"
    if "parameters" in keys and not keys & set(_scenario_keys()) - {"name"}:
        return "calibration result"
    return "scenario"


def is_sweep_file(path: str | Path) -> bool:
    """True if ``path`` reads (within the loader's budgets) as a sweep file; anything
    unreadable is False, left to the scenario loader to explain. Never blocks or
    recurses deeply, unlike a plain ``yaml.load``."""
    try:
        data, _ = _read_yaml(Path(path), str(path))
    except ScenarioError:
        return False
    return file_kind(data) == "sweep"


def load_scenario(path: str | Path, fitted: bool = True) -> Scenario:
    """Load, merge (``extends``) and validate a scenario YAML file.

    :param fitted: apply ``fitted:`` parameter files (``False`` gives the prior values a
        calibration starts from).
    :raises ScenarioError: naming file, line and key of every problem found.
    """
    path = Path(path)
    data, lines = _load_tree(path, (), fitted)
    return parse_scenario(data, lines, _display(path))


def resolved_yaml(scenario: Scenario) -> str:
    """The fully merged scenario as YAML (what a run actually used)."""
    data = json.loads(scenario.model_dump_json(by_alias=True))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def json_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file, for editors.

    ``required`` lists are removed because a file that ``extends`` a baseline gives only
    a few keys; ``treatsim validate`` checks completeness. Unknown keys stay errors.
    """
    schema = Scenario.model_json_schema(by_alias=True)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("required", None)
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)

    strip(schema)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "a scenario file (relative to this one) that this file overrides",
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "treatsim scenario"
    return schema
