"""Services with limited capacity: keyworker caseloads, triage, beds, HAT, rehab budget.

Each service keeps its own first-come-first-served waiting list and its own
time-weighted monitor. They are written directly on SimPy events rather than on
``simpy.Resource`` because their capacity changes during a run (a policy adds staff or
beds, a clinic closes) and because a person who is admitted at once should not cost
an event at all.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import simpy

from .monitor import TimeWeighted

GOOD_PRACTICE_CASELOAD = 40.0
"""Caseload per keyworker above which days are counted as over good practice (Black review)."""


class Pool:
    """Places that people hold, with a FIFO waiting list.

    :param env: the SimPy environment.
    :param capacity: places (``math.inf`` for no limit); may change during the run.
    """

    def __init__(self, env: simpy.Environment, capacity: float) -> None:
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
        ev = self.env.event()
        self.queue.append(ev)
        self.waiting.update(self.env.now, len(self.queue))
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
        self.waiting.update(self.env.now, len(self.queue))

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
        q = self.queue
        admitted = False
        while q and self.count < self.capacity:
            ev = q.popleft()
            self._set(self.count + 1)
            ev.succeed()
            admitted = True
        if admitted:
            self.waiting.update(self.env.now, len(q))

    def _set(self, count: int) -> None:
        self.count = count
        self.occupancy.update(self.env.now, count)


class KeyworkerPool(Pool):
    """Keyworker caseload places: ``staff`` x ``caseload_cap`` in queue mode, unlimited in
    pressure mode. Tracks caseload per worker (mean, peak, days over 40).
    """

    def __init__(self, env: simpy.Environment, mode: str, staff: float, cap: int) -> None:
        super().__init__(env, self.places(mode, staff, cap))
        self.staff = staff
        self.per_worker = TimeWeighted(0.0, threshold=GOOD_PRACTICE_CASELOAD)

    @staticmethod
    def places(mode: str, staff: float, cap: int) -> float:
        """Caseload places for ``mode``: a hard cap in queue mode, none in pressure mode."""
        return math.floor(staff * cap + 1e-9) if mode == "queue" else math.inf

    def configure(self, mode: str, staff: float, cap: int) -> None:
        """Apply new staffing or a new cap (from a policy)."""
        self.staff = staff
        self.per_worker.update(self.env.now, self.count / staff)
        self.set_capacity(self.places(mode, staff, cap))

    def caseload(self) -> float:
        """People in treatment per keyworker now."""
        return self.count / self.staff

    def _set(self, count: int) -> None:
        self.count = count
        now = self.env.now
        self.occupancy.update(now, count)
        self.per_worker.update(now, count / self.staff)


class TriageClinic:
    """Assessments with a weekly capacity; unassessed referrals wait for the next week.

    Weeks start on day 0, 7, 14, ... Each week has ``capacity`` slots; a referral takes
    a slot at once if the week still has one, otherwise it waits (first come, first
    served) for the start of a week with a free slot. ``capacity`` of ``None`` means no
    limit and no wait.
    """

    def __init__(self, env: simpy.Environment, model: Any) -> None:
        self.env = env
        self.model = model
        self.queue: deque[simpy.Event] = deque()
        self.slots_left = self._capacity() or 0
        self.waiting = TimeWeighted(0.0)
        env.process(self._weeks())

    def _capacity(self) -> int | None:
        return self.model.p.triage.capacity_per_week

    def request(self) -> simpy.Event | None:
        """Ask for an assessment: ``None`` if it happens now, else an event for later."""
        cap = self._capacity()
        if cap is None or (self.slots_left > 0 and not self.queue):
            if cap is not None:
                self.slots_left -= 1
            return None
        ev = self.env.event()
        self.queue.append(ev)
        self.waiting.update(self.env.now, len(self.queue))
        return ev

    def cancel(self, ev: simpy.Event) -> None:
        """Leave the triage waiting list."""
        try:
            self.queue.remove(ev)
            self.waiting.update(self.env.now, len(self.queue))
        except ValueError:
            pass

    def _weeks(self) -> Any:
        while True:
            yield self.env.timeout(7.0)
            cap = self._capacity()
            q = self.queue
            if cap is None:
                n = len(q)
            else:
                n = min(cap, len(q))
                self.slots_left = cap - n
            for _ in range(n):
                q.popleft().succeed()
            if n:
                self.waiting.update(self.env.now, len(q))


class RehabBudget:
    """Residential rehab placements bought from a budget that resets every 1 April.

    :param first_reset_day: day of the first 1 April after the start.
    """

    def __init__(self, env: simpy.Environment, model: Any, first_reset_day: float) -> None:
        self.env = env
        self.model = model
        self.remaining = model.p.modalities.rehab.budget_per_year_gbp * (
            first_reset_day / 365.0 if first_reset_day > 0 else 1.0
        )
        env.process(self._years(first_reset_day))

    def fund(self, cost_gbp: float, force: bool = False) -> bool:
        """Commit ``cost_gbp`` if the year's budget allows (always, with ``force``)."""
        if force or cost_gbp <= self.remaining:
            self.remaining -= cost_gbp
            return True
        return False

    def adjust(self, old_budget: float, new_budget: float) -> None:
        """A policy changed the annual budget: pro-rate the change over the rest of the year."""
        left = self._next_reset - self.env.now
        self.remaining += (new_budget - old_budget) * max(0.0, left) / 365.0

    def _years(self, first: float) -> Any:
        self._next_reset = first if first > 0 else 365.0
        if first > 0:
            yield self.env.timeout(first)
        else:
            yield self.env.timeout(365.0)
        while True:
            self.remaining = self.model.p.modalities.rehab.budget_per_year_gbp
            self._next_reset = self.env.now + 365.0
            yield self.env.timeout(365.0)
