"""What-if comparisons: common random numbers pay, directions a commissioner expects
hold, a scenario compared with itself differs by exactly zero, and the report renders."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small

import sim
from sim.analysis.compare import compare, mser_truncation
from sim.model import Model
from sim.stats import per_replication
from sim.streams import Streams

pytestmark = pytest.mark.model


def _cap(staff: float) -> sim.Scenario:
    return small({"name": f"cap40_staff{staff:g}".replace(".", "_"), "keyworkers.mode": "queue",
                  "keyworkers.caseload_cap": 40, "keyworkers.staff": staff,
                  "keyworkers.waiting_abandonment.per_year": 0.5})


def _values(yearly, scenario, metric):
    reps = per_replication(yearly)
    sel = reps[(reps["scenario"] == scenario) & (reps["metric"] == metric)]
    return sel.sort_values("rep")["value"].to_numpy()


@pytest.mark.slow
def test_scenario_compared_with_itself_differs_by_exactly_zero():
    base = small()
    twin = small({"name": "twin"})
    cmp = compare(base, [twin], reps=3, seed=4)
    assert len(cmp.comparison) > 50
    assert (cmp.comparison["diff_mean"].fillna(0) == 0).all()
    assert (cmp.comparison["ci_low"].fillna(0) == 0).all()
    assert (cmp.comparison["ci_high"].fillna(0) == 0).all()


@pytest.mark.slow
def test_common_random_numbers_reduce_the_variance_of_differences():
    """Caseload cap with today's staff against the pressure-mode base: the paired
    difference (same seed) varies less than the difference of independent runs."""
    base, capped = small(), _cap(5)
    paired = compare(base, [capped], reps=10, seed=1).yearly()
    independent = sim.run(capped, reps=10, seed=999).yearly
    for metric in ("in_treatment_during", "successful_completions", "cost_total_gbp",
                   "new_presentations", "deaths"):
        b = _values(paired, base.name, metric)
        d_crn = _values(paired, capped.name, metric) - b
        d_ind = _values(independent, capped.name, metric) - b
        assert np.var(d_crn, ddof=1) < np.var(d_ind, ddof=1), metric


@pytest.mark.slow
def test_a_cap_with_todays_staff_lengthens_waits_and_more_staff_shortens_them():
    """Today: 4 keyworkers carrying about 50 each. A cap of 40 with the same staff makes
    people wait; 5.5 keyworkers under the cap shortens the waits again."""
    base, cap_today, cap_staffed = small({"keyworkers.staff": 4}), _cap(4), _cap(5.5)
    cmp = compare(base, [cap_today, cap_staffed], reps=6, seed=3)
    d = cmp.comparison.set_index(["scenario", "metric"])
    longer = d.loc[(cap_today.name, "wait_treatment_mean_days")]
    assert longer["ci_low"] > 0  # clearly longer than without a cap
    y = cmp.yearly()
    today = _values(y, cap_today.name, "wait_treatment_mean_days")
    staffed = _values(y, cap_staffed.name, "wait_treatment_mean_days")
    diff = staffed - today
    assert diff.mean() < 0 and diff.max() < 0  # shorter in every replication
    assert d.loc[(cap_staffed.name, "cost_keyworkers_gbp"), "ci_low"] > 0  # and costs more


@pytest.mark.slow
def test_ending_hat_frees_its_fixed_cost_and_moves_every_patient():
    base = small({"modalities.hat.places": 8, "entry.opiate": {"ost": 0.8, "hat": 0.2}})
    end = small({"name": "hat_end", "modalities.hat.places": 8,
                 "entry.opiate": {"ost": 0.8, "hat": 0.2},
                 "policies": [{"date": "2023-04-01", "close": "hat",
                               "transition": {"detox": 0.3, "rehab": 0.2,
                                              "ost_long_acting": 0.5}}]})
    cmp = compare(base, [end], reps=4, seed=5)
    d = cmp.comparison.set_index(["scenario", "metric"])
    freed = d.loc[("hat_end", "cost_hat_fixed_gbp")]
    assert freed["diff_mean"] == pytest.approx(-250_000)  # the whole reporting year
    assert d.loc[("hat_end", "hat_patients_mean"), "ci_high"] < 0
    for rep in cmp.results["hat_end"].reps:
        model = Model(end, Streams(5, rep))
        model.start()
        day = end.day_of(end.policies[0].date)
        model.world.env.run(until=day - 1e-6)
        before = {p.pid for p in model.world.occupants["hat"]}
        model.world.env.run(until=day + 1e-6)
        moved = {pid for _, pid, service, _ in model.world.monitor.transitions if service == "hat"}
        assert before and moved == before
        assert model.audit() == []


@pytest.mark.slow
def test_precision_adds_replications_until_headline_cis_are_tight():
    base = small()
    cmp = compare(base, [], precision=0.2, max_reps=12, seed=2)
    assert 10 <= cmp.reps <= 12
    assert "replications" in cmp.precision_note


def test_mser_finds_a_start_up_transient():
    rng = np.random.default_rng(1)
    series = np.concatenate([np.linspace(100, 0, 30), np.zeros(120)]) + rng.normal(0, 1, 150)
    cut = mser_truncation(series)
    assert 20 <= cut <= 40
    assert mser_truncation(rng.normal(0, 1, 150)) <= 15


def test_replications_needed_follows_the_normal_approximation():
    from sim.stats import replications_needed

    values = [90.0, 110.0] * 5  # mean 100, sd 10.54
    # (1.96 * 10.54 / (0.02 * 100))^2 = 106.7 -> 107; never fewer than already run
    assert replications_needed(values, 0.02) == 107
    assert replications_needed(values, 0.5) == 10
