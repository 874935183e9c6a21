"""Services with limited capacity: keyworker caseloads, triage, beds, HAT, rehab budget.

Each service keeps its own first-come-first-served waiting list and its own
time-weighted monitor. They are written directly on SimPy events rather than on
``simpy.Resource`` because their capacity changes during a run (a policy adds staff or
beds, a clinic closes) and because a person who is admitted at once should not cost
an event at all. A service knows only the values it needs (places, slots, a budget);
the world sets new ones when a policy changes them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import deque
from collections.abc import Generator
from typing import Any, Final

import simpy

from ..vocab import DAYS_PER_YEAR, WEEK_DAYS
from .kernel import Env, Life, Wait, clock, pending, succeed, timeout

GOOD_PRACTICE_CASELOAD: Final = 40.0
"""Caseload per keyworker above which days are counted as over good practice (Black review)."""
QUEUE_MODE: Final = "queue"
"""Keyworker mode with a hard caseload cap and a waiting list (else: pressure mode)."""
HISTORY_DAYS: Final = 91.0
"""Days of caseload history kept: a review interval (84 days) and a week to spare."""


class TimeWeighted:
    """A level that changes at events, with its time integral and time above a threshold.

    Used for caseloads, bed, HAT and rehab occupancy. ``area`` is level x days;
    ``over_days`` is days with the level above ``threshold``.
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


class Pool:
    """Places that people hold, with a FIFO waiting list.

    :param env: the SimPy environment.
    :param capacity: places (``math.inf`` for no limit); may change during the run.
    """

    def __init__(self, env: Env, capacity: float) -> None:
        self.env = env
        self.capacity = capacity
        self.count = 0
        self.queue: deque[simpy.Event] = deque()
        self.occupancy = TimeWeighted(0.0)
        self.waiting = TimeWeighted(0.0)

    def acquire(self) -> simpy.Event | None:
        """Take a place: ``None`` if one was free, else an event that fires when one is."""
        if self.count < self.capacity and not self.queue:
            self._set(self.count + 1)
            return None
        ev = pending(self.env)
        self.queue.append(ev)
        self.waiting.update(clock(self.env), len(self.queue))
        return ev

    def try_acquire(self) -> bool:
        """Take a place if one is free now, without joining the waiting list."""
        if self.count < self.capacity and not self.queue:
            self._set(self.count + 1)
            return True
        return False

    def force_acquire(self) -> None:
        """Take a place even above capacity (people already in treatment on day 0)."""
        self._set(self.count + 1)

    def cancel(self, ev: simpy.Event) -> None:
        """Leave the waiting list (the person gave up, died, or stopped waiting)."""
        try:
            self.queue.remove(ev)
        except ValueError:  # already admitted: hand the place back
            if ev.triggered:
                self.release()
            return
        self.waiting.update(clock(self.env), len(self.queue))

    def release(self) -> None:
        """Give a place back and admit whoever waits longest."""
        self._set(self.count - 1)
        self._admit()

    def set_capacity(self, capacity: float) -> None:
        """Change the number of places; nobody is evicted if it falls below the count."""
        self.capacity = capacity
        self._admit()

    def free(self) -> float:
        """Places free now (0 when over capacity)."""
        return max(0.0, self.capacity - self.count)

    def _admit(self) -> None:
        queue = self.queue
        admitted = False
        while queue and self.count < self.capacity:
            ev = queue.popleft()
            self._set(self.count + 1)
            succeed(ev)
            admitted = True
        if admitted:
            self.waiting.update(clock(self.env), len(queue))

    def _set(self, count: int) -> None:
        self.count = count
        self.occupancy.update(clock(self.env), count)


class KeyworkerPool(Pool):
    """Keyworker caseload places: ``staff`` x ``caseload_cap`` in queue mode, unlimited in
    pressure mode. Tracks caseload per worker (mean, peak, days over 40).

    :param staff: keyworkers (full-time equivalents).
    :param caseload_cap: places per keyworker in queue mode (people).
    """

    def __init__(self, env: Env, mode: str, staff: float,
                 caseload_cap: int) -> None:
        super().__init__(env, self.places(mode, staff, caseload_cap))
        self.staff = staff
        self.per_worker = TimeWeighted(0.0, threshold=GOOD_PRACTICE_CASELOAD)
        self.history_days: list[float] = [0.0]  # when the caseload per worker changed
        self.history: list[float] = [0.0]  # what it changed to (people per keyworker)

    @staticmethod
    def places(mode: str, staff: float, caseload_cap: int) -> float:
        """Caseload places (people) for ``mode``: a hard cap in queue mode, none in
        pressure mode."""
        return math.floor(staff * caseload_cap + 1e-9) if mode == QUEUE_MODE else math.inf

    def configure(self, mode: str, staff: float, caseload_cap: int) -> None:
        """Apply new staffing or a new cap (from a policy)."""
        self.staff = staff
        now = clock(self.env)
        self.per_worker.update(now, self.count / staff)
        self.history_days.append(now)
        self.history.append(self.count / staff)
        self.set_capacity(self.places(mode, staff, caseload_cap))

    def caseload(self) -> float:
        """People in treatment per keyworker now."""
        return self.count / self.staff

    def caseload_at(self, day: float) -> float:
        """People in treatment per keyworker on ``day`` (after every change that day), for
        a day no more than :data:`HISTORY_DAYS` ago."""
        return self.history[bisect_right(self.history_days, day) - 1]

    def forget_history(self) -> None:
        """Drop the caseload history older than :data:`HISTORY_DAYS` (keeping the value
        in force then)."""
        old = bisect_right(self.history_days, clock(self.env) - HISTORY_DAYS) - 1
        if old > 0:
            del self.history_days[:old]
            del self.history[:old]

    def _set(self, count: int) -> None:
        self.count = count
        now = clock(self.env)
        per_worker = count / self.staff
        self.occupancy.update(now, count)
        self.per_worker.update(now, per_worker)
        self.history_days.append(now)
        self.history.append(per_worker)


