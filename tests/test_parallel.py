"""The process pool: results by index, errors re-raised with the worker's traceback, no
worker left behind when the caller stops early or the parent is killed, under fork and
spawn alike."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, small, small_scenario_file

import sim.execute.pool
from sim.execute.pool import START_METHOD_ENV, WorkerError, imap_unordered, resolve_start_method
from sim.execute.runner import run
from sim.execute.sweep import run_sweep
from sim.io.sweep_store import read_runs
from sim.sweep import load_sweep

pytestmark = pytest.mark.model

METHODS = [m for m in ("fork", "spawn") if m in mp.get_all_start_methods()]
PROC = Path("/proc/self/task").exists()
posix = pytest.mark.skipif(os.name != "posix", reason="kills with POSIX signals")


# Module-level, so they pickle for spawn.
def _square(x: int) -> int:
    return x * x


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x


def _whoami(_: int) -> int:
    return os.getpid()


def _dies_once_on_five(marker: Path, x: int) -> int:
    if x == 5 and not marker.exists():
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def _always_dies_on_two(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


@pytest.mark.slow
@pytest.mark.parametrize("method", [*METHODS, "forkserver"])
def test_every_item_once_by_index(method):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} here")
    got = dict(imap_unordered(_square, range(20), workers=2, start_method=method))
    assert got == {i: i * i for i in range(20)}


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_a_worker_error_is_raised_with_its_traceback(method):
    with pytest.raises(WorkerError, match="three is bad"):
        list(imap_unordered(_fails_on_three, range(6), workers=2, start_method=method))


@pytest.mark.slow
@posix
@pytest.mark.parametrize("method", METHODS)
def test_stopping_early_kills_the_workers(method):
    it = imap_unordered(_whoami, range(100), workers=2, start_method=method)
    _, pid = next(it)
    it.close()  # the caller stops: workers are killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
@posix
@pytest.mark.parametrize("method", METHODS)
def test_a_killed_worker_is_replaced_and_its_item_rerun(tmp_path, method):
    dies = partial(_dies_once_on_five, tmp_path / "killed")
    got = list(imap_unordered(dies, range(12), workers=2, start_method=method))
    assert sorted(i for i, _ in got) == list(range(12))  # each once: none lost, none twice
    assert dict(got) == {i: i * i for i in range(12)}


@pytest.mark.slow
@posix
@pytest.mark.parametrize("method", METHODS)
def test_an_item_that_always_kills_its_worker_stops_the_run(method):
    with pytest.raises(WorkerError, match="item 2 ended its worker process 2 times"):
        list(imap_unordered(_always_dies_on_two, range(6), workers=2, retries=1,
                            start_method=method))


def test_exiting_with_a_pool_open_does_not_wait_for_its_workers():
    code = ("from sim.execute.pool import imap_unordered\n"
            "it = imap_unordered(abs, range(100), workers=2)\n"
            "print(next(it))\n")  # and exit with the pool open: its workers ignore SIGTERM
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif("fork" not in METHODS, reason="closures reach workers only by fork")
def test_fork_takes_a_closure():
    offset = 7
    got = dict(imap_unordered(lambda x: x + offset, range(5), workers=2,
                              start_method="fork"))
    assert got == {i: i + 7 for i in range(5)}


def test_the_start_method_is_chosen_by_argument_then_environment(monkeypatch):
    monkeypatch.delenv(START_METHOD_ENV, raising=False)
    assert resolve_start_method() == ("fork" if "fork" in METHODS and sys.platform != "darwin"
                                      else "spawn")
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    assert resolve_start_method() == "spawn"
    assert resolve_start_method(METHODS[0]) == METHODS[0]  # the argument comes first
    monkeypatch.setenv(START_METHOD_ENV, "teleport")
    with pytest.raises(ValueError, match="'teleport' is not available here"):
        resolve_start_method()


@pytest.mark.slow
@pytest.mark.skipif("spawn" not in METHODS, reason="no spawn here")
def test_spawned_workers_give_the_serial_tables(monkeypatch):
    scenario = small()
    serial = run(scenario, reps=3, seed=5, workers=1)
    monkeypatch.setenv(START_METHOD_ENV, "spawn")  # as a user would force it, end to end
    pooled = run(scenario, reps=3, seed=5, workers=2)
    for name, table in serial.tables().items():
        pd.testing.assert_frame_equal(pooled.tables()[name], table, check_exact=True,
                                      obj=name)


@pytest.mark.slow
@pytest.mark.skipif("spawn" not in METHODS, reason="no spawn here")
def test_spawned_workers_give_the_serial_sweep(tmp_path, monkeypatch):
    plan = load_sweep(_sweep_file(tmp_path, [4, 6], 2))
    run_sweep(plan, tmp_path / "serial")
    monkeypatch.setenv(START_METHOD_ENV, "spawn")
    run_sweep(plan, tmp_path / "spawn", workers=2)
    pd.testing.assert_frame_equal(read_runs(tmp_path / "spawn"), read_runs(tmp_path / "serial"),
                                  check_exact=True)


# --------------------------------------------------------------------------- parent death


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process, or None if it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], fields[19]


def _descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid``: pid -> start time (to tell a reused pid)."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        try:
            tasks = list(Path(f"/proc/{todo.pop()}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            for child in children:
                stat = _stat(child)
                if stat and stat[0] != "Z":
                    found[child] = stat[1]
                    todo.append(child)
    return found


def _still_running(procs: dict[int, str]) -> list[int]:
    return [p for p, start in procs.items()
            if (stat := _stat(p)) is not None and stat[0] != "Z" and stat[1] == start]


def _kill_parent_and_time_its_workers(args: list[str], tmp_path: Path,
                                      env: dict[str, str] | None = None) -> float:
    """Start ``python -m sim ARGS --workers 2`` in its own session, wait for its two
    workers, ``kill -9`` it; returns the seconds until none of its processes is left."""
    log = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args, "--workers", "2", "--quiet"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
                            start_new_session=True, env={**os.environ, **(env or {})})
    try:
        t0 = time.monotonic()
        while len(workers := _descendants(proc.pid)) < 2:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() - t0 < 60, "no worker processes started"
            time.sleep(0.02)
        time.sleep(0.3)  # the workers are part-way through a run
        workers = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        while left := _still_running(workers):
            assert time.monotonic() - killed < 5, f"workers {left} outlived their parent"
            time.sleep(0.01)
        return time.monotonic() - killed
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # only if the test failed: clean up
        except ProcessLookupError:
            pass
        log.close()


def _sweep_file(folder: Path, staff: list[int], reps: int) -> Path:
    """A grid sweep over ``keyworkers.staff`` of the small scenario."""
    small_scenario_file(folder)
    path = folder / "pool_sweep.yaml"
    path.write_text(yaml.safe_dump({
        "name": "pool_sweep", "scenario": "small.yaml", "design": {"method": "grid"},
        "parameters": [{"path": "keyworkers.staff", "levels": staff}],
        "replications": reps, "seed": 3,
        "metrics": ["wait_treatment_mean_days", "caseload_mean", "cost_total_gbp@1"]},
        sort_keys=False))
    return path


@pytest.mark.slow
@pytest.mark.skipif(not PROC, reason="finds the workers in /proc")
def test_killing_run_kills_its_workers(tmp_path):
    scenario = small_scenario_file(tmp_path)
    seconds = _kill_parent_and_time_its_workers(
        ["run", str(scenario), "--reps", "12", "--out", str(tmp_path / "out")], tmp_path)
    print(f"run: workers gone {seconds:.3f} s after kill -9")
    assert seconds < 5


@pytest.mark.slow
@pytest.mark.skipif(not PROC, reason="finds the workers in /proc")
def test_killing_sweep_kills_its_workers(tmp_path):
    seconds = _kill_parent_and_time_its_workers(
        ["sweep", str(_sweep_file(tmp_path, [3, 4, 5, 6, 7, 8], 2)), "--out",
         str(tmp_path / "out")], tmp_path)
    print(f"sweep: workers gone {seconds:.3f} s after kill -9")
    assert seconds < 5


def _ready_then_sleep(folder: Path, _: int) -> None:
    (folder / str(os.getpid())).write_text("")
    time.sleep(60)


def _pool_then_wait(folder: Path, method: str) -> None:
    for _ in imap_unordered(partial(_ready_then_sleep, folder), range(4), workers=2,
                            start_method=method):
        pass


@pytest.mark.slow
@pytest.mark.skipif(not PROC or "fork" not in METHODS, reason="finds workers in /proc")
@pytest.mark.parametrize("pdeathsig", [True, False], ids=["pdeathsig", "portable"])
@pytest.mark.parametrize("method", METHODS)
def test_busy_workers_end_when_their_parent_is_killed(tmp_path, monkeypatch, method,
                                                      pdeathsig):
    """A parent forked here runs a pool whose workers sleep for a minute, and is killed
    once both are at work. ``portable`` turns PR_SET_PDEATHSIG off, leaving the check
    that macOS and Windows rely on."""
    monkeypatch.setattr(sim.execute.pool, "_PDEATHSIG", pdeathsig)  # the forked parent sees it
    parent = mp.get_context("fork").Process(target=_pool_then_wait, args=(tmp_path, method))
    parent.start()  # not a daemon: it has children
    procs: dict[int, str] = {}
    try:
        t0 = time.monotonic()
        while len(ready := [int(f.name) for f in tmp_path.iterdir()]) < 2:
            assert parent.is_alive() and time.monotonic() - t0 < 60, "no workers at work"
            time.sleep(0.02)
        procs = _descendants(parent.pid)  # the workers (and spawn's resource tracker)
        assert set(ready) <= set(procs)
        parent.kill()
        parent.join()
        killed = time.monotonic()
        while left := _still_running(procs):
            assert time.monotonic() - killed < 5, f"workers {left} outlived their parent"
            time.sleep(0.01)
        print(f"{method}, {'pdeathsig' if pdeathsig else 'portable'}: workers gone "
              f"{time.monotonic() - killed:.3f} s after kill -9")
    finally:
        parent.kill()
        for pid in _still_running(procs):  # only if the test failed: clean up
            os.kill(pid, signal.SIGKILL)
