"""The monitor of one replication: state counters and the record lists it appends to.

The monitor only appends to lists and updates counters; turning them into tables is
the job of :mod:`sim.metrics`. Nothing here reads or writes files.
"""

from __future__ import annotations

from typing import Any

from .people import STATE_NAMES
from .records import (
    Death,
    Episode,
    LedgerEntry,
    PolicyChange,
    Records,
    Relapse,
    Segment,
    Transition,
)


class Monitor:
    """Counters and record lists for one replication.

    :param initial_people: people created on day 0.
    """

    def __init__(self, initial_people: int = 0) -> None:
        self.counts = [0] * len(STATE_NAMES)  # people in each state, by state number
        self.initial_people = initial_people
        self.incidence = 0
        self.episodes: list[Episode] = []
        self.segments: list[Segment] = []
        self.deaths: list[Death] = []
        self.ledger: list[LedgerEntry] = []
        self.snapshots: list[dict[str, Any]] = []
        self.transitions: list[Transition] = []
        self.relapses: list[Relapse] = []
        self.policy_log: list[PolicyChange] = []
        self.rehab_refusals: list[float] = []  # days on which the budget refused a placement
        # distinct people in treatment / using during each model year (index = year)
        self.during_year: dict[str, list[int]] = {"in_treatment": [0], "using": [0],
                                                  "using_ocu": [0]}

    def move(self, old: int, new: int) -> None:
        """Count a person moving from state ``old`` to state ``new``."""
        counts = self.counts
        counts[old] -= 1
        counts[new] += 1

    def cost(self, service: str, start_day: float, end_day: float, amount_gbp: float) -> None:
        """Book ``amount_gbp`` pounds on ``service``, spent evenly over [start_day, end_day]."""
        if amount_gbp:
            self.ledger.append(LedgerEntry(service=service, start_day=start_day,
                                           end_day=end_day, amount_gbp=amount_gbp))

    def records(self, *, horizon_days: float, end_day: float, warmup_years: int, years: int,
                events: int) -> Records:
        """The records so far, for a run of ``horizon_days`` stopped on ``end_day``."""
        return Records(
            horizon_days=horizon_days,
            end_day=end_day,
            warmup_years=warmup_years,
            years=years,
            initial_people=self.initial_people,
            incidence=self.incidence,
            episodes=self.episodes,
            segments=self.segments,
            deaths=self.deaths,
            ledger=self.ledger,
            snapshots=self.snapshots,
            during_year=self.during_year,
            transitions=self.transitions,
            relapses=self.relapses,
            rehab_refusals=self.rehab_refusals,
            policy_log=self.policy_log,
            events=events,
            final_states={name: self.counts[i] for i, name in enumerate(STATE_NAMES)},
        )
