"""The model measures that published figures are compared with in external validation.

Each measure is a pure function of one replication's :class:`~sim.model.Records` and the
settings of a :class:`ModelSpec`, returning a float (NaN when its cohort is empty), with
a one-line definition in :data:`MEASURES`. Days are model days; shares are fractions.

Cohorts of exits are the episodes that *exit in the reporting years* (after the warm-up)
with one of the ``after`` exit reasons (default: ``completed``, a planned exit), filtered
by ``route`` (the last modality of the episode), ``inpatient`` (whether it held an
inpatient detox) and ``group`` (``opiate``, ``non_opiate`` or ``ocu``). A cohort window
is *censored*: an exit is counted only if its whole window (``days``, or ``until``) ends
by the end of the run, so no exit is followed for less time than the figure says.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from ..metrics import unknown_metric
from ..model.outcomes import COMPLETED, EXIT_REASONS, ONGOING, REHAB, UNPLANNED
from ..model.people import IN_TREATMENT, STATE_NAMES
from ..model.records import Episode
from ..scenario import MAX_FOLLOW_UP_DAYS, Strict
from ..vocab import DAYS_PER_YEAR, MODALITIES, SUBSTANCES
from .validation_cohorts import GROUPS, Replication

ANY_UNPLANNED = "unplanned"
"""``exit_mix``'s reason for any of the unplanned exits (dropped out, withdrawn, declined)."""

__all__ = ["MEASURES", "Measure", "ModelSpec", "measure_value", "one_line", "spec_problem"]

DIED_IN_TREATMENT = STATE_NAMES[IN_TREATMENT]


class ModelSpec(Strict):
    """Which model measure a published figure is compared with, and its settings."""

    measure: str
    after: list[str] | None = Field(default=None, min_length=1,
                                    description="exit reasons of the cohort (default completed)")
    route: str | list[str] | None = Field(default=None, description="last modality(ies)")
    inpatient: bool | None = None
    group: Literal["opiate", "non_opiate", "ocu"] | None = None
    days: float | None = Field(default=None, gt=0, le=MAX_FOLLOW_UP_DAYS)
    until: float | None = Field(default=None, gt=0, le=MAX_FOLLOW_UP_DAYS)
    reason: str | None = Field(default=None, min_length=1)
    name: str | None = None
    modality: str | None = None
    scale: float = Field(default=1.0, gt=0, description="the model value is multiplied by it")
    drug_related: bool = Field(
        default=False, description="count drug-related deaths only (blank when the scenario "
        "gives no drug-related shares)")
    fitted_metrics: list[str] = Field(
        default_factory=list, description="calibration metrics that measure the same thing")
    note: str = Field(default="", description="why the measure was chosen, for the report")

    @model_validator(mode="after")
    def _fits_measure(self) -> ModelSpec:
        problem = spec_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def routes(self) -> tuple[str, ...]:
        """The ``route`` filter as a tuple (empty: every route)."""
        return () if self.route is None else \
            (self.route,) if isinstance(self.route, str) else tuple(self.route)

    @property
    def window_days(self) -> float:
        """Days of follow-up after an exit that this measure needs (0 if none)."""
        if not MEASURES[self.measure].follows:
            return 0.0
        return max(self.days or 0.0, self.until or 0.0)


@dataclass(frozen=True)
class Measure:
    """A measure: its function, one-line definition, unit and settings."""

    fn: Callable[[Replication, ModelSpec], float]
    definition: str
    unit: str
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    follows: bool = False  # days/until are follow-up windows after an exit


