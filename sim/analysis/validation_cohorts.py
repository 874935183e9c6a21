"""One replication's records as validation cohorts: the reporting window, the exits a
published figure follows, and the indexes the measures in
:mod:`~sim.analysis.validation_measures` share."""

from __future__ import annotations

import math
from collections import defaultdict
from functools import cached_property
from typing import TYPE_CHECKING

from ..metrics import people_table, yearly_metrics
from ..model.outcomes import COMPLETED
from ..model.records import Episode, Records
from ..vocab import DAYS_PER_YEAR, OCU, OPIATE, SUBSTANCES

if TYPE_CHECKING:  # pragma: no cover
    from .validation_measures import ModelSpec

__all__ = ["GROUPS", "Replication"]

GROUPS: dict[str, tuple[str, ...]] = {
    "opiate": OPIATE, "non_opiate": tuple(s for s in SUBSTANCES if s not in OPIATE),
    "ocu": OCU}
"""Substance groups a measure can be limited to (NDTMS opiate and non-opiate, OCU)."""


class Replication:
    """One replication's records, the reporting window and the indexes measures share."""

    def __init__(self, rec: Records) -> None:
        self.rec = rec
        self.start = rec.warmup_years * DAYS_PER_YEAR  # first reporting day
        self.stop = (rec.warmup_years + rec.years) * DAYS_PER_YEAR  # end of reporting

    @property
    def years(self) -> list[tuple[float, float]]:
        """(first day, end day) of each reporting year."""
        k0 = self.rec.warmup_years
        return [(k * DAYS_PER_YEAR, (k + 1) * DAYS_PER_YEAR)
                for k in range(k0, k0 + self.rec.years)]

    @cached_property
    def episodes(self) -> dict[int, list[Episode]]:
        """Each person's episodes, in order."""
        out: dict[int, list[Episode]] = defaultdict(list)
        for e in sorted(self.rec.episodes, key=lambda e: (e.pid, e.episode)):
            out[e.pid].append(e)
        return out

    @cached_property
    def death_day(self) -> dict[int, float]:
        """Day of each person's death."""
        return {d.pid: d.day for d in self.rec.deaths}

    @cached_property
    def relapse_days(self) -> dict[int, list[tuple[float, float]]]:
        """Each person's relapses as (day, day of the planned exit it followed)."""
        out: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for r in self.rec.relapses:
            out[r.pid].append((r.day, r.day - r.days_since_exit))
        return out

    @cached_property
    def yearly_means(self) -> dict[str, float]:
        """Each yearly metric's mean over the reporting years."""
        yearly = yearly_metrics(self.rec, people_table(self.rec))
        return {str(k): float(v) for k, v in yearly.groupby("metric")["value"].mean().items()}

    def exits(self, spec: ModelSpec, window: float = 0.0,
              reasons: tuple[str, ...] | None = None) -> list[Episode]:
        """The cohort: exits in the reporting years whose ``window`` days (censoring)
        end by the end of the run, filtered as ``spec`` says."""
        reasons = reasons or tuple(spec.after or (COMPLETED,))
        last = self.rec.end_day - window
        substances = GROUPS[spec.group] if spec.group else SUBSTANCES
        return [e for e in self.rec.episodes
                if e.exit_reason in reasons and e.exit_day is not None
                and self.start <= e.exit_day < self.stop and e.exit_day <= last + 1e-9
                and (not spec.routes or (e.path and e.path[-1] in spec.routes))
                and (spec.inpatient is None or e.inpatient_detox == spec.inpatient)
                and e.substance in substances]

    def treated(self, y0: float, y1: float, group: str | None) -> set[int]:
        """People in treatment at some time in days [y0, y1), of ``group`` if given."""
        substances = GROUPS[group] if group else SUBSTANCES
        return {e.pid for e in self.rec.episodes
                if e.start_day is not None and e.start_day < y1 and e.substance in substances
                and (e.exit_day is None or e.exit_day >= y0)}

    def next_referral_gap(self, e: Episode) -> float:
        """Days from the exit of ``e`` to the person's next referral (inf if none)."""
        later = [n.referral_day for n in self.episodes[e.pid] if n.episode > e.episode]
        return min(later) - float(e.exit_day or 0.0) if later else math.inf
