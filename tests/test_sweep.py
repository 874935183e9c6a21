"""Sweeps: designs, the run table, executors that agree, and a store that survives
interruption (real signals to a real process) and resumes without loss or duplication."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, small_scenario_file

from sim.execute.runner import run_replication
from sim.execute.sweep import run_sweep
from sim.io.sweep_store import SweepStoreError, finished_runs, read_runs
from sim.scenario import ScenarioError, resolved_yaml, scenario_hash, with_parameters
from sim.sweep import ParameterDistribution, load_sweep, plan_digest

pytestmark = pytest.mark.model

METRICS = ["wait_treatment_mean_days", "caseload_mean", "cost_total_gbp@1",
           "planned_exit_share"]


def write_sweep(folder: Path, design: dict, parameters: list[dict], reps: int = 2,
                name: str = "test_sweep", seed: int = 3) -> Path:
    """A small scenario and a sweep file over it, in ``folder``; returns the sweep file."""
    small_scenario_file(folder)
    sweep = {"name": name, "scenario": "small.yaml", "design": design,
             "parameters": parameters, "replications": reps, "seed": seed, "metrics": METRICS}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


GRID = ({"method": "grid"},
        [{"path": "keyworkers.staff", "levels": [4, 6]},
         {"path": "triage.capacity_per_week", "range": [5, 15], "points": 2}])


# --------------------------------------------------------------------------- designs


def test_grid_is_every_combination_of_exact_values(tmp_path):
    plan = load_sweep(write_sweep(tmp_path, {"method": "grid"}, [
        {"path": "keyworkers.staff", "levels": [4, 5, 6]},
        {"path": "triage.capacity_per_week", "range": [5, 15], "points": 3}]))
    assert plan.points == 9
    assert {tuple(r) for r in plan.values} == {(a, b) for a in (4, 5, 6) for b in (5, 10, 15)}
    assert plan.runs() == [(p, r) for p in range(9) for r in range(2)]


def test_latin_hypercube_puts_one_point_in_each_stratum(tmp_path):
    plan = load_sweep(write_sweep(tmp_path, {"method": "lhs", "samples": 20}, [
        {"path": "keyworkers.staff", "range": [4, 6]},
        {"path": "triage.capacity_per_week", "range": [5, 15]}]))
    assert plan.values.shape == (20, 2)
    for j in range(2):
        strata = np.floor(plan.unit[:, j] * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert plan.values[:, 0].min() >= 4 and plan.values[:, 0].max() <= 6


def test_sobol_and_morris_sizes_follow_saltelli_and_trajectories(tmp_path):
    params = [{"path": "keyworkers.staff", "range": [4, 6]},
              {"path": "triage.capacity_per_week", "range": [5, 15]},
              {"path": "triage.triaged_only", "range": [0.02, 0.1]}]
    sobol = load_sweep(write_sweep(tmp_path / "a", {"method": "sobol", "samples": 16}, params))
    assert sobol.points == 16 * (3 + 2)
    second = load_sweep(write_sweep(tmp_path / "b", {"method": "sobol", "samples": 16,
                                                      "second_order": True}, params))
    assert second.points == 16 * (2 * 3 + 2)
    morris = load_sweep(write_sweep(tmp_path / "c", {"method": "morris", "samples": 5,
                                                      "levels": 4}, params))
    assert morris.points == 5 * (3 + 1)
    for t in range(5):  # each step of a trajectory moves exactly one parameter
        steps = np.diff(morris.unit[t * 4:(t + 1) * 4], axis=0)
        assert ((np.abs(steps) > 1e-12).sum(axis=1) == 1).all()


def test_levels_and_whole_numbers(tmp_path):
    plan = load_sweep(write_sweep(tmp_path, {"method": "lhs", "samples": 30}, [
        {"path": "keyworkers.caseload_cap", "range": [30, 50]},  # an integer in the schema
        {"path": "keyworkers.staff", "levels": [4, 5, 6]}]))
    assert np.array_equal(plan.values[:, 0], np.round(plan.values[:, 0]))
    assert set(plan.values[:, 1]) == {4, 5, 6}
    assert plan.base.keyworkers.caseload_cap == 40
    assert isinstance(with_parameters(plan.base, plan.point_values(0)).keyworkers.caseload_cap, int)


def test_distributions_have_the_declared_moments():
    ln = ParameterDistribution(dist="lognormal", mean=10, sd=4).frozen()
    assert ln.mean() == pytest.approx(10) and ln.std() == pytest.approx(4)
    tri = ParameterDistribution(dist="triangular", low=1, mode=2, high=6).frozen()
    assert tri.mean() == pytest.approx(3)
    cut = ParameterDistribution(dist="normal", mean=5, sd=1, low=4, high=9)
    assert cut.ppf(np.array([0.0]))[0] == pytest.approx(4)
    free = ParameterDistribution(dist="normal", mean=5, sd=1)  # cut at its 0.1% and 99.9% points
    assert np.isfinite(free.ppf(np.array([0.0, 1.0]))).all()


# --------------------------------------------------------------------------- runs


@pytest.mark.slow
def test_rows_carry_parameters_seed_and_the_resolved_scenario_hash(tmp_path):
    plan = load_sweep(write_sweep(tmp_path, *GRID))
    run_sweep(plan, tmp_path / "out")
    runs = read_runs(tmp_path / "out")
    assert len(runs) == 8 and not runs.duplicated(["point", "rep"]).any()
    for point in range(plan.points):
        sc = with_parameters(plan.base, plan.point_values(point))
        rows = runs[runs["point"] == point]
        assert (rows["scenario_sha256"] == scenario_hash(resolved_yaml(sc))).all()
        for name, value in plan.point_values(point).items():
            assert (rows[name] == value).all()
    assert (runs["seed"] == 3).all()
    assert runs["scenario_sha256"].nunique() == plan.points
    # a row is the replication itself: the same numbers as running it directly
    row = runs.iloc[5]
    sc = with_parameters(plan.base, plan.point_values(int(row["point"])))
    yearly = run_replication(sc, 3, int(row["rep"]))["yearly"]
    caseload = yearly[yearly["metric"] == "caseload_mean"]["value"].mean()
    assert row["caseload_mean"] == caseload


@pytest.mark.slow
def test_serial_pool_and_dask_give_identical_tables(tmp_path):
    from distributed import LocalCluster

    plan = load_sweep(write_sweep(tmp_path, *GRID))
    run_sweep(plan, tmp_path / "serial")
    run_sweep(plan, tmp_path / "pool", workers=2)
    run_sweep(plan, tmp_path / "dask_local", dask_local=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        run_sweep(plan, tmp_path / "dask_address", scheduler=cluster.scheduler_address)
    reference = read_runs(tmp_path / "serial")
    assert len(reference) == 8
    for other in ("pool", "dask_local", "dask_address"):
        pd.testing.assert_frame_equal(read_runs(tmp_path / other), reference)
        assert table_bytes(tmp_path / other) == table_bytes(tmp_path / "serial")  # same bytes


def table_bytes(folder: Path) -> dict[str, bytes]:
    """Every table file of a sweep folder (CSV and Parquet, the run files included) by
    name, with its bytes."""
    files = [*folder.glob("*.csv"), *folder.glob("*.parquet"), *folder.glob("runs/*")]
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(files)}


@pytest.mark.slow
def test_points_table_summarises_replications(tmp_path):
    plan = load_sweep(write_sweep(tmp_path, *GRID, reps=3))
    run_sweep(plan, tmp_path / "out")
    points = pd.read_parquet(tmp_path / "out" / "points.parquet")
    runs = read_runs(tmp_path / "out")
    assert len(points) == plan.points * len(METRICS)
    row = points[(points["point"] == 2) & (points["metric"] == "caseload_mean")].iloc[0]
    assert row["mean"] == pytest.approx(runs[runs["point"] == 2]["caseload_mean"].mean())
    assert row["ci_low"] < row["mean"] < row["ci_high"] and row["n"] == 3


# --------------------------------------------------------------------------- the store


@pytest.mark.slow
def test_a_folder_holding_a_sweep_needs_resume_and_the_same_sweep(tmp_path):
    path = write_sweep(tmp_path, *GRID)
    run_sweep(load_sweep(path), tmp_path / "out")
    with pytest.raises(SweepStoreError, match="add --resume"):
        run_sweep(load_sweep(path), tmp_path / "out")
    relabelled = load_sweep(path)
    words = relabelled.sweep.model_copy(update={"description": "new words"})
    assert plan_digest(dataclasses.replace(relabelled, sweep=words)) == relabelled.digest
    changed = write_sweep(tmp_path, *GRID, seed=4)  # same file, another seed
    with pytest.raises(SweepStoreError, match="holds a different sweep"):
        run_sweep(load_sweep(changed), tmp_path / "out", resume=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SweepStoreError, match="a folder that treatsim did not write"):
        run_sweep(load_sweep(changed), tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    run_sweep(load_sweep(changed), tmp_path / "other", force=True)  # moved aside, not lost
    aside = list(tmp_path.glob("other.before-treatsim-*"))
    assert len(aside) == 1 and (aside[0] / "notes.txt").read_text() == "mine"
    assert (tmp_path / "other" / "runs.csv").is_file()


def test_a_write_stopped_part_way_leaves_no_file(tmp_path, monkeypatch):
    from sim.io.sweep_store import SweepStore

    plan = load_sweep(write_sweep(tmp_path, *GRID))
    store = SweepStore.open(tmp_path / "out", plan)
    row = {"scenario_sha256": "x", "events": 1, **dict.fromkeys(METRICS, 1.0)}

    def interrupted(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.write_run(0, 0, row)
    assert list((tmp_path / "out" / "runs").iterdir()) == []


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _wait_for_runs(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while len(finished_runs(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the sweep did not start"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def long_sweep(tmp_path_factory):
    """A 60-run grid sweep and its table run serially without interruption."""
    folder = tmp_path_factory.mktemp("long")
    path = write_sweep(folder, {"method": "grid"}, [
        {"path": "keyworkers.staff", "levels": [3, 4, 5, 6, 7, 8]},
        {"path": "triage.capacity_per_week", "range": [5, 15], "points": 5}], reps=2)
    run_sweep(load_sweep(path), folder / "reference")
    return path, read_runs(folder / "reference")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_sweep_resumes_to_the_same_table(tmp_path, long_sweep, signum):
    path, reference = long_sweep
    out = tmp_path / "out"
    proc = _cli("sweep", str(path), "--out", str(out), "--workers", "2", "--quiet")
    _wait_for_runs(out, 6, proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err
    kept = finished_runs(out)
    assert 6 <= len(kept) < 60  # stopped part-way, every finished run kept
    assert not [f for f in (out / "runs").iterdir() if not f.name.endswith(".parquet")
                or f.name.startswith(".")]  # no half-written file
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["sessions"][0]["stopped"]
    assert not (out / "runs.csv").exists()
    first = {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()}

    proc = _cli("sweep", str(path), "--out", str(out), "--workers", "2", "--resume",
                "--quiet")
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"{len(kept)} already done" in stdout
    table = read_runs(out)
    pd.testing.assert_frame_equal(table, reference)  # none missing, none duplicated
    assert {f.name: f.stat().st_mtime_ns for f in (out / "runs").iterdir()
            if f.name in first} == first  # finished runs were not run again
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(tmp_path, long_sweep):
    path, reference = long_sweep
    out = tmp_path / "out"
    proc = _cli("sweep", str(path), "--out", str(out), "--workers", "2", "--quiet")
    _wait_for_runs(out, 6, proc)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert children, "no worker processes found"
    os.kill(int(children[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    pd.testing.assert_frame_equal(read_runs(out), reference)


@pytest.mark.slow
def test_a_killed_dask_worker_loses_nothing(tmp_path, long_sweep):
    """SIGKILL to a Dask worker process part-way: the scheduler reruns its task on the
    other worker (the nanny restarts the dead one), and the table is complete."""
    from distributed import Client, LocalCluster

    path, reference = long_sweep
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pids = sorted(client.run(os.getpid).values())

        def kill_one(done: int, total: int, seconds_left: float) -> None:
            if done == 6 and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        outcome = run_sweep(load_sweep(path), tmp_path / "out",
                            scheduler=cluster.scheduler_address, progress=kill_one)
    assert killed and outcome.complete
    pd.testing.assert_frame_equal(read_runs(tmp_path / "out"), reference)


# --------------------------------------------------------------------------- bad input

BAD = ROOT / "tests" / "data" / "bad_sweeps"
EXPECTED = {
    "bad_path.yaml": ":5: parameters[0].path: no parameter 'staf' in keyworkers (did you "
                     "mean 'staff'?)",
    "bad_policy_path.yaml": ":5: parameters[0].path: the scenario has 0 policies",
    "distribution_in_grid.yaml": ":8: parameters[1].distribution: a grid needs levels",
    "empty_levels.yaml": ":6: parameters[0].levels: levels is empty",
    "empty_range.yaml": ":6: parameters[0].range: empty range: low 30 must be below high 30",
    "grid_range_no_points.yaml": ":6: parameters[0].points: a grid over a range needs points",
    "invalid_point.yaml": ":6: parameters[0].range: triage.triaged_only = 1.10507 gives an "
                          "invalid scenario: triage.triaged_only: must be at most 1",
    "metric_year.yaml": ":7: metrics[0]: the year after @ must be a reporting year, 1 to 5",
    "missing_scenario.yaml": ":2: scenario: file not found",
    "not_a_number.yaml": ":5: parameters[0].path: keyworkers.mode holds str 'pressure', not "
                         "a number",
    "range_one_value.yaml": ":6: parameters[0].range: a range is [low, high], got 1 value",
    "run_setting.yaml": ":5: parameters[0].path: run settings",
    "sobol_not_power_of_two.yaml": ":5: design.samples: a sobol design needs samples to be "
                                   "a power of 2 (say 128), got 100",
    "two_kinds.yaml": ":5: parameters[0]: give exactly one of range, levels or distribution",
    "unknown_design.yaml": ":4: design.method: must be one of 'grid', 'lhs', 'sobol' or "
                           "'morris', got 'sobel'",
    "unknown_key.yaml": ":7: replicatons: unknown key (did you mean 'replications'?)",
    "unknown_metric.yaml": ":9: metrics[1]: unknown metric 'wait_treatment_median' (did you "
                           "mean 'wait_treatment_median_days'?)",
}


def test_every_bad_sweep_file_is_covered():
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_sweep_file_names_file_line_and_key(name):
    with pytest.raises(ScenarioError) as info:
        load_sweep(BAD / name)
    message = info.value.message()
    assert f"bad_sweeps/{name}{EXPECTED[name]}" in message  # file:line: key: message


def test_bad_sweep_file_exits_2_and_writes_nothing(tmp_path):
    from sim.cli import main

    for name in ("bad_path.yaml", "unknown_design.yaml", "empty_range.yaml"):
        out = tmp_path / name
        assert main(["sweep", str(BAD / name), "--out", str(out), "--quiet"]) == 2
        assert not out.exists()
        assert main(["validate", str(BAD / name)]) == 2


@pytest.mark.slow
def test_example_sweep_files_are_valid():
    files = sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert len(files) >= 3
    methods = {load_sweep(f).sweep.design.method for f in files}
    assert {"grid", "sobol", "morris"} <= methods


def test_readme_sweep_example_is_valid(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Sweeps and sensitivity"):]
    start = section.index("```yaml") + len("```yaml")
    spec = yaml.safe_load(section[start:section.index("```", start)])
    spec["scenario"] = str(ROOT / "scenarios" / "sweeps" / spec["scenario"])
    path = tmp_path / "readme.yaml"
    path.write_text(yaml.safe_dump(spec))
    plan = load_sweep(path)
    assert plan.points == 16


@pytest.mark.slow
def test_cli_sweep_then_sensitivity(tmp_path, capsys):
    from sim.cli import main

    path = write_sweep(tmp_path, *GRID)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet"]) == 0
    assert "8 runs (4 points x 2 replications, grid design)" in capsys.readouterr().out
    assert main(["sensitivity", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Caseload per keyworker" in printed
    assert {"sensitivity.md", "response.csv", "response-caseload_mean.png"} <= \
        {p.name for p in (out / "sensitivity").iterdir()}
    next((out / "runs").glob("run-*.parquet")).unlink()
    assert main(["sensitivity", str(out), "--out", str(tmp_path / "again")]) == 2
    assert "7 of its 8 runs" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_run_stops_the_sweep_and_keeps_the_finished_ones(tmp_path, monkeypatch,
                                                                   workers):
    import sim.execute.sweep

    real = sim.execute.sweep.run_one

    def fails_on_point_2(base, values, seed, rep, keys):
        if values["keyworkers.staff"] == 6 and values["triage.capacity_per_week"] == 5:
            raise ArithmeticError("made to fail")
        return real(base, values, seed, rep, keys)

    monkeypatch.setattr(sim.execute.sweep, "run_one", fails_on_point_2)
    plan = load_sweep(write_sweep(tmp_path, *GRID))
    with pytest.raises(sim.execute.sweep.RunFailed, match="made to fail"):
        run_sweep(plan, tmp_path / "out", workers=workers)
    kept = finished_runs(tmp_path / "out")
    assert kept and all(point != 2 for point, _ in kept)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["finished_runs"] == len(kept)


def test_a_policy_level_is_a_parameter():
    from sim.scenario import PolicyError, get_parameter, load_scenario

    base = load_scenario(ROOT / "scenarios" / "middlesbrough_cap40.yaml")
    path = "policies.0.set.keyworkers.caseload_cap"
    moved = with_parameters(base, {path: 35})
    assert moved.policies[0].set["keyworkers.caseload_cap"] == 35
    assert get_parameter(moved.model_dump(mode="python", by_alias=True), path) == 35
    assert base.policies[0].set["keyworkers.caseload_cap"] == 40  # frozen base untouched
    with pytest.raises(PolicyError, match="policy 0 does not set 'keyworkers.staff'"):
        with_parameters(base, {"policies.0.set.keyworkers.staff": 12})


@pytest.mark.slow
def test_dask_results_are_awaited_on_our_clients_loop(monkeypatch):
    """Another client may be the process's default (a caller's own, say): the executor
    never consults it, so results are awaited on the loop of the client it made."""
    import operator

    import distributed.client
    from distributed import LocalCluster

    from sim.execute.executors import Executor, map_unordered

    def refuse() -> None:
        raise AssertionError("the process's default Dask client was consulted")

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        monkeypatch.setattr(distributed.client, "default_client", refuse)
        got = dict(map_unordered(operator.add, 10, range(5),
                                 Executor(scheduler=cluster.scheduler_address)))
    assert got == {i: 10 + i for i in range(5)}