def spec_problem(spec: ModelSpec) -> str | None:
    """Why ``spec`` does not fit its measure (a sentence naming the key), or None."""
    if spec.measure not in MEASURES:
        close = difflib.get_close_matches(spec.measure, MEASURES, n=1)
        return f"measure: unknown measure {spec.measure!r}" + (
            f" (did you mean {close[0]!r}?)" if close else f"; one of {', '.join(MEASURES)}")
    m = MEASURES[spec.measure]
    given = spec.model_fields_set - {"measure", "scale", "fitted_metrics", "note"}
    for key in sorted(m.required - given):
        return f"{key}: measure {spec.measure} needs {key}"
    for key in sorted(given - m.required - m.optional):
        allowed = sorted(m.required | m.optional) or ["nothing"]
        return f"{key}: measure {spec.measure} takes no {key} (it takes {', '.join(allowed)})"
    pairs = [(reason, EXIT_REASONS) for reason in spec.after or []]
    if spec.measure == "exit_mix":
        pairs.append((spec.reason, (*EXIT_REASONS, ANY_UNPLANNED)))
    elif spec.measure == "step_outcome":
        pairs.append((spec.reason, EXIT_REASONS))
    for reason, allowed in pairs:
        if reason not in allowed:
            return f"after/reason: {reason!r} is not an exit reason ({', '.join(allowed)})"
    bad = [r for r in (*spec.routes, spec.modality or MODALITIES[0]) if r not in MODALITIES]
    if bad:
        return f"route/modality: {bad[0]!r} is not a modality ({', '.join(MODALITIES)})"
    for name in ([spec.name] if spec.measure == "metric" else []) + spec.fitted_metrics:
        if unknown_metric(str(name)):
            return f"name/fitted_metrics: {unknown_metric(str(name))}"
    if spec.until is not None and spec.days is not None and spec.until <= spec.days:
        return f"until: must be after days ({spec.days:g}), got {spec.until:g}"
    return None