class TriageClinic:
    """Assessments with a weekly capacity; unassessed referrals wait for the next week.

    Weeks start on day 0, 7, 14, ... Each week has ``capacity_per_week`` slots; a referral
    takes a slot at once if the week still has one, otherwise it waits (first come,
    first served) for the start of a week with a free slot. A capacity of ``None`` means
    no limit and no wait.
    """

    def __init__(self, env: Env, capacity_per_week: int | None) -> None:
        self.env = env
        self.capacity_per_week = capacity_per_week
        self.queue: deque[simpy.Event] = deque()
        self.slots_left = capacity_per_week or 0
        self.waiting = TimeWeighted(0.0)
        Life(env, self._weeks())

    def set_capacity(self, capacity_per_week: int | None) -> None:
        """New assessments a week (from a policy); this week's slots left stay as they are."""
        self.capacity_per_week = capacity_per_week

    def request(self) -> simpy.Event | None:
        """Ask for an assessment: ``None`` if it happens now, else an event for later."""
        capacity = self.capacity_per_week
        if capacity is None or (self.slots_left > 0 and not self.queue):
            if capacity is not None:
                self.slots_left -= 1
            return None
        ev = pending(self.env)
        self.queue.append(ev)
        self.waiting.update(clock(self.env), len(self.queue))
        return ev

    def cancel(self, ev: simpy.Event) -> None:
        """Leave the triage waiting list."""
        try:
            self.queue.remove(ev)
            self.waiting.update(clock(self.env), len(self.queue))
        except ValueError:
            pass

    def _weeks(self) -> Generator[Wait, Any, None]:
        while True:
            yield timeout(self.env, WEEK_DAYS)
            capacity = self.capacity_per_week
            queue = self.queue
            if capacity is None:
                admitted = len(queue)
            else:
                admitted = min(capacity, len(queue))
                self.slots_left = capacity - admitted
            for _ in range(admitted):
                succeed(queue.popleft())
            if admitted:
                self.waiting.update(clock(self.env), len(queue))


class RehabBudget:
    """Residential rehab placements bought from a budget that resets every 1 April.

    :param budget_per_year_gbp: the annual budget in pounds (the first, part year gets
        its share).
    :param first_reset_day: day of the first 1 April after the start (0 if the run
        starts on one).
    """

    def __init__(self, env: Env, budget_per_year_gbp: float,
                 first_reset_day: float) -> None:
        self.env = env
        self.budget_per_year_gbp = budget_per_year_gbp
        self.remaining = budget_per_year_gbp * (
            first_reset_day / DAYS_PER_YEAR if first_reset_day > 0 else 1.0
        )
        self._next_reset = first_reset_day if first_reset_day > 0 else DAYS_PER_YEAR
        Life(env, self._years(first_reset_day))

    def fund(self, cost_gbp: float, force: bool = False) -> bool:
        """Commit ``cost_gbp`` pounds if the year's budget allows (always, with ``force``)."""
        if force or cost_gbp <= self.remaining:
            self.remaining -= cost_gbp
            return True
        return False

    def set_budget(self, budget_per_year_gbp: float) -> None:
        """A policy set the annual budget: pro-rate any change over the rest of the year."""
        old = self.budget_per_year_gbp
        if budget_per_year_gbp != old:
            left = self._next_reset - clock(self.env)
            self.remaining += (budget_per_year_gbp - old) * max(0.0, left) / DAYS_PER_YEAR
        self.budget_per_year_gbp = budget_per_year_gbp

    def _years(self, first: float) -> Generator[Wait, Any, None]:
        self._next_reset = first if first > 0 else DAYS_PER_YEAR
        if first > 0:
            yield timeout(self.env, first)
        else:
            yield timeout(self.env, DAYS_PER_YEAR)
        while True:
            self.remaining = self.budget_per_year_gbp
            self._next_reset = clock(self.env) + DAYS_PER_YEAR
            yield timeout(self.env, DAYS_PER_YEAR)
