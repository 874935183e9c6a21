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
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .distributions import Distribution

__all__ = [
    "ATTRIBUTE_LEVELS",
    "MODALITIES",
    "Scenario",
    "ScenarioError",
    "json_schema",
    "load_scenario",
    "parse_scenario",
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

Probability = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    """Base of every scenario section: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _key(value: object) -> str:
    """Normalise a YAML mapping key (``true`` parses as a bool) to its string form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shares(levels: Iterable[str], what: str) -> Any:
    """A validator for a mapping of shares over ``levels`` that must sum to 1."""
    allowed = tuple(levels)

    def check(v: Mapping[Any, float]) -> dict[str, float]:
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
            if isinstance(factor, bool) or not isinstance(factor, int | float):
                raise ValueError(f"{attr}.{level}: expected a number, got {factor!r}")
            if factor < 0 or math.isnan(factor) or math.isinf(factor):
                raise ValueError(f"{attr}.{level}: factor must be >= 0, got {factor}")
            row[level] = float(factor)
        out[attr] = row
    return out


def _multipliers_type() -> Any:
    from pydantic import BeforeValidator

    return Annotated[dict[str, dict[str, float]], BeforeValidator(_check_multipliers)]


Multipliers = _multipliers_type()
"""``{attribute: {level: factor}}``: factors multiply a rate for people at that level."""


class Rate(Strict):
    """A hazard in events per person-year, optionally varying by attribute."""

    per_year: NonNegative = 0.0
    multipliers: Multipliers = Field(default_factory=dict)


class DeathRate(Strict):
    """A mortality hazard in deaths per 100 person-years."""

    per_100_person_years: NonNegative = 0.0


class DeathWindow(Strict):
    """Raised mortality for the first ``until_day`` days after leaving treatment."""

    until_day: Positive
    per_100_person_years: NonNegative


# --------------------------------------------------------------------------- sections


class RunSettings(Strict):
    """How long to run and how many replications."""

    start_date: dt.date
    warmup_years: int = Field(default=2, ge=0)
    years: int = Field(default=5, ge=1, description="reporting years after the warm-up")
    follow_up_days: NonNegative = Field(
        default=183,
        description="days simulated after the last reporting year so that 6-month "
        "outcomes (re-presentation, deaths after exit) of its exits are observed",
    )
    replications: int = Field(default=10, ge=1)
    seed: int = Field(default=1, ge=0)

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

    community: int = Field(ge=0, description="people using, not in treatment")
    previously_treated_share: Probability = Field(
        default=0.5, description="share of the community who have been in treatment before"
    )
    in_treatment: int = Field(ge=0)
    time_in_treatment: Distribution = Field(
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
    custody_duration: Distribution | None = Field(
        default=None, description="days in custody (needed when any custody rate is above 0)"
    )


class Population(Strict):
    """The population with problem drug use."""

    initial: InitialPopulation
    incidence_per_year: NonNegative = Field(description="new people starting problem use a year")
    attributes: Attributes
    community: Community = Field(default_factory=Community)


class PrisonRelease(Rate):
    """Referral on release from prison, active for ``window_days`` after release."""

    window_days: Positive = 28.0


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
        default=None, ge=1, description="assessments a week; none means no limit"
    )
    triaged_only: Probability = Field(description="share assessed who do not start treatment")
    cost_per_assessment_gbp: NonNegative = 0.0


class Pressure(Strict):
    """How caseload per keyworker scales drop-out and completion (interpolated)."""

    caseload: list[Positive] = Field(default_factory=lambda: [40.0], min_length=1)
    dropout_multiplier: list[Positive] = Field(default_factory=lambda: [1.0], min_length=1)
    completion_multiplier: list[Positive] = Field(default_factory=lambda: [1.0], min_length=1)

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
    staff: Positive = Field(description="keyworkers (full-time equivalents)")
    caseload_cap: int = Field(default=40, ge=1, description="places per keyworker in queue mode")
    pressure: Pressure = Field(default_factory=Pressure)
    waiting_abandonment: Rate = Field(
        default_factory=Rate, description="hazard of giving up while waiting for a place"
    )
    cost_per_worker_per_year_gbp: NonNegative = 0.0


class Review(Strict):
    """What happens at each 12-weekly review; ``continue`` absorbs any rescaling."""

    probabilities: _branch(
        ("continue", "planned_exit", "ost", "psychosocial", "hat", "detox", "rehab"), "review outcome"
    )
    planned_exit_multipliers: Multipliers = Field(default_factory=dict)
    planned_exit_by_review: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=list,
        description="multipliers of the planned-exit share at the 1st, 2nd, ... review of "
        "a stay in this modality; reviews after the list use the share as given",
    )


