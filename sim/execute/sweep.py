"""Running a sweep: every unfinished run of a plan, on any executor, each run's row
written to the sweep's folder the moment it finishes.

Every point runs replications ``0..R-1`` of the same seed, so points are compared on
common random numbers (a person's draws do not change with the parameters), which is
what makes differences between points, and so the sensitivity indices, less noisy. A
run is a pure function of ``(base scenario, parameter values, seed, replication)``:
whichever executor runs it, its row is the same.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.sweep_store import SweepStore
from ..metrics import key_values
from ..scenario import Scenario, resolved_yaml, scenario_hash, with_parameters
from ..sweep import SweepPlan
from .executors import Executor, ItemFailed, map_unordered
from .runner import run_replication

__all__ = ["RunFailed", "SweepOutcome", "run_one", "run_sweep"]


def run_one(base: Scenario, values: dict[str, float], seed: int, rep: int,
            keys: list[str]) -> dict[str, Any]:
    """One run: the base scenario at ``values``, replication ``rep`` of ``seed``.

    :returns: the run's row without its bookkeeping columns: the scenario hash, the
        model's event count and each kept metric (mean over the reporting years, or one
        year for ``metric@year``), in the metric's unit.
    """
    scenario = with_parameters(base, values)
    out = run_replication(scenario, seed, rep)
    row: dict[str, Any] = {"scenario_sha256": scenario_hash(resolved_yaml(scenario)),
                           "events": int(out["events"])}
    row.update(key_values(out["yearly"], keys))
    return row


class RunFailed(RuntimeError):
    """A run raised an error (or its worker died twice); the finished runs are kept."""


@dataclass(frozen=True)
class _Job:
    """What a worker needs for one run besides the base scenario."""

    values: dict[str, float]
    seed: int
    rep: int
    keys: list[str]


def _run_job(base: Scenario, job: _Job) -> dict[str, Any]:
    """:func:`run_one` of a job (looked up when called, so tests can replace it)."""
    return run_one(base, job.values, job.seed, job.rep, job.keys)


def _execute(plan: SweepPlan, todo: list[tuple[int, int]], executor: Executor
             ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
    """Yield ``((point, rep), row)`` as runs finish, on ``executor``."""
    keys = list(plan.sweep.metrics)
    jobs = [_Job(plan.point_values(point), plan.seed, rep, keys) for point, rep in todo]
    try:
        for index, row in map_unordered(_run_job, plan.base, jobs, executor):
            yield todo[index], row
    except ItemFailed as exc:
        where = (f"run {todo[exc.index][1]} of point {todo[exc.index][0]}"
                 if exc.index is not None else "a run")
        raise RunFailed(f"{where} failed ({executor.describe()}):\n{exc}") from exc


@dataclass
class SweepOutcome:
    """What a call of :func:`run_sweep` did."""

    out: Path
    total: int
    finished_before: int
    finished_now: int
    seconds: float
    complete: bool
    executor: str

    @property
    def runs_per_second(self) -> float:
        """Runs finished per second of this call."""
        return self.finished_now / self.seconds if self.seconds > 0 else math.nan


def run_sweep(plan: SweepPlan, out: str | Path, workers: int = 1, scheduler: str | None = None,
              dask_local: int | None = None, resume: bool = False,
              progress: Callable[[int, int, float], None] | None = None,
              force: bool = False) -> SweepOutcome:
    """Run every unfinished run of ``plan`` into the folder ``out``.

    Each finished run is written at once (atomically) as its own Parquet file, so
    Ctrl-C, SIGTERM or a lost worker never loses a finished run; with ``resume`` the runs
    already in ``out`` are skipped. When every run is in, the whole table is written as
    ``runs.csv`` with each point's summary.

    :param workers: processes for a local pool (1 runs in this process).
    :param scheduler: address of a Dask scheduler (``tcp://host:8786``).
    :param dask_local: start a local Dask cluster of this many worker processes.
    :param progress: called as ``progress(done, total, seconds_left)`` after each run;
        ``seconds_left`` is NaN until a run of this call has finished.
    :param force: start afresh where ``out`` holds a sweep or something else (see
        :meth:`sim.io.sweep_store.SweepStore.open`; nothing treatsim did not write is
        deleted).
    :raises SweepStoreError: when ``out`` holds another sweep, a sweep without
        ``resume`` or ``force``, or something treatsim did not write.
    :raises RunFailed: when a run raises, naming it; finished runs are kept.
    """
    store = SweepStore.open(out, plan, resume=resume, force=force)
    executor = Executor(workers=workers, scheduler=scheduler, dask_local=dask_local)
    done = store.finished()
    todo = [r for r in plan.runs() if r not in done]
    total = len(plan.runs())
    before = total - len(todo)
    t0 = time.perf_counter()
    now = 0
    complete = False
    try:
        for (point, rep), row in _execute(plan, todo, executor):
            store.write_run(point, rep, row)
            now += 1
            if progress:
                elapsed = time.perf_counter() - t0
                progress(before + now, total, elapsed / now * (len(todo) - now))
        complete = True
    finally:
        seconds = time.perf_counter() - t0
        store.finish(complete=complete, executor=executor.describe(), runs=now,
                     seconds=seconds)
    return SweepOutcome(out=Path(out), total=total, finished_before=before, finished_now=now,
                        seconds=seconds, complete=complete, executor=executor.describe())
