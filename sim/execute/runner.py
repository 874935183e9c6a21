"""Replications, run serially or on a process pool.

A replication is a pure function of ``(scenario, seed, replication)``: its streams
come from :class:`sim.streams.Streams`, so any executor gives identical tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..metrics import replication_tables
from ..model import simulate
from ..scenario import Scenario
from ..stats import summarise
from .executors import Executor, map_unordered

TABLES = ("people", "yearly", "timeseries")


def run_replication(scenario: Scenario, seed: int, rep: int) -> dict[str, Any]:
    """Simulate one replication and return its tables and its event count."""
    t0 = time.perf_counter()
    records = simulate(scenario, seed, rep)
    tables = replication_tables(records, scenario.name, rep, seed)
    tables["events"] = records.events
    tables["seconds"] = time.perf_counter() - t0
    return tables


@dataclass
class Results:
    """The tables of a run (pandas DataFrames) and how it was made."""

    scenario: Scenario
    seed: int
    reps: list[int]
    people: pd.DataFrame
    yearly: pd.DataFrame
    timeseries: pd.DataFrame
    summary: pd.DataFrame
    seconds: float
    events: int
    complete: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name -> table, for writing."""
        return {"people": self.people, "yearly": self.yearly, "timeseries": self.timeseries,
                "summary": self.summary}


def run(scenario: Scenario, reps: int | None = None, seed: int | None = None,
        workers: int = 1, progress: Callable[[int, int], None] | None = None,
        first_rep: int = 0, executor: Executor | None = None) -> Results:
    """Run ``reps`` replications of ``scenario`` (defaults from ``scenario.run``).

    :param workers: 1 runs serially in this process; more uses a process pool.
    :param executor: where to run instead (a Dask cluster, say); overrides ``workers``.
    :param first_rep: number of the first replication (to add replications to a run).
    :param progress: called as ``progress(done, total)`` after each replication.
    :returns: :class:`Results`, the same on every executor. If interrupted (Ctrl-C), the
        replications already finished are returned with ``complete=False`` instead of
        being lost.
    :raises ItemFailed: when a replication raises, naming it.
    """
    reps = reps or scenario.run.replications
    seed = scenario.run.seed if seed is None else seed
    executor = executor or Executor(workers=workers)
    t0 = time.perf_counter()
    done: dict[int, dict[str, Any]] = {}
    complete = True
    numbers = list(range(first_rep, first_rep + reps))
    try:
        for index, tables in map_unordered(_replication, (scenario, seed), numbers, executor):
            done[numbers[index]] = tables
            if progress:
                progress(len(done), reps)
    except KeyboardInterrupt:
        complete = False
        if not done:
            raise
    return _collect(scenario, seed, done, time.perf_counter() - t0, complete)


def _replication(shared: tuple[Scenario, int], rep: int) -> dict[str, Any]:
    """:func:`run_replication` of ``(scenario, seed)`` and ``rep``, for any executor."""
    scenario, seed = shared
    return run_replication(scenario, seed, rep)


def _collect(scenario: Scenario, seed: int, done: dict[int, dict[str, Any]], seconds: float,
             complete: bool) -> Results:
    order = sorted(done)
    frames = {name: pd.concat([done[r][name] for r in order], ignore_index=True)
              for name in TABLES}
    return Results(
        scenario=scenario, seed=seed, reps=order, people=frames["people"],
        yearly=frames["yearly"], timeseries=frames["timeseries"],
        summary=summarise(frames["yearly"]), seconds=seconds,
        events=sum(done[r]["events"] for r in order), complete=complete,
    )
