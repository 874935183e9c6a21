"""Same seed, same bytes: every table of a run is byte-identical across fresh processes
(where set order and memory addresses differ) and across executors, and a sweep killed
with SIGKILL and resumed writes exactly the bytes of one that ran straight through."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, small_scenario_file
from test_sweep import _wait_for_runs, table_bytes, write_sweep

from sim.execute.sweep import run_sweep
from sim.io.sweep_store import finished_runs
from sim.sweep import load_sweep

pytestmark = pytest.mark.model


def _tables(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())
            if f.suffix in (".csv", ".parquet")}


def _start_run(scenario: Path, out: Path, *extra: str, env: dict[str, str] | None = None
               ) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(scenario), "--reps", "2", "--seed", "11",
         "--out", str(out), "--quiet", *extra], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_the_same_run_gives_the_same_bytes_in_fresh_processes_and_on_any_executor(tmp_path):
    scenario = small_scenario_file(tmp_path)
    jobs = {f"serial{i}": _start_run(scenario, tmp_path / f"serial{i}") for i in range(5)}
    jobs["fork2"] = _start_run(scenario, tmp_path / "fork2", "--workers", "2")
    jobs["spawn2"] = _start_run(scenario, tmp_path / "spawn2", "--workers", "2",
                                env={"TREATSIM_START_METHOD": "spawn"})
    for name, proc in jobs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err}"
    reference = _tables(tmp_path / "serial0")
    assert set(reference) == {f"{t}.{x}" for t in ("people", "yearly", "timeseries", "summary")
                              for x in ("csv", "parquet")}
    for name in jobs:
        assert _tables(tmp_path / name) == reference, name


@pytest.mark.slow
def test_a_killed_and_resumed_sweep_equals_the_uninterrupted_one_byte_for_byte(tmp_path):
    path = write_sweep(tmp_path, {"method": "grid"}, [
        {"path": "keyworkers.staff", "levels": [3, 4, 5, 6, 7]},
        {"path": "triage.capacity_per_week", "range": [5, 15], "points": 4}], reps=2)
    run_sweep(load_sweep(path), tmp_path / "straight")
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out),
                             "--workers", "2", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    _wait_for_runs(out, 5, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, with no warning
    proc.communicate(timeout=30)
    assert 5 <= len(finished_runs(out)) < 40
    resumed = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out",
                              str(out), "--resume", "--quiet"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert table_bytes(out) == table_bytes(tmp_path / "straight")
    assert yaml.safe_load((out / "sweep.yaml").read_text()) == \
        yaml.safe_load(path.read_text())


@pytest.mark.parametrize("width", [(999_999, 9_999), (1_000_000, 10_000), (12_345_678, 123_456)])
def test_run_files_are_found_at_every_size(tmp_path, width):
    """Names and the pattern that finds them agree past 6-digit points and 4-digit reps."""
    from sim.io.sweep_store import run_file_name

    point, rep = width
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / run_file_name(point, rep)).write_bytes(b"")
    (runs / run_file_name(3, 2)).write_bytes(b"")
    assert finished_runs(tmp_path) == {(point, rep), (3, 2)}
    assert run_file_name(3, 2) == "run-000003-0002.parquet"


def test_resume_skips_runs_numbered_past_the_old_widths(tmp_path):
    """A sweep with 10,000 replications of a point: the runs beyond rep 9,999 are
    recognised as finished, so a resume does not run them again."""
    from sim.io.sweep_store import run_file_name

    path = write_sweep(tmp_path, {"method": "grid"},
                       [{"path": "keyworkers.staff", "levels": [4]}], reps=10_001)
    plan = load_sweep(path)
    out = tmp_path / "wide"
    from sim.io.sweep_store import SweepStore

    store = SweepStore.open(out, plan)
    for rep in (9_999, 10_000):
        (store.runs_dir / run_file_name(0, rep)).write_bytes(b"")
    assert {(0, 9_999), (0, 10_000)} <= store.finished()


class _ShuffledSet(set):
    """A set that iterates in a shuffled order: what a set of people may do in any
    process, since its order follows memory addresses."""

    def __iter__(self):
        items = sorted(super().__iter__(), key=lambda p: p.pid)
        random.Random(len(items)).shuffle(items)
        return iter(items)


def _records(shuffle: bool):
    from helpers import small

    from sim.model import Model
    from sim.streams import Streams

    model = Model(small({"run.years": 3}), Streams(5, 1))
    if shuffle:  # the only sets of people the model keeps
        model.world.occupants = {k: _ShuffledSet(v) for k, v in model.world.occupants.items()}
    return model.run()


def test_no_record_depends_on_the_order_of_a_set_of_people():
    """Every record list (episodes, segments, the cost ledger, deaths, ...) and so every
    table is the same whatever order the model's sets of people iterate in."""
    from sim.metrics import replication_tables

    plain, shuffled = _records(False), _records(True)
    assert shuffled == plain
    a, b = (replication_tables(r, "s", 1, 5) for r in (plain, shuffled))
    assert {k: v.to_csv(index=False) for k, v in a.items()} == \
        {k: v.to_csv(index=False) for k, v in b.items()}
