"""Parameter uncertainty: priors, draws, judgement checks and the tornado."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, small
from scipy import stats

from sim.analysis.compare import compare
from sim.execute.executors import Executor
from sim.uncertainty.analysis import analyse, draw_settings
from sim.uncertainty.priors import EVIDENCE, Prior, PriorError, load_priors, uses

CASELOAD = [
    {"name": f"caseload_pressure_{part}", "kind": "judgement", "group": "caseload_effect",
     "label": "the effect of keyworker caseload", "value": value,
     "neutral": [1.0, 1.0, 1.0, 1.0], "low": [1.0, 1.0, 1.0, 1.0], "high": high,
     "source": "a stated judgement", "sets": [f"keyworkers.pressure.{part}_multiplier"],
     "prior": {"dist": "triangular", "low": [1.0, 1.0, 1.0, 1.0], "high": high,
               "basis": "judgement", "quote": "test"}}
    for part, value, high in (("dropout", [1.0, 1.15, 1.35, 1.6], [1.0, 1.3, 1.7, 2.2]),
                              ("completion", [1.0, 0.9, 0.8, 0.7], [1.0, 0.8, 0.65, 0.5]))
]


def _evidence(tmp_path, entries):
    path = tmp_path / "evidence.yaml"
    path.write_text(yaml.safe_dump({"evidence": entries}, sort_keys=False))
    return load_priors(path)


def _entry(name, value, dist, low=None, high=None, sets=(), kind=None):
    prior = {"dist": dist, "basis": "ci95", "quote": "test"}
    if low is not None:
        prior.update(low=low, high=high)
    out = {"name": name, "value": value, "source": "test", "sets": list(sets),
           "prior": prior}
    if kind:
        out["kind"] = kind
    return out


# ------------------------------------------------------------------ priors (unit)

@pytest.mark.unit
def test_quantiles_meet_the_stated_ends():
    ln = Prior("m", "m", "cited", "lognormal", 0.7, 0.5, 0.9)
    sigma = math.log(0.9 / 0.5) / (2 * 1.959964)
    assert ln.at(0.5) == pytest.approx(0.7)
    assert ln.at(0.975) == pytest.approx(0.7 * math.exp(sigma * 1.959964))
    beta = Prior("s", "s", "cited", "beta", 0.4, 0.3, 0.5)
    a, b = (beta.at(q) for q in (0.025, 0.975))
    assert b - a == pytest.approx(0.2, rel=1e-6)
    assert stats.beta.mean(*_beta_ab(beta)) == pytest.approx(0.4)
    tri = Prior("t", "t", "judgement", "triangular", [1.0, 0.9], [1.0, 1.0], [1.0, 0.5])
    assert tri.at(1e-12)[1] == pytest.approx(1.0, abs=1e-5)  # q near 0: the low end
    assert tri.at(1 - 1e-12)[1] == pytest.approx(0.5, abs=1e-5)
    assert tri.at(0.3)[0] == 1.0  # an element with no range stays put


def _beta_ab(prior):
    from sim.uncertainty.priors import _beta

    return _beta(prior.central, prior.low, prior.high)


@pytest.mark.unit
def test_a_group_moves_together_and_draws_are_seeded(tmp_path):
    priors = _evidence(tmp_path, CASELOAD)
    a, b = draw_settings(priors, 20, seed=3), draw_settings(priors, 20, seed=3)
    assert [s.values for s in a] == [s.values for s in b]
    for s in a:  # one quantile: drop-out up means completion down, in every draw
        up = stats.triang.cdf(s.values["caseload_pressure_dropout"][3], 0.5, 1.0, 1.2)
        down = stats.triang.cdf(s.values["caseload_pressure_completion"][3], 0.4, 0.5, 0.5)
        assert up == pytest.approx(1 - down, abs=1e-9)


@pytest.mark.unit
def test_bad_priors_name_the_file_line_and_key(tmp_path):
    with pytest.raises(PriorError, match=r"evidence.yaml:7: evidence.0.prior.dist: must be "
                                         r"one of .*got 'gamma' \(entry x\)"):
        _evidence(tmp_path, [_entry("x", 1.0, "gamma", 0.5, 2.0)])
    with pytest.raises(PriorError, match=r"evidence.yaml:\d+: evidence.0.prior: a lognormal "
                                         r"prior needs low and high \(entry y\)"):
        _evidence(tmp_path, [_entry("y", 1.0, "lognormal")])
    path = tmp_path / "e.yaml"
    path.write_text("evidence:\n  - {name: z, value: 1, sets: []}\n")
    with pytest.raises(PriorError, match=r"e.yaml:2: evidence.0.prior: missing \(entry z"):
        load_priors(path)


@pytest.mark.unit
def test_an_area_that_sets_its_own_value_is_not_drawn():
    prior = Prior("m", "m", "cited", "lognormal", 1.3, 1.0, 1.6,
                  paths=("mortality.community.per_100_person_years",))
    raw = small().model_dump(by_alias=True)
    assert uses(raw, prior) == ["mortality.community.per_100_person_years"]
    raw["mortality"]["community"]["per_100_person_years"] = 2.0
    assert uses(raw, prior) == []


@pytest.mark.unit
def test_every_evidence_prior_loads():
    priors = load_priors(EVIDENCE)
    assert any(p.drawn and p.kind == "judgement" for p in priors)
    for p in priors:  # the set value is inside every drawn range
        if p.drawn:
            for c, lo, hi in zip(*(np.atleast_1d(x) for x in (p.central, p.low, p.high)),
                                 strict=True):
                assert min(lo, hi) <= c <= max(lo, hi), p.name


# ------------------------------------------------------------------ analyses (model)

@pytest.fixture(scope="module")
def staffing():
    """Three keyworkers against ten for the same small area: the difference rests on the
    caseload judgement."""
    base = small({"name": "three", "keyworkers.staff": 3})
    alt = small({"name": "ten", "keyworkers.staff": 10})
    return compare(base, [alt], reps=4, seed=11)


@pytest.mark.model
def test_a_point_mass_prior_gives_the_monte_carlo_interval(staffing, tmp_path):
    priors = _evidence(tmp_path, [
        _entry("fixed_rate", 1.3, "fixed", sets=["mortality.community.per_100_person_years"]),
        _entry("no_spread", 0.7, "lognormal", 0.7, 0.7, sets=["mortality.in_treatment.ost"])])
    unc = analyse(staffing, priors, Executor(), draws=3, draw_reps=2, checks=False)
    merged = unc.intervals.merge(staffing.comparison, on=["scenario", "metric"])
    assert len(merged) >= 10
    for r in merged.itertuples():
        if math.isnan(r.ci_low):
            continue
        assert r.diff_mean_x == pytest.approx(r.diff_mean_y, abs=1e-12)
        assert (r.ui_low, r.ui_high) == pytest.approx((r.ci_low, r.ci_high), abs=1e-9)


@pytest.mark.model
def test_the_tornado_ranks_first_the_parameter_that_alone_moves_the_metric(staffing,
                                                                           tmp_path):
    priors = _evidence(tmp_path, [
        _entry("worker_cost", 38000, "lognormal", 30000, 48000,
               sets=["keyworkers.cost_per_worker_per_year_gbp"]),
        _entry("community_deaths", 1.3, "lognormal", 0.5, 6.0,
               sets=["mortality.community.per_100_person_years"])])
    unc = analyse(staffing, priors, Executor(), checks=False, drivers=True, check_reps=2)
    deaths = unc.tornado[unc.tornado["metric"] == "deaths"]
    assert list(deaths["parameter"]) == ["community_deaths", "worker_cost"]
    cost_row = deaths.iloc[1]
    assert cost_row["low_diff"] == cost_row["high_diff"]  # same runs: no effect at all
    assert deaths.iloc[0]["low_diff"] != deaths.iloc[0]["high_diff"]
    money = unc.tornado[unc.tornado["metric"] == "cost_total_gbp"]
    assert money.iloc[0]["parameter"] == "worker_cost"


@pytest.mark.model
def test_an_answer_resting_on_a_judgement_says_so(staffing, tmp_path):
    priors = _evidence(tmp_path, CASELOAD)
    main = staffing.comparison.set_index("metric").loc["planned_exit_share"]
    assert main["ci_low"] > 0  # more staff: clearly more planned exits, with the judgement
    unc = analyse(staffing, priors, Executor(), checks=True)
    low = unc.checks[(unc.checks["metric"] == "planned_exit_share")
                     & (unc.checks["setting"] == "low")].iloc[0]
    assert low["no_effect"] and low["moved"]
    central = unc.checks[(unc.checks["metric"] == "planned_exit_share")
                         & (unc.checks["setting"] == "central")].iloc[0]
    assert central["diff_mean"] == pytest.approx(main["diff_mean"])
    assert len(unc.warnings) == 1
    text = unc.warnings[0]
    assert text.startswith("This answer rests on a judgement, not a measurement: the effect "
                           "of keyworker caseload.")
    assert "With no effect, the difference in planned exits is" in text


# ------------------------------------------------------------------ the command (slow)

def _pair(tmp_path):
    from helpers import SMALL, example_data, with_overrides

    base = tmp_path / "three.yaml"
    alt = tmp_path / "ten.yaml"
    for path, staff in ((base, 3), (alt, 10)):
        data = with_overrides(example_data(), {**SMALL, "keyworkers.staff": staff})
        data["name"] = path.stem
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return base, alt


@pytest.mark.slow
def test_compare_draws_writes_uncertainty_intervals(tmp_path):
    import subprocess
    import sys

    base, alt = _pair(tmp_path)
    ev = tmp_path / "evidence.yaml"
    ev.write_text(yaml.safe_dump({"evidence": CASELOAD}, sort_keys=False))
    out = subprocess.run([sys.executable, "-m", "sim", "compare", str(base), str(alt),
                          "--reps", "3", "--draws", "4", "--draw-reps", "2", "--evidence",
                          str(ev), "--out", str(tmp_path / "out"), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "UI [" in out.stdout and "percentage points" in out.stdout
    table = pd.read_csv(tmp_path / "out" / "comparison.csv")
    cols = list(table.columns)
    assert cols.index("ui_low") > cols.index("ci_high")
    planned = table.set_index("metric").loc["planned_exit_share"]
    assert planned["ui_low"] <= planned["diff_mean"] <= planned["ui_high"]
    for name in ("draws", "judgement_checks"):
        assert (tmp_path / "out" / f"{name}.csv").exists()


@pytest.mark.slow
def test_compare_refuses_bad_uncertainty_options_before_running(tmp_path):
    import subprocess
    import sys

    base, alt = _pair(tmp_path)
    ev = tmp_path / "evidence.yaml"
    ev.write_text("evidence:\n  - {name: broken, value: 1, sets: []}\n")
    runs = [
        (["--evidence", str(ev)], "evidence.yaml:2: evidence.0.prior: missing (entry broken"),
        (["--report-pdf", str(tmp_path / "r.pdf")], "--report-pdf: needs --report"),
    ]
    for extra, message in runs:
        out = subprocess.run([sys.executable, "-m", "sim", "compare", str(base), str(alt),
                              "--reps", "2", "--out", str(tmp_path / "out"), *extra],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
        assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_draws_are_the_same_on_every_executor(staffing, tmp_path):
    priors = _evidence(tmp_path, [*CASELOAD, _entry(
        "community_deaths", 1.3, "lognormal", 0.5, 6.0,
        sets=["mortality.community.per_100_person_years"])])
    runs = [analyse(staffing, priors, executor, draws=3, draw_reps=1, checks=False)
            for executor in (Executor(), Executor(workers=2), Executor(dask_local=2))]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].intervals, other.intervals)
        pd.testing.assert_frame_equal(runs[0].per_draw, other.per_draw)


@pytest.mark.unit
def test_every_judgements_file_holds_its_scenarios_values():
    """Each scenarios/judgements/NAME.yaml loads, and scenario NAME holds each entry's
    value at every path it names (so its judgements are really checked)."""
    from sim.scenario import load_scenario
    from sim.scenario.params import get_parameter
    from sim.uncertainty.priors import scenario_priors

    files = sorted((ROOT / "scenarios" / "judgements").glob("*.yaml"))
    assert files
    for path in files:
        scenario = ROOT / "scenarios" / path.name
        raw = load_scenario(scenario).model_dump(by_alias=True)
        extra = load_priors(path, key="judgements")
        assert extra and all(p.kind == "judgement" and p.drawn for p in extra)
        for prior in extra:
            for dotted in prior.paths:
                assert get_parameter(raw, dotted) == pytest.approx(prior.central), dotted
            assert uses(raw, prior) == list(prior.paths)
        names = [p.name for p in scenario_priors([scenario], [path.stem])]
        assert names[-len(extra):] == [p.name for p in extra]


@pytest.mark.unit
def test_a_drawn_count_is_a_whole_number():
    from sim.uncertainty.runs import Setting, scenario_values

    prior = Prior("people", "people", "judgement", "triangular", 250, 200, 400,
                  paths=("population.initial.community",))
    raw = small().model_dump(by_alias=True)
    values = scenario_values(raw, raw, [prior], Setting("d", {"people": prior.at(0.37)}))
    assert isinstance(values["population.initial.community"], int)


@pytest.mark.unit
def test_validate_checks_a_judgements_file_against_its_scenario(tmp_path, capsys):
    from helpers import small_scenario_file

    from sim import cli

    small_scenario_file(tmp_path)  # tmp/small.yaml: community 250
    (tmp_path / "judgements").mkdir()
    good = {"judgements": [{"name": "people", "value": 250, "source": "test",
                            "sets": ["population.initial.community"],
                            "prior": {"dist": "triangular", "low": 200, "high": 400,
                                      "basis": "judgement", "quote": "test"}}]}
    path = tmp_path / "judgements" / "small.yaml"
    path.write_text(yaml.safe_dump(good, sort_keys=False))
    assert cli.main(["validate", str(path)]) == 0
    assert "ok (1 judgements of small.yaml)" in capsys.readouterr().out
    good["judgements"][0]["value"] = 300
    path.write_text(yaml.safe_dump(good, sort_keys=False))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "judgement people: small.yaml does not hold 300 at population.initial.community" \
        in err
