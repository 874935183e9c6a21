"""Pure functions for hazards: competing risks, cumulative-hazard budgets, multipliers.

Nothing here draws a random number or touches the simulation: callers pass the draws
(uniforms, unit exponentials) in, so the order of draws stays visible in the stages.
Times are in days and rates per day unless a name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

from ..vocab import DAYS_PER_YEAR

INF: Final = math.inf
EPS: Final = 1e-9
"""Days: a wait that ends within this of a boundary has reached it (float rounding)."""
PAST: Final = EPS / 2
"""Days: a wait for a boundary (a policy date, the end of a window) ends this far past
it, so that whatever happens on the boundary itself (a policy coming into force) has
happened, whatever the rounding of ``now + (boundary - now)``."""
MONTH_DAYS: Final = DAYS_PER_YEAR / 12
"""Days in a model month (snapshots are taken every month)."""


def soonest(a: float, b: float, c: float = INF, d: float = INF, e: float = INF,
            f: float = INF) -> float:
    """The least of up to six days (``min`` of them, in two-argument steps that compiled
    code does without a call into Python)."""
    return min(min(min(a, b), min(c, d)), min(e, f))


class CumulativeHazard(Protocol):
    """A duration distribution given by its cumulative hazard ``H(t)`` (``t`` in days)."""

    def cumhaz(self, t: float) -> float:
        """``H(t)``: the cumulative hazard at ``t`` days."""

    def inv_cumhaz(self, h: float) -> float:
        """The day ``t`` at which ``H(t) = h``."""


def interp(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear interpolation of ``ys`` over ``xs``, flat beyond the ends."""
    if len(xs) == 1 or x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            x0, x1 = xs[i - 1], xs[i]
            return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0)
    return ys[-1]  # pragma: no cover


def pick(rates: Sequence[float], u: float) -> int:
    """Which of several competing exponential clocks rang first.

    ``u`` is a uniform draw in ``[0, sum(rates))``; returns the index of the clock whose
    share of the total rate it falls in (clocks with rate 0 never ring). Rates may be in
    any unit, as long as ``u`` is scaled by their sum.
    """
    last = 0
    for i, r in enumerate(rates):
        if r > 0:
            last = i
            u -= r
            if u < 0:
                return i
    return last


def draw_from(shares: Mapping[str, float], u: float) -> str:
    """The level whose cumulative share first exceeds ``u`` (a uniform draw in [0, 1))."""
    acc = 0.0
    last = ""
    for level, share in shares.items():
        if share <= 0:
            continue
        acc += share
        last = level
        if u < acc:
            return level
    return last


def multiplier(table: Mapping[str, Mapping[str, float]], attrs: Mapping[str, str]) -> float:
    """Product of the factors in ``table`` that apply to a person with ``attrs`` (no unit)."""
    m = 1.0
    for attr, row in table.items():
        level = attrs.get(attr)
        if level is not None:
            m *= row.get(level, 1.0)
    return m


def death_rate_per_day(per_100_person_years: float, factor: float) -> float:
    """Per-day death hazard from a rate per 100 person-years times ``factor`` (0 if none)."""
    if per_100_person_years <= 0:
        return 0.0
    return per_100_person_years * factor / (100.0 * DAYS_PER_YEAR)


class ExitWindow(Protocol):
    """A window of raised mortality after leaving treatment."""

    until_day: float
    per_100_person_years: float


def post_exit_rate(windows: Iterable[ExitWindow], exit_day: float | None, now: float,
                   base: float) -> tuple[float, float]:
    """(rate per 100 person-years, day it stops applying) at day ``now``.

    A person who left treatment on ``exit_day`` has the rate of the first window they are
    still in; otherwise (or if they never left treatment) ``base``, for ever.
    """
    if exit_day is None:
        return base, INF
    since = now - exit_day
    for window in windows:
        if since < window.until_day - EPS:
            return window.per_100_person_years, exit_day + window.until_day
    return base, INF


def next_boundary(days: Iterable[float], now: float) -> float:
    """The first of ``days`` (sorted, in days) after ``now``; ``inf`` if none."""
    for day in days:
        if day > now + EPS:
            return day
    return INF


def hazard_crossing(budget: float, factor: float, dist: CumulativeHazard, start: float,
                    stop: float) -> tuple[float, float]:
    """Where a cumulative-hazard budget runs out between ``start`` and ``stop``.

    A person holds a unit-exponential ``budget`` and leaves when ``factor x dH`` on the
    distribution's own clock (days) reaches it. Returns ``(delay, used)``: days after
    ``start`` at which it runs out (``inf`` if not before ``stop``) and the hazard
    ``factor x (H(stop) - H(start))`` used over the whole interval.
    """
    h0 = dist.cumhaz(start)
    used = factor * (dist.cumhaz(stop) - h0)
    if factor > 0 and budget <= used:
        return dist.inv_cumhaz(h0 + budget / factor) - start, used
    return INF, used


def delay_after_induction(unit: float, t: float, induction_days: float, induction_rate: float,
                          rate: float) -> float:
    """Days until a unit-exponential ``unit`` of hazard is used, ``t`` days into a stay
    whose hazard is ``induction_rate`` (per day) until ``induction_days`` and ``rate``
    after; ``inf`` when it never is."""
    if t < induction_days:
        first = induction_rate * (induction_days - t)
        if unit < first:
            return unit / induction_rate
        return (induction_days - t) + ((unit - first) / rate if rate > 0 else INF)
    return unit / rate if rate > 0 else INF