class OST(Strict):
    """Opioid substitution treatment."""

    setting: _branch(("specialist", "gp_shared_care"), "OST setting")
    formulation: _branch(("oral", "long_acting_injectable"), "OST formulation")
    dropout: Distribution
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: NonNegative = 0.0
    long_acting_cost_per_day_gbp: NonNegative = 0.0


class Psychosocial(Strict):
    """Structured keyworking without prescribing."""

    dropout: Distribution
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: NonNegative = 0.0


class HAT(Strict):
    """Heroin/diamorphine-assisted treatment clinic."""

    open: bool = True
    places: int = Field(default=0, ge=0)
    dropout: Distribution
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    fixed_cost_per_year_gbp: NonNegative = 0.0
    medicine_cost_per_place_per_day_gbp: NonNegative = 0.0
    medicine_block_days: Positive = Field(
        default=182.0, description="medicine is bought for every place in blocks of this length"
    )


_END = ("planned_exit", "dropout", "ost", "psychosocial", "rehab")


class Detox(Strict):
    """Community and inpatient detoxification."""

    inpatient_share: Probability = 0.0
    inpatient_beds: int = Field(default=0, ge=0)
    bed_wait_max_days: NonNegative = Field(
        default=28.0, description="days to wait for a bed before detoxing in the community"
    )
    community_duration: Distribution
    inpatient_duration: Distribution
    community_outcome: _branch(_END, "detox outcome")
    inpatient_outcome: _branch(_END, "detox outcome")
    community_cost_per_day_gbp: NonNegative = 0.0
    inpatient_cost_per_day_gbp: NonNegative = 0.0


