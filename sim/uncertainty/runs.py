"""Running a comparison's scenarios at other parameter sets, on common random numbers.

A *setting* is one parameter set: the values of some priors' paths. Every scenario of the
comparison runs replications ``0..R-1`` of the comparison's seed at every setting, so a
setting's paired differences (alternative minus base) are on common random numbers with
each other and with the comparison itself. Runs go through the executors of
:mod:`sim.execute.executors` (in this process, a process pool or Dask), one run a task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..execute.executors import Executor, ItemFailed, map_unordered
from ..execute.sweep import run_one
from ..metrics import HEADLINE
from ..scenario import Scenario
from ..scenario.params import get_parameter
from .priors import Prior, uses

KEYS = (*HEADLINE, "successful_completions")
"""The metrics kept from each run (means over the reporting years)."""


class UncertaintyRunFailed(RuntimeError):
    """A run at some parameter set failed; the message names it."""


@dataclass(frozen=True)
class Setting:
    """One parameter set: each prior (by name) at a value; ``name`` describes it."""

    name: str
    values: Mapping[str, Any]


def scenario_values(raw: dict[str, Any], base: dict[str, Any], priors: list[Prior],
                    setting: Setting) -> dict[str, Any]:
    """The dotted-path values ``setting`` gives one scenario (raw data ``raw``; ``base``
    is the base scenario's): a prior's value goes to every path where the scenario uses
    the prior's central value, and to no other (an area's or a what-if's own value
    stands); a fitted parameter's value (named by its path, from a posterior) goes to the
    scenario if it holds the base's value there."""
    by_name = {p.name: p for p in priors}
    out: dict[str, Any] = {}
    for name, value in setting.values.items():
        prior = by_name.get(name)
        if prior is None:
            if get_parameter(raw, name) == get_parameter(base, name):
                out[name] = value
            continue
        for dotted in uses(raw, prior):
            out[dotted] = _like(get_parameter(raw, dotted), value)
    return out


def _like(current: Any, value: Any) -> Any:
    """``value`` as the scenario holds ``current``: a drawn count is rounded to a whole
    number (a population of 996.2 people is 996)."""
    if isinstance(current, int) and not isinstance(current, bool) \
            and isinstance(value, float):
        return int(round(value))
    return value


@dataclass(frozen=True)
class _Job:
    scenario: int
    values: dict[str, Any]
    seed: int
    rep: int


def _run_job(scenarios: tuple[Scenario, ...], job: _Job) -> dict[str, Any]:
    """One run: scenario ``job.scenario`` at ``job.values``, replication ``job.rep``."""
    return run_one(scenarios[job.scenario], job.values, job.seed, job.rep, list(KEYS))


def run_settings(scenarios: list[Scenario], raws: list[dict[str, Any]], priors: list[Prior],
                 settings: list[Setting], seed: int, reps: int, executor: Executor,
                 progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run every scenario at every setting, replications ``0..reps-1`` of ``seed``.

    :param raws: each scenario's raw data (``model_dump(by_alias=True)``), to see which
        paths it takes from the evidence.
    :returns: values, shape (settings, scenarios, reps, len(:data:`KEYS`)), in each
        metric's unit; NaN where a metric is undefined in a run.
    :raises UncertaintyRunFailed: naming the setting, scenario and replication of a run
        that failed.
    """
    jobs, where = [], []
    for s, setting in enumerate(settings):
        for i, raw in enumerate(raws):
            values = scenario_values(raw, raws[0], priors, setting)
            for rep in range(reps):
                jobs.append(_Job(i, values, seed, rep))
                where.append((s, i, rep))
    out = np.full((len(settings), len(scenarios), reps, len(KEYS)), np.nan)
    done = 0
    try:
        for index, row in map_unordered(_run_job, tuple(scenarios), jobs, executor):
            s, i, rep = where[index]
            out[s, i, rep] = [row[k] for k in KEYS]
            done += 1
            if progress:
                progress(done, len(jobs))
    except ItemFailed as exc:
        at = where[exc.index] if exc.index is not None else None
        name = (f"{scenarios[at[1]].name} replication {at[2]} at {settings[at[0]].name}"
                if at else "a run")
        raise UncertaintyRunFailed(f"{name} failed ({executor.describe()}):\n{exc}") from exc
    return out
