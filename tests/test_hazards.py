"""Unit tests for :mod:`sim.model.hazards`: the pure functions behind every wait."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from sim.distributions import Exponential, Weibull
from sim.model.hazards import (
    EPS,
    INF,
    death_rate_per_day,
    delay_after_induction,
    draw_from,
    hazard_crossing,
    interp,
    multiplier,
    next_boundary,
    pick,
    post_exit_rate,
)
from sim.vocab import DAYS_PER_YEAR

pytestmark = pytest.mark.unit

# --------------------------------------------------------------------------- interp


def test_interp_is_flat_beyond_the_ends_and_linear_between():
    xs, ys = [10.0, 20.0, 40.0], [1.0, 2.0, 4.0]
    assert interp(0.0, xs, ys) == 1.0
    assert interp(10.0, xs, ys) == 1.0
    assert interp(15.0, xs, ys) == 1.5
    assert interp(30.0, xs, ys) == 3.0
    assert interp(40.0, xs, ys) == 4.0
    assert interp(99.0, xs, ys) == 4.0


def test_interp_with_one_point_is_constant():
    assert interp(-5.0, [40.0], [1.3]) == 1.3
    assert interp(500.0, [40.0], [1.3]) == 1.3


# --------------------------------------------------------------------------- competing risks


def test_pick_splits_the_total_rate_in_order():
    rates = (1.0, 0.0, 3.0)
    assert pick(rates, 0.0) == 0
    assert pick(rates, 0.999) == 0
    assert pick(rates, 1.0) == 2  # the zero-rate clock never rings
    assert pick(rates, 3.999) == 2


def test_pick_falls_back_to_the_last_live_clock_on_rounding():
    assert pick((1.0, 2.0, 0.0), 3.0) == 1


def test_pick_frequencies_match_the_rate_shares():
    rng = random.Random(1)
    rates = (0.5, 1.5, 2.0)
    total = sum(rates)
    n = 40_000
    counts = [0, 0, 0]
    for _ in range(n):
        counts[pick(rates, rng.random() * total)] += 1
    for count, rate in zip(counts, rates, strict=True):
        assert count / n == pytest.approx(rate / total, abs=0.01)


def test_draw_from_uses_cumulative_shares_and_skips_empty_levels():
    shares = {"a": 0.2, "none": 0.0, "b": 0.5, "c": 0.3}
    assert draw_from(shares, 0.0) == "a"
    assert draw_from(shares, 0.2) == "b"
    assert draw_from(shares, 0.69) == "b"
    assert draw_from(shares, 0.7) == "c"
    assert draw_from(shares, 0.9999999) == "c"
    assert draw_from({"a": 0.5, "b": 0.0}, 0.9) == "a"  # shares short of 1: the last level


# --------------------------------------------------------------------------- multipliers


def test_multiplier_multiplies_the_factors_that_apply():
    table = {"sex": {"male": 1.5}, "injecting": {"true": 2.0, "false": 0.5},
             "housing_need": {"true": 3.0}}
    attrs = {"sex": "male", "injecting": "true", "housing_need": "false"}
    assert multiplier(table, attrs) == 3.0
    assert multiplier(table, {}) == 1.0
    assert multiplier({}, attrs) == 1.0


def test_death_rate_per_day_from_per_100_person_years():
    assert death_rate_per_day(0.0, 2.0) == 0.0
    assert death_rate_per_day(-1.0, 2.0) == 0.0
    assert death_rate_per_day(1.0, 2.0) == pytest.approx(2.0 / (100.0 * DAYS_PER_YEAR))


# --------------------------------------------------------------------------- windows and boundaries


@dataclass
class _Window:
    until_day: float
    per_100_person_years: float


def test_post_exit_rate_walks_the_windows():
    windows = [_Window(14.0, 10.0), _Window(28.0, 5.0)]
    assert post_exit_rate(windows, None, 100.0, 1.0) == (1.0, INF)
    assert post_exit_rate(windows, 100.0, 100.0, 1.0) == (10.0, 114.0)
    assert post_exit_rate(windows, 100.0, 113.0, 1.0) == (10.0, 114.0)
    assert post_exit_rate(windows, 100.0, 114.0, 1.0) == (5.0, 128.0)
    assert post_exit_rate(windows, 100.0, 128.0, 1.0) == (1.0, INF)
    # within EPS of a window's end counts as past it
    assert post_exit_rate(windows, 100.0, 114.0 - EPS / 2, 1.0) == (5.0, 128.0)


def test_next_boundary_is_strictly_after_now():
    days = [10.0, 20.0]
    assert next_boundary(days, 0.0) == 10.0
    assert next_boundary(days, 10.0) == 20.0
    assert next_boundary(days, 10.0 - EPS / 2) == 20.0
    assert next_boundary(days, 20.0) == INF
    assert next_boundary([], 0.0) == INF


# --------------------------------------------------------------------------- cumulative hazards


def test_hazard_crossing_on_an_exponential_clock():
    dist = Exponential(dist="exponential", mean_days=100.0)
    # budget 0.5 at twice the hazard: runs out after 25 days
    delay, used = hazard_crossing(0.5, 2.0, dist, 10.0, 60.0)
    assert delay == pytest.approx(25.0)
    assert used == pytest.approx(1.0)
    # not enough hazard before the stop: never in this interval
    delay, used = hazard_crossing(2.0, 1.0, dist, 0.0, 50.0)
    assert delay == INF and used == pytest.approx(0.5)


def test_hazard_crossing_with_no_hazard_never_crosses():
    dist = Exponential(dist="exponential", mean_days=100.0)
    assert hazard_crossing(0.0, 0.0, dist, 0.0, 50.0) == (INF, 0.0)


def test_hazard_crossing_budgets_carry_over_intervals():
    """Spending a budget interval by interval lands where one long interval would."""
    dist = Weibull(dist="weibull", shape=0.7, scale_days=200.0)
    budget, factor = 1.3, 1.0
    whole, _ = hazard_crossing(budget, factor, dist, 0.0, 10_000.0)
    start = 0.0
    while True:
        delay, used = hazard_crossing(budget, factor, dist, start, start + 84.0)
        if delay < INF:
            assert start + delay == pytest.approx(whole)
            break
        budget -= used
        start += 84.0


def test_hazard_crossing_matches_the_distribution():
    """With factor 1, the crossing of a unit-exponential budget is a draw of the duration."""
    dist = Weibull(dist="weibull", shape=1.5, scale_days=90.0)
    rng = random.Random(3)
    draws = [hazard_crossing(rng.expovariate(1.0), 1.0, dist, 0.0, INF)[0]
             for _ in range(20_000)]
    assert sum(draws) / len(draws) == pytest.approx(dist.mean(), rel=0.02)


# --------------------------------------------------------------------------- induction


def test_delay_after_induction_piecewise_hazard():
    # 0.1 a day for the first 14 days, 0.01 after
    assert delay_after_induction(0.7, 0.0, 14.0, 0.1, 0.01) == pytest.approx(7.0)
    # 1.4 used in the induction, the other 0.1 at 0.01 a day
    assert delay_after_induction(1.5, 0.0, 14.0, 0.1, 0.01) == pytest.approx(14.0 + 10.0)
    # already 10 days in: only 4 induction days left
    assert delay_after_induction(0.2, 10.0, 14.0, 0.1, 0.01) == pytest.approx(2.0)
    # past the induction
    assert delay_after_induction(0.5, 20.0, 14.0, 0.1, 0.01) == pytest.approx(50.0)


def test_delay_after_induction_without_hazard_is_never():
    assert delay_after_induction(0.5, 20.0, 14.0, 0.1, 0.0) == INF
    assert delay_after_induction(2.0, 0.0, 14.0, 0.1, 0.0) == INF
    assert delay_after_induction(0.5, 0.0, 0.0, 0.0, 0.0) == INF
    assert math.isfinite(delay_after_induction(0.5, 0.0, 0.0, 0.0, 1.0))