class Rehab(Strict):
    """Residential rehabilitation placements bought from an annual budget."""

    open: bool = True
    budget_per_year_gbp: NonNegative = Field(description="resets each financial year (1 April)")
    price_per_week_gbp: Positive
    duration: Distribution
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
    in_treatment: dict[Literal["ost", "psychosocial", "hat", "detox", "rehab"], NonNegative] = (
        Field(default_factory=dict, description="per 100 person-years, by modality")
    )
    ost_induction: DeathRate = Field(default_factory=DeathRate)
    ost_induction_days: NonNegative = 14.0
    after_exit: list[DeathWindow] = Field(
        default_factory=list, description="raised mortality in the weeks after leaving treatment"
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

    time_to_relapse: Distribution
    multipliers: Multipliers = Field(default_factory=dict)
    sustained_recovery_days: Positive = Field(
        default=730.0, description="days without relapse after which a person counts as recovered"
    )
    return_to_treatment: Probability = Field(
        default=0.0,
        description="share of relapses that come straight back to treatment (self-referral); "
        "the rest return to the community and its referral hazards",
    )


CLOSABLE = ("hat", "rehab")
TRANSITION_TARGETS = ("ost", "ost_long_acting", "psychosocial", "detox", "rehab", "planned_exit")


class Policy(Strict):
    """A timed change: set parameters, or open or close a service, on a date."""

    date: dt.date
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

    name: str = "scenario"
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
    extra_costs_per_year_gbp: dict[str, NonNegative] = Field(
        default_factory=dict,
        description="other spending a year by name (e.g. a housing support service), "
        "booked as cost_other_gbp",
    )
    policies: list[Policy] = Field(default_factory=list)

    _phases: list[tuple[float, Scenario]] | None = PrivateAttr(default=None)

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


def _assign(raw: dict[str, Any], dotted: str, value: Any, policy_index: int) -> None:
    """Set ``raw[a][b][c] = value`` for ``dotted = "a.b.c"``; the path must exist."""
    parts = dotted.split(".")
    if parts[0] == "run":
        raise PolicyError(policy_index, "run settings (dates, horizon, seed) cannot change "
                          "during a run", key=dotted)
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
    raw = scenario.model_dump(mode="python", by_alias=True)
    for dotted, value in values.items():
        set_parameter(raw, dotted, value)
    return Scenario.model_validate(raw)


# --------------------------------------------------------------------------- errors


class ScenarioError(Exception):
    """One or more problems in a scenario file, each with its file, line and key path."""

    def __init__(self, problems: list[tuple[str, int | None, str, str]]) -> None:
        self.problems = problems
        super().__init__(self.message())

    def message(self) -> str:
        """The whole error as one paragraph: one line per problem."""
        lines = []
        for file, line, key, msg in self.problems:
            where = f"{file}:{line}" if line else file
            lines.append(f"{where}: {key}: {msg}" if key else f"{where}: {msg}")
        return "\n".join(lines)


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


def _describe(err: Mapping[str, Any], loc: tuple[Any, ...], data: Any = None,
              root: Any = None) -> str:
    """Turn one pydantic error into a short sentence."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")

    def num(x: Any) -> str:
        return f"{x:g}" if isinstance(x, float) else str(x)

    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data, root)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"; expected one of: {', '.join(allowed)}" if allowed and not close else ""
        return f"unknown key{hint}{known}"
    if kind == "greater_than_equal":
        return f"must be at least {num(ctx.get('ge'))}, got {got!r}"
    if kind == "greater_than":
        return f"must be greater than {num(ctx.get('gt'))}, got {got!r}"
    if kind == "less_than_equal":
        return f"must be at most {num(ctx.get('le'))}, got {got!r}"
    if kind == "less_than":
        return f"must be less than {num(ctx.get('lt'))}, got {got!r}"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return f"expected a number, got {got!r}"
    if kind == "finite_number":
        return f"expected a finite number, got {got!r}"
    if kind == "int_from_float":
        return f"expected a whole number, got {got!r}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {got!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {got!r}"
    if kind == "union_tag_invalid":
        names = [t.strip(" '\"") for t in str(ctx.get("expected_tags", "")).split(",")]
        tag = str(ctx.get("tag"))
        close = difflib.get_close_matches(tag, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown distribution {tag!r}{hint}; dist must be one of: {', '.join(names)}"
    if kind == "union_tag_not_found":
        return "a distribution needs a 'dist' key: exponential, weibull, lognormal, gamma, " \
               "fixed or empirical"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"expected a date like 2022-12-06, got {got!r}"
    shown = "nothing (an empty value)" if got is None else f"{type(got).__name__} {got!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {shown}"
    if kind == "list_type":
        return f"expected a list, got {shown}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "string_type":
        return f"expected text, got {got!r}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {got!r}"


# --------------------------------------------------------------------------- YAML


Lines = dict[tuple[Any, ...], tuple[str, int]]


def _build(node: yaml.Node, loader: yaml.SafeLoader, path: tuple[Any, ...], file: str,
           lines: Lines) -> Any:
    """Construct Python data from a YAML node, recording each key path's line.

    ``lines[()]`` is the line of the first key of the file.
    """
    if not path:
        lines[()] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(_build(key_node, loader, (*path, "<key>"), file, {}))
            sub = (*path, key)
            if key in out:
                first = lines.get(sub, (file, None))[1]
                also = f" (first given on line {first})" if first else ""
                raise ScenarioError(
                    [(file, key_node.start_mark.line + 1, _fmt_path(sub), f"duplicate key{also}")]
                )
            lines[sub] = (file, key_node.start_mark.line + 1)
            out[key] = _build(value_node, loader, sub, file, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = (file, item.start_mark.line + 1)
            items.append(_build(item, loader, (*path, i), file, lines))
        return items
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. a date like 2022-02-30 that matches the date pattern
        key = _fmt_path(path[:-1] if path and path[-1] == "<key>" else path)
        raise ScenarioError(
            [(file, node.start_mark.line + 1, key, f"invalid value {node.value!r}: {exc}")]
        ) from None


def _read_yaml(path: Path, shown: str) -> tuple[Any, Lines]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([(shown, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError([(shown, None, "", "is a directory, not a scenario file")]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            [(shown, line, "", "the file is not UTF-8 text; save it as UTF-8")]
        ) from None
    except OSError as exc:
        raise ScenarioError([(shown, None, "", f"cannot read file: {exc.strerror}")]) from None
    loader = yaml.SafeLoader(text)
    lines: Lines = {}
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError([(shown, 1, "", "the file is empty (no keys)")])
        data = _build(node, loader, (), shown, lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join((exc.problem or "").split()) or "invalid YAML"
        context = " ".join((exc.context or "").split())
        if context and exc.context_mark and exc.context_mark.line + 1 != line:
            context += f" that starts on line {exc.context_mark.line + 1}"
        hints = (
            ("expected ',' or '}'", "is a closing '}' or a comma missing?"),
            ("expected ',' or ']'", "is a closing ']' or a comma missing?"),
            ("expected <block end>", "check the indentation: the keys of one mapping "
                                     "must line up"),
            ("mapping values are not allowed", "check the indentation, or quote a value "
                                               "that contains ': '"),
            ("could not find expected ':'", "check the indentation, or quote a value that "
                                            "spans lines"),
            ("'\\t'", "indent with spaces, not tabs"),
            ("end of stream", "is a closing quote or bracket missing?"),
            ("expected a single document", "only one YAML document (no '---') per file"),
        )
        hint = next((h for pattern, h in hints if pattern in f"{context} {problem}"), "")
        if problem.startswith("but ") and context:
            msg = f"YAML syntax error: {' '.join((exc.context or '').split())}, {problem}"
        else:
            msg = f"YAML syntax error: {problem}"
            if context:
                msg += f" ({context})"
        if hint:
            msg += f"; {hint}"
        raise ScenarioError([(shown, line, "", msg)]) from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ScenarioError([(shown, None, "", f"YAML error: {detail}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise ScenarioError(
            [(shown, lines.get((), (shown, 1))[1], "",
              f"a scenario must be a mapping of 'key: value' lines, got {kind}")]
        )
    return data, lines


def _merge(base: dict[str, Any], base_lines: Lines, over: dict[str, Any], over_lines: Lines,
           path: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``: mappings merge, everything else replaces.

    A mapping that names its ``dist`` is a whole distribution: it replaces the base one
    (so a child can switch, say, weibull to lognormal). The line of every key taken from
    ``over`` (however deep) is moved into ``base_lines``.
    """
    out = dict(base)
    for key, value in over.items():
        sub = (*path, key)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "dist" not in value:
            out[key] = _merge(out[key], base_lines, value, over_lines, sub)
        else:
            n = len(sub)
            for k in [k for k in base_lines if k[:n] == sub]:
                del base_lines[k]
            for k in [k for k in over_lines if k[:n] == sub]:
                base_lines[k] = over_lines[k]
            out[key] = value
        if sub in over_lines:
            base_lines[sub] = over_lines[sub]
    return out


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_tree(path: Path, stack: tuple[Path, ...],
               fitted: bool = True) -> tuple[dict[str, Any], Lines]:
    shown = _display(path)
    data, lines = _read_yaml(path, shown)
    parent = data.pop("extends", None)
    fitted_file = data.pop("fitted", None) if fitted else None
    data.pop("fitted", None)
    if not fitted:
        lines.pop(("fitted",), None)
    data.pop("$schema", None)
    if parent is None:
        return _apply_fitted(path, shown, data, lines, fitted_file)
    line = lines.get(("extends",), (shown, None))[1]
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError([(shown, line, "extends", f"expected a file name, got {parent!r}")])
    target = (path.parent / parent).resolve()
    if target in stack or target == path.resolve():
        chain = " -> ".join(_display(p) for p in (*stack, path.resolve(), target))
        raise ScenarioError([(shown, line, "extends", f"forms a cycle: {chain}")])
    if not target.exists():
        raise ScenarioError(
            [(shown, line, "extends", f"file not found: {parent} (looked for {_display(target)})")]
        )
    if not target.is_file():
        raise ScenarioError([(shown, line, "extends", f"not a file: {_display(target)}")])
    base, base_lines = _load_tree(target, (*stack, path.resolve()), fitted)
    lines.pop(("extends",), None)
    lines.pop(("$schema",), None)
    root = lines.pop((), None)
    merged = _merge(base, base_lines, data, lines)
    if root is not None:
        base_lines[()] = root
    return _apply_fitted(path, shown, merged, base_lines, fitted_file)


def _apply_fitted(path: Path, shown: str, data: dict[str, Any], lines: Lines,
                  fitted: Any) -> tuple[dict[str, Any], Lines]:
    """Apply ``fitted: FILE``: the dotted-path ``parameters`` of a calibration result,
    set after everything else in the file (so fitted values win)."""
    if fitted is None:
        return data, lines
    line = lines.pop(("fitted",), (shown, None))[1]
    if not isinstance(fitted, str) or not fitted.strip():
        raise ScenarioError([(shown, line, "fitted", f"expected a file name, got {fitted!r}")])
    target = (path.parent / fitted).resolve()
    if not target.is_file():
        raise ScenarioError([(shown, line, "fitted", f"file not found: {fitted}")])
    fdata, flines = _read_yaml(target, _display(target))
    params = fdata.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ScenarioError([(_display(target), None, "parameters",
                              "expected a mapping of dotted parameter paths to values")])
    data = copy.deepcopy(data)
    for key, value in params.items():
        try:
            set_parameter(data, key, value)
        except PolicyError as exc:
            f, ln = flines.get(("parameters", key), (_display(target), None))
            raise ScenarioError([(f, ln, f"parameters.{key}", str(exc.error))]) from None
        loc = tuple(int(p) if p.isdigit() else p for p in key.split("."))
        lines[loc] = flines.get(("parameters", key), (_display(target), None))
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
        found = [explain(err, data) for err in exc.errors()]
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
            problem = (f, line, _fmt_path(loc), msg)
            if problem not in problems:
                problems.append(problem)
        raise ScenarioError(problems) from None
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
        for err in exc.error.errors():
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
            if problem not in problems:
                problems.append(problem)
        raise ScenarioError(problems) from None
    return scenario


def load_yaml(path: str | Path) -> tuple[dict[str, Any], Lines, str]:
    """Read a YAML file (following ``extends``): (data, key path -> (file, line), name shown).

    :raises ScenarioError: for a missing file, bad YAML or a bad ``extends``.
    """
    path = Path(path)
    data, lines = _load_tree(path, ())
    return data, lines, _display(path)


def validation_error(exc: ValidationError, data: Mapping[str, Any], lines: Lines, file: str,
                     root: type[BaseModel]) -> ScenarioError:
    """Turn a pydantic error on a YAML file's ``root`` model into a :class:`ScenarioError`."""
    problems = []
    for err in exc.errors():
        loc = _clean_loc(tuple(err["loc"]), data)
        f, line = file, None
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                f, line = lines[loc[:n]]
                break
        problem = (f, line, _fmt_path(loc), _describe(err, loc, data, root))
        if problem not in problems:
            problems.append(problem)
    return ScenarioError(problems)


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_model_file(path: Path, model: type[ModelT]
                    ) -> tuple[ModelT, Callable[..., int | None], str]:
    """Load a YAML file that is not a scenario (a targets or sweep file) into ``model``.

    :returns: (the validated object, ``line_of(*key path)``: the line of the deepest
        key of that path found in the file, the file's name as shown in messages).
    :raises ScenarioError: naming file, line and key of every problem found.
    """
    data, lines, shown = load_yaml(path)
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

    :raises ScenarioError: if it is missing (naming the key's line) or not valid.
    """
    scenario_path = (path.parent / ref).resolve()
    if not scenario_path.is_file():
        raise ScenarioError([(shown, line_of("scenario"), "scenario",
                              f"file not found: {ref}")])
    return load_scenario(scenario_path, fitted=fitted)


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