def _share(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def _rate_per_100py(deaths: int, person_days: float) -> float:
    return 100.0 * deaths / (person_days / DAYS_PER_YEAR) if person_days > 0 else math.nan


def represented_within(rep: Replication, spec: ModelSpec) -> float:
    """Share of the cohort's exits followed by the person's next referral within days."""
    days = float(spec.days or 0.0)
    cohort = rep.exits(spec, days)
    return _share(sum(rep.next_referral_gap(e) <= days for e in cohort), len(cohort))


def not_represented_within(rep: Replication, spec: ModelSpec) -> float:
    """Share of the cohort's exits with no referral within ``days`` (1 - represented)."""
    return 1.0 - represented_within(rep, spec)


def relapsed_within(rep: Replication, spec: ModelSpec) -> float:
    """Share of planned exits followed by a relapse within ``days`` of that exit."""
    days = float(spec.days or 0.0)
    cohort = rep.exits(spec, days)
    hits = sum(any(abs(after - e.exit_day) < 1e-6 and day - after <= days
                   for day, after in rep.relapse_days.get(e.pid, ()))
               for e in cohort if e.exit_day is not None)
    return _share(hits, len(cohort))


def died_within_after_exit(rep: Replication, spec: ModelSpec) -> float:
    """Share of the cohort's exits followed by the person's death within ``days``."""
    days = float(spec.days or 0.0)
    cohort = rep.exits(spec, days)
    hits = sum(0 < rep.death_day.get(e.pid, math.inf) - float(e.exit_day or 0) <= days
               for e in cohort)
    return _share(hits, len(cohort))


def _after_exit_deaths(rep: Replication, cohort: list[Episode], a: float, b: float
                       ) -> tuple[int, float]:
    """(deaths, person-days at risk) in days (a, b] after each exit of ``cohort``."""
    deaths, person_days = 0, 0.0
    for e in cohort:
        since = rep.death_day.get(e.pid, math.inf) - float(e.exit_day or 0)
        person_days += max(0.0, min(since, b) - a)
        deaths += a < since <= b
    return deaths, person_days


def death_rate_after_exit(rep: Replication, spec: ModelSpec) -> float:
    """Deaths per 100 person-years in the first ``days`` after the cohort's exits."""
    days = float(spec.days or 0.0)
    return _rate_per_100py(*_after_exit_deaths(rep, rep.exits(spec, days), 0.0, days))


def death_rate_ratio_after_exit(rep: Replication, spec: ModelSpec) -> float:
    """Death rate in days (0, days] after the exits / in (days, until] (rate ratio)."""
    days, until = float(spec.days or 0.0), float(spec.until or 0.0)
    cohort = rep.exits(spec, until)
    early = _rate_per_100py(*_after_exit_deaths(rep, cohort, 0.0, days))
    late = _rate_per_100py(*_after_exit_deaths(rep, cohort, days, until))
    return early / late if late and not math.isnan(late) else math.nan


def abstinent_at(rep: Replication, spec: ModelSpec) -> float:
    """Share of the cohort alive ``days`` after exit whose latest episode then had ended
    completed and who had not relapsed since (neither using nor in treatment)."""
    days = float(spec.days or 0.0)
    alive = abstinent = 0
    for e in rep.exits(spec, days):
        t = float(e.exit_day or 0) + days
        if rep.death_day.get(e.pid, math.inf) <= t:
            continue
        alive += 1
        latest = [n for n in rep.episodes[e.pid] if n.referral_day <= t][-1]
        done = latest.exit_reason == COMPLETED and (latest.exit_day or math.inf) <= t
        abstinent += done and not any(float(latest.exit_day or 0) < day <= t
                                      for day, _ in rep.relapse_days.get(e.pid, ()))
    return _share(abstinent, alive)


def death_rate_per_100py(rep: Replication, spec: ModelSpec) -> float:
    """Deaths (drug-related only, with ``drug_related``) per 100 person-years of people in
    treatment in the reporting years, each followed from the reporting start (or first
    treatment) to death or the run's end."""
    people = rep.treated(rep.start, rep.stop, spec.group)
    counted = set(rep.death_day)
    if spec.drug_related:
        if any(d.drug_related is None for d in rep.rec.deaths):
            return math.nan  # the scenario gives no drug-related shares
        counted = {d.pid for d in rep.rec.deaths if d.drug_related}
    deaths, person_days = 0, 0.0
    for pid in people:
        first = min(float(e.start_day) for e in rep.episodes[pid]
                    if e.start_day is not None and (e.exit_day is None
                                                    or e.exit_day >= rep.start))
        end = min(rep.death_day.get(pid, math.inf), rep.rec.end_day)
        person_days += max(0.0, end - max(first, rep.start))
        deaths += pid in counted
    return _rate_per_100py(deaths, person_days)


def deaths_in_treatment_share(rep: Replication, spec: ModelSpec) -> float:
    """Deaths in treatment in a year / people in treatment during it (mean over years)."""
    substances = GROUPS[spec.group] if spec.group else SUBSTANCES
    shares = []
    for y0, y1 in rep.years:
        died = sum(1 for d in rep.rec.deaths if d.state == DIED_IN_TREATMENT
                   and y0 <= d.day < y1 and d.substance in substances)
        shares.append(_share(died, len(rep.treated(y0, y1, spec.group))))
    return _mean(shares)


def deaths_in_treatment_per_100(rep: Replication, spec: ModelSpec) -> float:
    """100 x :func:`deaths_in_treatment_share` (deaths per 100 people in treatment)."""
    return 100.0 * deaths_in_treatment_share(rep, spec)


def exit_mix(rep: Replication, spec: ModelSpec) -> float:
    """Share of exits in the reporting years (completed, dropped out, withdrawn, declined,
    transferred, died) whose reason is ``reason`` (``unplanned``: any of the three
    unplanned reasons)."""
    cohort = rep.exits(spec, reasons=EXIT_REASONS)
    wanted = UNPLANNED if spec.reason == ANY_UNPLANNED else (spec.reason,)
    return _share(sum(e.exit_reason in wanted for e in cohort), len(cohort))


def rehab_share(rep: Replication, spec: ModelSpec) -> float:
    """People in residential rehab at some time in a year / people in treatment in it
    (mean over reporting years)."""
    shares = []
    for y0, y1 in rep.years:
        rehab = {s.pid for s in rep.rec.segments
                 if s.modality == REHAB and s.start_day < y1 and s.end_day >= y0}
        shares.append(_share(len(rehab), len(rep.treated(y0, y1, None))))
    return _mean(shares)


def step_outcome(rep: Replication, spec: ModelSpec) -> float:
    """Share of stays in ``modality`` ending in the reporting years that end the episode
    with ``reason`` (the rest move on to another modality or end otherwise)."""
    ends = [s.end_reason for s in rep.rec.segments if s.modality == spec.modality
            and rep.start <= s.end_day < rep.stop and s.end_reason != ONGOING]
    return _share(sum(r == spec.reason for r in ends), len(ends))


def in_treatment_longer_than(rep: Replication, spec: ModelSpec) -> float:
    """Share of people in treatment at a year's end (in ``modality`` then, if given)
    whose episode had lasted over ``days`` (mean over reporting years)."""
    days = float(spec.days or 0.0)
    shares = []
    for _, y1 in rep.years:
        now = {(s.pid, s.episode): s.modality for s in rep.rec.segments
               if s.start_day <= y1 < s.end_day}
        lengths = [y1 - float(e.start_day) for e in rep.rec.episodes
                   if e.start_day is not None and e.start_day < y1
                   and (e.exit_day is None or e.exit_day > y1)
                   and (spec.modality is None or now.get((e.pid, e.episode)) == spec.modality)]
        shares.append(_share(sum(x > days for x in lengths), len(lengths)))
    return _mean(shares)


def metric(rep: Replication, spec: ModelSpec) -> float:
    """The yearly metric ``name`` (sim.metrics), mean over the reporting years."""
    return rep.yearly_means.get(str(spec.name), math.nan)


def not_modelled(rep: Replication, spec: ModelSpec) -> float:
    """Not computed: the model cannot produce the figure (``reason`` says why)."""
    return math.nan


def _mean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def one_line(text: str) -> str:
    """A docstring as one line of markdown text (reST double backticks made single)."""
    return " ".join(text.split()).replace("``", "`")


def _m(fn: Callable[[Replication, ModelSpec], float], unit: str, required: str = "",
       optional: str = "", follows: bool = False) -> Measure:
    """A :class:`Measure` defined by ``fn``'s docstring; settings as space-separated names."""
    return Measure(fn, one_line(fn.__doc__ or ""), unit, frozenset(required.split()),
                   frozenset(optional.split()), follows)


_COHORT = "after route inpatient group"
MEASURES: dict[str, Measure] = {
    "represented_within": _m(represented_within, "share", "days", _COHORT, True),
    "not_represented_within": _m(not_represented_within, "share", "days", _COHORT, True),
    "relapsed_within": _m(relapsed_within, "share", "days", "route inpatient group", True),
    "died_within_after_exit": _m(died_within_after_exit, "share", "days", _COHORT, True),
    "death_rate_after_exit": _m(death_rate_after_exit, "per 100 person-years", "days",
                                _COHORT, True),
    "death_rate_ratio_after_exit": _m(death_rate_ratio_after_exit, "rate ratio",
                                      "days until", _COHORT, True),
    "abstinent_at": _m(abstinent_at, "share", "days", _COHORT, True),
    "death_rate_per_100py": _m(death_rate_per_100py, "per 100 person-years",
                               optional="group drug_related"),
    "deaths_in_treatment_share": _m(deaths_in_treatment_share, "share", optional="group"),
    "deaths_in_treatment_per_100": _m(deaths_in_treatment_per_100, "per 100 people",
                                      optional="group"),
    "exit_mix": _m(exit_mix, "share", "reason", "group"),
    "rehab_share": _m(rehab_share, "share"),
    "step_outcome": _m(step_outcome, "share", "modality reason"),
    "in_treatment_longer_than": _m(in_treatment_longer_than, "share", "days", "modality"),
    "metric": _m(metric, "the metric's unit", "name"),
    "not_modelled": _m(not_modelled, "", "reason"),
}
"""Every measure by name. Cohort measures take ``after`` (exit reasons, default
``completed``), ``route``, ``inpatient`` and ``group``; ``follows`` marks those whose
``days``/``until`` are windows after an exit (censored, and the run extended to them)."""


def measure_value(rep: Replication, spec: ModelSpec) -> float:
    """The value of ``spec``'s measure in one replication, times ``scale`` (NaN if its
    cohort is empty)."""
    return MEASURES[spec.measure].fn(rep, spec) * spec.scale

