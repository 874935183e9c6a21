"""The model against queueing theory where theory is exact.

With Poisson referrals, exponential times in treatment and a hard cap of c keyworker
places (and nothing else: no deaths, no triage limit, no re-referral) the keyworker
queue is an M/M/c queue, whose mean wait is given by Erlang's C formula. Little's law
(L = lambda W) must hold on the model's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import example_data, pathway_structure, with_overrides

import sim
from benchmarks.scenarios import erlang_c_wait, mmc_scenario
from sim.metrics import replication_tables
from sim.model import simulate
from sim.scenario import parse_scenario
from sim.stats import t_interval

pytestmark = pytest.mark.model


@pytest.mark.slow
def test_keyworker_wait_matches_erlang_c():
    lam, mean_days, c = 131.4, 50.0, 20  # rho = 0.9
    sc = mmc_scenario(lam, mean_days, c)
    theory = erlang_c_wait(lam / 365.0, 1 / mean_days, c)
    res = sim.run(sc, reps=20, seed=7)
    waits = []
    for _rep, people in res.people.groupby("rep"):
        starts = people[people["start_day"] >= 365.0 * sc.run.warmup_years]
        waits.append(starts["wait_keyworker_days"].mean())
    mean, _, lo, hi, n = t_interval(waits)
    assert n == 20
    assert 5 < theory < 20  # a wait long enough to be a real test
    assert lo <= theory <= hi, (theory, mean, lo, hi)
    # and the queue really was the bottleneck: utilisation near rho
    busy = res.summary.set_index("metric").loc["caseload_mean", "mean"]
    assert abs(busy - 0.9 * c) < 0.1 * c


def test_erlang_c_formula_known_value():
    # M/M/1: Wq = rho / (mu - lam); M/M/2 with a=1: C = 1/3
    assert math.isclose(erlang_c_wait(0.5, 1.0, 1), 0.5 / (1.0 - 0.5))
    assert math.isclose(erlang_c_wait(1.0, 1.0, 2), (1 / 3) / (2 - 1))


def _window_l_and_entries(sc: sim.Scenario, seed: int, rep: int):
    rec = simulate(sc, seed, rep)
    people = replication_tables(rec, sc.name, rep, seed)["people"]
    t0 = 365.0 * sc.run.warmup_years
    t1 = t0 + 365.0 * sc.run.years
    snaps = {round(s["day"]): s for s in rec.snapshots}
    area = snaps[round(t1)]["area_in_treatment"] - snaps[round(t0)]["area_in_treatment"]
    return rec, people, t0, t1, area


@pytest.mark.parametrize("structure", [False, True], ids=["example", "pathway_structure"])
def test_time_in_treatment_adds_up_sample_path(structure):
    """The monitor's integral of people in treatment over the reporting years equals the
    sum, over episodes, of the days each spent in treatment inside those years (with
    England's pathway structure too, where a transfer within the area splits a stay)."""
    sc = parse_scenario(with_overrides(example_data(), {
        "population.initial.community": 300, "population.initial.in_treatment": 300,
        "population.incidence_per_year": 45, "keyworkers.staff": 6,
        "run.warmup_years": 1, "run.years": 3, **(pathway_structure() if structure else {})}))
    _, people, t0, t1, area = _window_l_and_entries(sc, 5, 0)
    tx = people[people["start_day"].notna()]
    end = tx["exit_day"].fillna(np.inf)
    inside = (np.minimum(end, t1) - np.maximum(tx["start_day"], t0)).clip(lower=0)
    assert math.isclose(inside.sum(), area, rel_tol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("structure", [False, True], ids=["example", "pathway_structure"])
def test_littles_law_on_the_models_own_output(structure):
    """In steady state, mean number in treatment = entry rate x mean time in treatment.

    The variant has exponential stays of a few months so that a 3-year warm-up reaches
    steady state, and long follow-up so that every entry's whole stay is observed. With
    England's pathway structure on, an entry is any episode start, a transfer within the
    area included."""
    sc = parse_scenario(with_overrides(example_data(), {
        "population.initial.community": 400, "population.initial.in_treatment": 200,
        "population.initial.time_in_treatment": {"dist": "exponential", "mean_days": 150},
        "population.incidence_per_year": 60, "keyworkers.staff": 6,
        "modalities.hat.places": 3,
        "modalities.ost.dropout": {"dist": "exponential", "mean_days": 300},
        "modalities.hat.dropout": {"dist": "exponential", "mean_days": 300},
        "run.warmup_years": 3, "run.years": 6, "run.follow_up_days": 365 * 8,
        **(pathway_structure() if structure else {}),
    }))
    rel = []
    for rep in range(10):
        _, people, t0, t1, area = _window_l_and_entries(sc, 99, rep)
        big_l = area / (t1 - t0)
        entries = people[(people["start_day"] >= t0) & (people["start_day"] < t1)]
        assert (entries["exit_reason"] != "ongoing").mean() > 0.995
        lam = len(entries) / (t1 - t0)
        w = entries["days_in_treatment"].mean()
        rel.append((big_l - lam * w) / big_l)
    mean, _, lo, hi, _ = t_interval(np.array(rel))
    assert lo <= 0 <= hi, (mean, lo, hi)
    assert hi - lo < 0.05  # the interval is tight enough to mean something
