"""What the model writes down as it runs: counts, episodes, segments, deaths and costs.

The monitor only appends to lists and updates counters; turning them into tables is
the job of :mod:`sim.metrics`. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .people import STATE_NAMES, Episode

MONTH_DAYS = 365.0 / 12
YEAR_DAYS = 365.0


@dataclass(slots=True)
class Records:
    """Everything one replication produced, ready for :mod:`sim.metrics`.

    Times are days from the scenario's start date.
    """

    horizon_days: float
    end_day: float
    warmup_years: int
    years: int
    initial_people: int
    incidence: int
    episodes: list[Episode]
    segments: list[tuple[int, int, str, float, float, str]]
    deaths: list[tuple[float, int, str, str | None, float | None, str]]
    ledger: list[tuple[str, float, float, float]]
    snapshots: list[dict[str, Any]]
    during_year: dict[str, list[int]]
    transitions: list[tuple[float, int, str, str]] = field(default_factory=list)
    policy_log: list[tuple[float, str]] = field(default_factory=list)
    rehab_refusals: list[float] = field(default_factory=list)
    events: int = 0
    final_states: dict[str, int] = field(default_factory=dict)


class Monitor:
    """Counters and records for one replication.

    :param initial_people: people created on day 0.
    """

    def __init__(self, initial_people: int = 0) -> None:
        self.counts = [0] * len(STATE_NAMES)
        self.initial_people = initial_people
        self.incidence = 0
        self.episodes: list[Episode] = []
        # (pid, episode, modality, start_day, end_day, end_reason)
        self.segments: list[tuple[int, int, str, float, float, str]] = []
        # (day, pid, state, modality, days_since_exit, substance)
        self.deaths: list[tuple[float, int, str, str | None, float | None, str]] = []
        # (service, from_day, to_day, amount_gbp): spread evenly over [from, to]
        self.ledger: list[tuple[str, float, float, float]] = []
        self.snapshots: list[dict[str, Any]] = []
        # (day, pid, from_service, target) for every move forced by a closure
        self.transitions: list[tuple[float, int, str, str]] = []
        self.policy_log: list[tuple[float, str]] = []
        self.rehab_refusals: list[float] = []  # days on which the budget refused a placement
        # distinct people in treatment / using during each model year (index = year)
        self.during_year: dict[str, list[int]] = {"in_treatment": [0], "using": [0],
                                                  "using_ocu": [0]}

    def move(self, old: int, new: int) -> None:
        """Record a person moving from state ``old`` to state ``new``."""
        c = self.counts
        c[old] -= 1
        c[new] += 1

    def cost(self, service: str, start: float, end: float, amount: float) -> None:
        """Record ``amount`` pounds spent on ``service`` evenly over days [start, end]."""
        if amount:
            self.ledger.append((service, start, end, amount))


class TimeWeighted:
    """A level that changes at events, with its time integral and time above a threshold.

    Used for caseloads, bed, HAT and rehab occupancy. ``area`` is level x days.
    """

    __slots__ = ("level", "last", "area", "peak", "over_days", "threshold")

    def __init__(self, level: float = 0.0, threshold: float = float("inf")) -> None:
        self.level = level
        self.last = 0.0
        self.area = 0.0
        self.peak = level
        self.over_days = 0.0
        self.threshold = threshold

    def update(self, now: float, level: float) -> None:
        """Set the level to ``level`` at day ``now``."""
        dt = now - self.last
        if dt > 0:
            self.area += self.level * dt
            if self.level > self.threshold:
                self.over_days += dt
            self.last = now
        self.level = level
        if level > self.peak:
            self.peak = level

    def read(self, now: float) -> tuple[float, float, float]:
        """(area, over_days, peak) up to day ``now`` (without changing the level)."""
        self.update(now, self.level)
        return self.area, self.over_days, self.peak

    def reset_peak(self) -> None:
        """Start a new period for the peak."""
        self.peak = self.level
