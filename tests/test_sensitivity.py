"""Sensitivity analysis of sweeps: analytic checks of the SALib wiring on synthetic
frames (Ishigami for Sobol and RBD-FAST, a linear function for Morris), a Sobol sweep
through the real model where only one parameter can move a metric, the refusals, and a
grid's response table and files."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import small_scenario_file
from SALib.sample import latin
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from sim.analysis import sensitivity_report
from sim.analysis.sensitivity import (
    SensitivityError,
    analyse,
    analyse_frames,
    text_table,
    write_sensitivity,
)
from sim.execute.sweep import run_sweep
from sim.stats import t_interval
from sim.sweep import load_sweep

pytestmark = pytest.mark.model

# Ishigami (a = 7, b = 0.1, inputs uniform on [-pi, pi]): analytic Sobol indices
A, B = 7.0, 0.1
_V = A**2 / 8 + B * math.pi**4 / 5 + B**2 * math.pi**8 / 18 + 0.5
_V1 = 0.5 * (1 + B * math.pi**4 / 5) ** 2
_V2 = A**2 / 8
_V13 = 8 * B**2 * math.pi**8 / 225
ISHIGAMI_S1 = {"x1": _V1 / _V, "x2": _V2 / _V, "x3": 0.0}  # 0.3139, 0.4424, 0
ISHIGAMI_ST = {"x1": (_V1 + _V13) / _V, "x2": _V2 / _V, "x3": _V13 / _V}  # 0.5576, 0.4424, 0.2437
ISHIGAMI_S2 = {"x1 × x2": 0.0, "x1 × x3": _V13 / _V, "x2 × x3": 0.0}


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


def frames(method, parameters, unit, values, outputs, design_extra=None):
    """A synthetic sweep (manifest, design, runs) as :func:`sim.io.sweep_store.read_sweep` gives it.

    :param parameters: ``{path: [low, high]}``.
    :param outputs: ``{metric: array (points, replications)}``.
    """
    names = list(parameters)
    points = unit.shape[0]
    reps = next(iter(outputs.values())).shape[1]
    manifest = {
        "format": "treatsim-sweep/1", "name": "synthetic", "source": "synthetic.yaml",
        "digest": "0" * 64, "scenario": "none",
        "design": {"method": method, "samples": None, "levels": None, "second_order": False,
                   **(design_extra or {})},
        "parameters": [{"path": n, "range": list(parameters[n]), "label": ""} for n in names],
        "metrics": list(outputs), "replications": reps, "seed": 1, "points": points,
        "runs": points * reps, "status": "complete", "finished_runs": points * reps,
    }
    design = pd.DataFrame(values, columns=names)
    for j, n in enumerate(names):
        design[f"unit:{n}"] = unit[:, j]
    design.insert(0, "point", range(points))
    rows = []
    for p in range(points):
        for r in range(reps):
            row = {"sweep": "synthetic", "point": p, "rep": r, "seed": 1,
                   "scenario_sha256": "x", **dict(zip(names, values[p], strict=True)),
                   "events": 0}
            row.update({m: float(y[p, r]) for m, y in outputs.items()})
            rows.append(row)
    return manifest, design, pd.DataFrame(rows)


def rows_of(result, metric, index):
    t = result.table
    return t[(t["metric"] == metric) & (t["index"] == index)].set_index("parameter")


# --------------------------------------------------------------------------- analytic


def test_sobol_indices_of_the_ishigami_function_cover_the_analytic_values():
    names = {"x1": [-math.pi, math.pi], "x2": [-math.pi, math.pi], "x3": [-math.pi, math.pi]}
    problem = {"num_vars": 3, "names": list(names), "bounds": [[0.0, 1.0]] * 3}
    unit = sobol_sample.sample(problem, 1024, calc_second_order=True, seed=7)
    x = -math.pi + 2 * math.pi * unit
    y = ishigami(x)
    # a second metric, undefined at three points, and a third that no parameter moves
    gappy = y.copy()
    gappy[[5, 100, 2000]] = np.nan
    manifest, design, runs = frames(
        "sobol", names, unit, x,
        {"ishigami": y[:, None], "gappy": gappy[:, None], "flat": np.full((len(y), 1), 3.0)},
        {"second_order": True, "samples": 1024})
    result = analyse_frames(manifest, design, runs)

    assert result.method == "sobol"
    for index, truth in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST), ("S2", ISHIGAMI_S2)):
        got = rows_of(result, "ishigami", index)
        assert set(got.index) == set(truth)
        for p, value in truth.items():
            assert got.at[p, "ci_low"] <= value <= got.at[p, "ci_high"], (index, p, got.loc[p])
            assert got.at[p, "ci_high"] - got.at[p, "ci_low"] < 0.25  # informative, not vacuous
    st = rows_of(result, "ishigami", "ST")
    assert st["rank"].to_dict() == {"x1": 1, "x2": 2, "x3": 3}  # by ST: 0.558, 0.442, 0.244
    assert rows_of(result, "ishigami", "S1")["rank"].to_dict() == st["rank"].to_dict()
    assert set(result.table["metric"]) == {"ishigami"}
    assert "x1 × x3" in text_table(result)  # the pair table is shown
    assert any("gappy" in n and "3 of 8192" in n for n in result.notes), result.notes
    assert any("flat" in n and "every design point" in n for n in result.notes), result.notes


def test_rbd_fast_first_order_indices_of_the_ishigami_function_on_a_latin_hypercube():
    names = {"x1": [-math.pi, math.pi], "x2": [-math.pi, math.pi], "x3": [-math.pi, math.pi]}
    problem = {"num_vars": 3, "names": list(names), "bounds": [[0.0, 1.0]] * 3}
    unit = latin.sample(problem, 1000, seed=3)
    x = -math.pi + 2 * math.pi * unit
    manifest, design, runs = frames("lhs", names, unit, x, {"ishigami": ishigami(x)[:, None]},
                                    {"samples": 1000})
    result = analyse_frames(manifest, design, runs)
    s1 = rows_of(result, "ishigami", "S1")
    for p, value in ISHIGAMI_S1.items():
        assert s1.at[p, "ci_low"] <= value <= s1.at[p, "ci_high"], (p, s1.loc[p])
    assert s1["rank"].to_dict() == {"x2": 1, "x1": 2, "x3": 3}
    assert set(result.table["index"]) == {"S1"}


def test_morris_effects_of_a_linear_function_are_per_unit_of_the_normalised_range():
    """y = 20 a + 0.1 b + 0.01 c - 0.5 d on ranges of widths 0.5, 10, 100 and 2: across
    each full range a moves y by 10, b by 1, c by 1 and d by -1. Two replications with
    independent noise (sd 0.5) per point, so the point means and the intervals matter."""
    ranges = {"a": [0.0, 0.5], "b": [0.0, 10.0], "c": [100.0, 200.0], "d": [-1.0, 1.0]}
    coef = np.array([20.0, 0.1, 0.01, -0.5])
    problem = {"num_vars": 4, "names": list(ranges), "bounds": [[0.0, 1.0]] * 4}
    unit = morris_sample.sample(problem, 40, num_levels=4, seed=5)
    lows = np.array([r[0] for r in ranges.values()])
    widths = np.array([r[1] - r[0] for r in ranges.values()])
    x = lows + unit * widths
    exact = analyse_frames(*frames("morris", ranges, unit, x,
                                   {"linear": np.repeat((x @ coef)[:, None], 2, axis=1)},
                                   {"samples": 40, "levels": 4}))
    effects = rows_of(exact, "linear", "mu_star")["value"].to_dict()
    assert effects == pytest.approx({"a": 10.0, "b": 1.0, "c": 1.0, "d": 1.0}, rel=1e-9)

    noise = np.random.default_rng(2).normal(0.0, 0.5, size=(len(x), 2))
    y = (x @ coef)[:, None] + noise
    manifest, design, runs = frames("morris", ranges, unit, x, {"linear": y},
                                    {"samples": 40, "levels": 4})
    result = analyse_frames(manifest, design, runs)

    mu_star = rows_of(result, "linear", "mu_star")
    assert mu_star.at["a", "rank"] == 1
    assert mu_star.at["a", "ci_low"] <= 10.0 <= mu_star.at["a", "ci_high"], mu_star.loc["a"]
    others = mu_star.drop(index="a")
    assert (others["ci_high"] < mu_star.at["a", "ci_low"]).all()
    mu = rows_of(result, "linear", "mu")
    assert mu.at["d", "value"] < 0 < mu.at["a", "value"]  # the sign is in mu, not mu_star
    sigma = rows_of(result, "linear", "sigma")
    assert sigma["ci_low"].isna().all() and mu["ci_low"].isna().all()  # no interval for these


# --------------------------------------------------------------------------- real model


def _sweep_file(folder, body):
    path = folder / f"{body['name']}.yaml"
    path.write_text(yaml.safe_dump({"scenario": "small.yaml", **body}, sort_keys=False))
    return path


@pytest.mark.slow
def test_a_sobol_sweep_finds_the_only_parameter_that_can_move_a_cost(tmp_path):
    """The HAT clinic's fixed cost is booked as ``fixed_cost_per_year_gbp`` × the time it
    is open, at the monthly snapshots (fixed dates), whatever happens to people; the
    small scenario has no policies, so the clinic is open all the time. So
    ``cost_hat_fixed_gbp`` depends on ``modalities.hat.fixed_cost_per_year_gbp`` alone.
    The other two swept parameters, keyworker staff and triage capacity, change what
    happens to people (waits, caseloads) but cannot change that cost. Conversely, a price
    is pure accounting, so the HAT fixed cost cannot change the wait for treatment. Every
    point runs replication 0 of the same seed (common random numbers), so these zeros
    are exact, not just small."""
    small_scenario_file(tmp_path)
    hat = "modalities.hat.fixed_cost_per_year_gbp"
    others = ["keyworkers.staff", "triage.capacity_per_week"]
    sweep = _sweep_file(tmp_path, {
        "name": "hat-cost", "design": {"method": "sobol", "samples": 16},
        "parameters": [{"path": hat, "range": [100000, 400000]},
                       {"path": others[0], "range": [3, 8]},
                       {"path": others[1], "range": [4, 20]}],
        "replications": 1, "seed": 11,
        "metrics": ["cost_hat_fixed_gbp", "wait_treatment_mean_days"]})
    out = tmp_path / "out"
    outcome = run_sweep(load_sweep(sweep), out, workers=2)
    assert outcome.complete and outcome.total == 16 * (3 + 2)

    result = analyse(out)
    st = rows_of(result, "cost_hat_fixed_gbp", "ST")
    s1 = rows_of(result, "cost_hat_fixed_gbp", "S1")
    assert st.at[hat, "rank"] == 1
    assert (st.at[hat, "ci_low"] > st.loc[others, "ci_high"]).all(), st
    for table in (st, s1):
        for p in others:
            assert table.at[p, "ci_low"] <= 0.0 <= table.at[p, "ci_high"], table.loc[p]
    # the wait moves with staff and triage capacity, never with the HAT price
    for index in ("S1", "ST"):
        w = rows_of(result, "wait_treatment_mean_days", index)
        assert w.at[hat, "ci_low"] <= 0.0 <= w.at[hat, "ci_high"], w.loc[hat]
    assert rows_of(result, "wait_treatment_mean_days", "ST").at[hat, "rank"] == 3
    assert len(result.notes) == 1 and "16 base samples" in result.notes[0]  # rough, says so


# --------------------------------------------------------------------------- grids, refusals


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """A finished 2 × 3 grid (keyworker staff × triage capacity), 2 replications."""
    folder = tmp_path_factory.mktemp("grid")
    small_scenario_file(folder)
    sweep = _sweep_file(folder, {
        "name": "grid", "design": {"method": "grid"},
        "parameters": [{"path": "keyworkers.staff", "levels": [4, 6], "label": "Keyworkers"},
                       {"path": "triage.capacity_per_week", "range": [5, 15], "points": 3}],
        "replications": 2, "seed": 3,
        "metrics": ["caseload_mean", "cost_total_gbp@1"]})
    out = folder / "out"
    run_sweep(load_sweep(sweep), out, workers=2)
    return out


@pytest.mark.slow
def test_a_grid_gives_the_response_with_intervals_over_replications(grid_sweep):
    result = analyse(grid_sweep)
    assert result.method == "grid" and result.table.empty
    resp = result.response
    params = ["keyworkers.staff", "triage.capacity_per_week"]
    assert result.response_parameters == params
    assert len(resp) == 2 * 3 * 2  # level combinations × metrics
    assert resp.groupby("metric").size().to_dict() == {"caseload_mean": 6,
                                                       "cost_total_gbp@1": 6}
    assert not resp.duplicated(["metric", *params]).any()
    assert (resp["n"] == 2).all()
    assert (resp["ci_low"] <= resp["mean"]).all() and (resp["mean"] <= resp["ci_high"]).all()
    assert (resp["ci_high"] > resp["ci_low"]).any()

    # one parameter: per replication the mean over the other's levels, then t over reps
    one = analyse(grid_sweep, response=["triage.capacity_per_week"]).response
    runs = pd.read_csv(grid_sweep / "runs.csv")
    assert len(one) == 3 * 2
    for _, row in one.iterrows():
        at = runs[runs["triage.capacity_per_week"] == row["triage.capacity_per_week"]]
        per_rep = at.groupby("rep")[row["metric"]].mean().to_numpy()
        mean, _, lo, hi, n = t_interval(per_rep)
        assert (row["n"], row["mean"]) == (n, pytest.approx(mean))
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert "Keyworkers" in text_table(result)


def test_write_sensitivity_writes_tables_markdown_and_plots(grid_sweep, tmp_path):
    result = analyse(grid_sweep)
    out = tmp_path / "sens"
    paths = write_sensitivity(result, out)
    names = {p.name for p in paths}
    assert names == {"sensitivity.parquet", "sensitivity.csv", "response.parquet",
                     "response.csv", "sensitivity.md", "run.json", "response-caseload_mean.png",
                     "response-cost_total_gbp@1.png"}
    assert all(p.parent == out and p.is_file() for p in paths)
    for p in paths:
        if p.suffix == ".png":
            data = p.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    pd.testing.assert_frame_equal(pd.read_parquet(out / "response.parquet"), result.response)
    md = (out / "sensitivity.md").read_text()
    assert "Caseload per keyworker (mean)" in md and "Total cost, reporting year 1" in md
    assert [p.name for p in tmp_path.iterdir()] == ["sens"]  # no staging folder left


def test_write_sensitivity_of_indices_draws_bars(tmp_path):
    names = {"x1": [-math.pi, math.pi], "x2": [-math.pi, math.pi], "x3": [-math.pi, math.pi]}
    problem = {"num_vars": 3, "names": list(names), "bounds": [[0.0, 1.0]] * 3}
    unit = sobol_sample.sample(problem, 64, calc_second_order=False, seed=1)
    x = -math.pi + 2 * math.pi * unit
    result = analyse_frames(*frames("sobol", names, unit, x,
                                    {"cost_total_gbp": ishigami(x)[:, None]}, {"samples": 64}))
    paths = write_sensitivity(result, tmp_path / "s")
    bars = tmp_path / "s" / "bars-cost_total_gbp.png"
    assert bars in paths and bars.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_parquet(tmp_path / "s" / "sensitivity.parquet")
    pd.testing.assert_frame_equal(back, result.table)
    md = (tmp_path / "s" / "sensitivity.md").read_text()
    first = md.index("| 1 | x1 |")
    assert first < md.index("| 2 | x2 |") < md.index("| 3 | x3 |")  # ranked by ST


def test_a_failed_write_leaves_nothing_and_keeps_the_previous_analysis(grid_sweep, tmp_path,
                                                                       monkeypatch):
    result = analyse(grid_sweep)
    out = tmp_path / "sens"

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sensitivity_report, "_response_plot", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_sensitivity(result, out)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a half-written sibling

    monkeypatch.undo()
    write_sensitivity(result, out)
    before = sorted(p.name for p in out.iterdir())
    monkeypatch.setattr(sensitivity_report, "_response_plot", broken)
    with pytest.raises(RuntimeError):
        write_sensitivity(result, out)
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sens"]


def test_an_incomplete_sweep_is_refused_naming_the_folder_and_counts(grid_sweep, tmp_path):
    out = tmp_path / "partial"
    shutil.copytree(grid_sweep, out)
    (out / "runs" / "run-000004-0001.parquet").unlink()
    dest = tmp_path / "sens"
    with pytest.raises(SensitivityError) as err:
        write_sensitivity(analyse(out), dest)  # as the command does: analyse, then write
    msg = str(err.value)
    assert str(out) in msg
    assert "11 of its 12 runs" in msg
    assert f"--out {out} --resume" in msg and "treatsim sweep" in msg
    assert "\n" not in msg
    assert not dest.exists()


def test_unknown_metrics_and_response_parameters_are_refused(grid_sweep):
    with pytest.raises(SensitivityError, match="caseload_mean, cost_total_gbp@1") as err:
        analyse(grid_sweep, metrics=["caseload_mean", "deaths"])
    assert "'deaths'" in str(err.value)
    with pytest.raises(SensitivityError, match="keyworkers.staff, triage.capacity_per_week"):
        analyse(grid_sweep, response=["keyworkers.stafff"])
    with pytest.raises(SensitivityError, match="one or two"):
        analyse(grid_sweep, response=["keyworkers.staff", "triage.capacity_per_week",
                                      "keyworkers.staff"])
    unit = np.linspace(0, 1, 8)[:, None]
    synthetic = frames("lhs", {"x": [0, 1]}, unit, unit, {"y": unit})
    with pytest.raises(SensitivityError, match="grid"):
        analyse_frames(*synthetic, response=["x"])
    picked = analyse(grid_sweep, metrics=["cost_total_gbp@1"])
    assert set(picked.response["metric"]) == {"cost_total_gbp@1"}
