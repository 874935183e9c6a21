"""The monitor of one replication: state counters and the record lists it appends to.

The monitor only appends to lists and updates counters; turning them into tables is
the job of :mod:`sim.metrics`. Nothing here reads or writes files.

Costs and segments, the most numerous records, are kept as columns (a list per field),
while the run lasts and in its :class:`~sim.model.records.Records` (as a
:class:`~sim.model.records.Table`): a list of numbers and strings is one object to
Python's cyclic collector, a tuple per record is one each, which the collections between
chunks would walk (at 16x Hampshire, 540,000 of them), and a tuple costs more memory
than its values.
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
    Table,
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
        self.deaths: list[Death] = []
        # the Segment fields, as columns
        self.segment_pid: list[int] = []
        self.segment_episode: list[int] = []
        self.segment_modality: list[str] = []
        self.segment_start_day: list[float] = []
        self.segment_end_day: list[float] = []
        self.segment_end_reason: list[str] = []
        # the LedgerEntry fields, as columns
        self.ledger_service: list[str] = []
        self.ledger_start_day: list[float] = []
        self.ledger_end_day: list[float] = []
        self.ledger_amount_gbp: list[float] = []
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
            self.ledger_service.append(service)
            self.ledger_start_day.append(start_day)
            self.ledger_end_day.append(end_day)
            self.ledger_amount_gbp.append(amount_gbp)

    def segment(self, *, pid: int, episode: int, modality: str, start_day: float,
                end_day: float, end_reason: str) -> None:
        """Record a :class:`Segment` of episode ``episode`` of person ``pid`` in
        ``modality``, from ``start_day`` to ``end_day`` (ended for ``end_reason``)."""
        self.segment_pid.append(pid)
        self.segment_episode.append(episode)
        self.segment_modality.append(modality)
        self.segment_start_day.append(start_day)
        self.segment_end_day.append(end_day)
        self.segment_end_reason.append(end_reason)

    def ledger(self) -> Table:
        """The costs booked so far, in order (the monitor's own columns)."""
        return Table(LedgerEntry, {
            "service": self.ledger_service, "start_day": self.ledger_start_day,
            "end_day": self.ledger_end_day, "amount_gbp": self.ledger_amount_gbp,
        })

    def segments(self) -> Table:
        """The segments recorded so far, in order (the monitor's own columns)."""
        return Table(Segment, {
            "pid": self.segment_pid, "episode": self.segment_episode,
            "modality": self.segment_modality, "start_day": self.segment_start_day,
            "end_day": self.segment_end_day, "end_reason": self.segment_end_reason,
        })

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
            segments=self.segments(),
            deaths=self.deaths,
            ledger=self.ledger(),
            snapshots=self.snapshots,
            during_year=self.during_year,
            transitions=self.transitions,
            relapses=self.relapses,
            rehab_refusals=self.rehab_refusals,
            policy_log=self.policy_log,
            events=events,
            final_states={name: self.counts[i] for i, name in enumerate(STATE_NAMES)},
        )
