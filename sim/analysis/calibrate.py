"""Calibration against cited targets: the loss, the search and the check of a fit.

The targets file (:mod:`.targets`) names the scenario, its free parameters and the
reported figures to fit. :func:`calibrate` searches the free parameters by differential
evolution, every point simulated on the same replications (common random numbers) on an
:class:`~sim.execute.executors.Executor`, and caches each point as it finishes so that a
stopped search resumes; :func:`check_fit` compares every target with its simulated mean
at the fit, and :mod:`.fit_report` writes the fit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..execute.executors import Executor, batches
from ..execute.runner import run_replication
from ..metrics import key_values
from ..scenario import PolicyError, Scenario, get_parameter, with_parameters
from ..stats import t_interval
from .fit_report import fit_paths, write_fit
from .targets import Target, Targets, find_seeds, load_targets

__all__ = ["EvaluationCache", "Targets", "calibrate", "check_fit", "current_values",
           "default_out_dir", "evaluate_point", "find_seeds", "fit_paths", "load_targets",
           "loss_value", "simulate_point", "write_fit"]

PointResult = dict[str, list[float]] | str
"""Per-replication values of each simulated key at a point, or why the point is invalid."""

INVALID_LOSS = 1e6
"""The loss of a point the scenario rejects."""

MISSING_LOSS = 100.0
"""What a target adds to the loss when the metric has no value at the point."""


@dataclass(frozen=True)
class PointSetup:
    """What every point of a search shares: the scenario, the keys simulated (``metric``
    or ``metric@year``), and the seed and number of the replications. One object (not a
    tuple), so that a Dask executor sends it to each worker whole."""

    scenario: Scenario
    keys: list[str]
    seed: int
    reps: int


def current_values(scenario: Scenario, targets: Targets) -> list[float]:
    """The scenario's present value of each free parameter, clipped into its bounds."""
    raw = scenario.model_dump(mode="python", by_alias=True)
    return [min(max(float(get_parameter(raw, fp.path)), fp.low), fp.high)
            for fp in targets.free_parameters]


def simulate_point(scenario: Scenario, values: dict[str, float], keys: list[str],
                   seed: int, reps: int) -> dict[str, list[float]]:
    """Per-replication values at ``values`` of each key (``metric``: mean over the reporting
    years; ``metric@year``: that reporting year), on replications ``0..reps-1`` of
    ``seed`` (common random numbers for every point)."""
    sc = with_parameters(scenario, values)
    out: dict[str, list[float]] = {k: [] for k in keys}
    for rep in range(reps):
        for k, v in key_values(run_replication(sc, seed, rep)["yearly"], keys).items():
            out[k].append(v)
    return out


def evaluate_point(setup: PointSetup, values: dict[str, float]) -> PointResult:
    """:func:`simulate_point` at ``values`` (parameter path -> value), or the first line of
    the reason when the scenario rejects that combination of values."""
    try:
        return simulate_point(setup.scenario, values, setup.keys, setup.seed, setup.reps)
    except (ValidationError, PolicyError) as exc:
        return f"invalid: {exc}".splitlines()[0]


def loss_value(per_rep: PointResult, targets: list[Target]) -> float:
    """Mean squared scaled error over ``targets`` of the replication means (errors in
    tolerances, so no unit)."""
    if isinstance(per_rep, str):
        return INVALID_LOSS
    total = 0.0
    for t in targets:
        vals = [v for v in per_rep.get(t.key, []) if not math.isnan(v)]
        if not vals:
            total += MISSING_LOSS
            continue
        z = (sum(vals) / len(vals) - t.value) / t.tolerance
        total += z * z
    return total / max(1, len(targets))


class EvaluationCache:
    """Every evaluated point, appended to a JSON-lines file as soon as it finishes.

    The search is deterministic given its seed and the losses it sees, so a rerun
    replays the cached points instantly and continues where it stopped.
    """

    def __init__(self, path: Path, fresh: bool = False) -> None:
        self.path = path
        self.points: dict[tuple[str, ...], PointResult] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that point is simply rerun
                self.points[tuple(row["x"])] = row["result"]
        self.replayed = 0

    @staticmethod
    def key(x: Any) -> tuple[str, ...]:
        """Exact key of a point (hex floats)."""
        return tuple(float(v).hex() for v in x)

    def add(self, x: Any, result: PointResult) -> None:
        """Record a finished point (one line, flushed)."""
        k = self.key(x)
        self.points[k] = result
        with self.path.open("a") as f:
            f.write(json.dumps({"x": list(k), "result": result}) + "\n")
            f.flush()
            os.fsync(f.fileno())


class Generations:
    """Scores the search's generations of points (scipy's ``workers`` protocol): cached
    points are replayed, the rest run as one batch by ``run`` (of
    :func:`sim.execute.executors.batches` over :func:`evaluate_point`) and are cached as
    each finishes.

    :param progress: called as ``progress(evaluations_done, budget, best_loss)``.
    """

    def __init__(self, run: Callable[[list[dict[str, float]]], Iterable[tuple[int, Any]]],
                 names: list[str], fitted: list[Target], cache: EvaluationCache,
                 budget: int, progress: Callable[[int, int, float], Any] | None = None
                 ) -> None:
        self.run, self.names, self.fitted, self.cache = run, names, fitted, cache
        self.budget, self.progress = budget, progress
        self.evaluations = 0
        self.best = math.inf

    def __call__(self, func: Any, population: Iterable[Any]) -> list[float]:
        """The loss of each point of ``population`` (``func``, scipy's objective, is not
        used: the points are simulated here)."""
        xs = [np.asarray(x, dtype=float) for x in population]
        results: list[Any] = [None] * len(xs)
        todo = []
        for i, x in enumerate(xs):
            hit = self.cache.points.get(self.cache.key(x))
            if hit is not None:
                results[i] = hit
                self.cache.replayed += 1
            else:
                todo.append(i)
        items = [dict(zip(self.names, map(float, xs[i]), strict=True)) for i in todo]
        for k, result in self.run(items):
            self.cache.add(xs[todo[k]], result)  # each point is cached as soon as it finishes
            results[todo[k]] = result
        losses = [loss_value(r, self.fitted) for r in results]
        self.evaluations += len(xs)
        self.best = min([self.best, *losses])
        if self.progress:
            self.progress(self.evaluations, self.budget, self.best)
        return losses


def calibrate(targets_path: str | Path, reps: int | None = None, workers: int = 1,
              max_evaluations: int | None = None, fresh: bool = False,
              progress: Callable[[int, int, float], Any] | None = None,
              out_dir: str | Path | None = None,
              executor: Executor | None = None) -> dict[str, Any]:
    """Fit the free parameters of a targets file by differential evolution.

    :param reps: replications per point (default: the file's ``reps``).
    :param workers: processes evaluating points in parallel (when no ``executor``).
    :param fresh: forget cached evaluations and start again.
    :param progress: called as ``progress(evaluations_done, budget, best_loss)``.
    :param out_dir: where fits are written (default ``calibration/fitted`` beside the
        targets folder); its ``.cache`` holds the evaluations that make a rerun resume.
    :param executor: where points run (default: ``workers`` local processes), started
        once for the whole search; each generation is one batch. The fit is the same on
        every executor.
    :returns: the fit: parameters, loss, evaluations, seconds (wall clock), and the
        search's replication means at the fit.
    :raises sim.execute.executors.ItemFailed: when a point fails other than by being
        rejected by the scenario.
    """
    from scipy.optimize import differential_evolution

    targets, scenario, path = load_targets(targets_path)
    reps = reps or targets.reps
    budget = max_evaluations or targets.max_evaluations
    names = [fp.path for fp in targets.free_parameters]
    out = Path(out_dir) if out_dir else default_out_dir(path)
    cache = EvaluationCache(out / ".cache" / cache_name(targets, scenario, reps), fresh=fresh)
    setup = PointSetup(scenario, sorted({t.key for t in targets.targets}), targets.seed, reps)
    popsize, maxiter = search_size(len(names), budget)
    t0 = time.perf_counter()
    with batches(evaluate_point, setup, executor or Executor(workers=workers)) as run:
        generations = Generations(run, names, targets.fitted(), cache, budget, progress)
        result = differential_evolution(
            lambda x: 0.0, [(fp.low, fp.high) for fp in targets.free_parameters],
            seed=targets.seed, popsize=popsize, maxiter=maxiter, init="latinhypercube",
            x0=current_values(scenario, targets), polish=False, updating="deferred",
            workers=generations, tol=1e-3,
        )
    return {
        "search_means": _search_means(cache.points.get(cache.key(result.x))),
        "targets": targets, "scenario": scenario, "path": path,
        "parameters": dict(zip(names, map(float, result.x), strict=True)),
        "loss": float(result.fun), "evaluations": generations.evaluations,
        "replayed": cache.replayed, "seconds": time.perf_counter() - t0, "reps": reps,
        "search_reps": reps, "out_dir": out,
    }


SIM = Path(__file__).resolve().parents[1]
"""The ``sim`` package, whose sources a cached evaluation was computed by."""


def cache_name(targets: Targets, scenario: Scenario, reps: int) -> str:
    """The file of a search's cached evaluations: its area, seed and replications, and a
    digest of everything an evaluation depends on (the targets, the base scenario as
    loaded, and the source of every ``sim`` module), so that a cache made by other code or
    other inputs is never replayed, only left beside the new one."""
    h = hashlib.sha256()
    h.update(targets.model_dump_json().encode())
    h.update(scenario.model_dump_json().encode())
    for path in sorted(SIM.rglob("*.py")):
        h.update(path.relative_to(SIM).as_posix().encode())
        h.update(path.read_bytes())
    return f"{targets.area}-s{targets.seed}-r{reps}-{h.hexdigest()[:12]}.jsonl"


def search_size(parameters: int, budget: int) -> tuple[int, int]:
    """(popsize, maxiter) of the differential evolution for ``parameters`` free parameters
    and about ``budget`` evaluations: a generation is ``popsize * parameters`` points."""
    popsize = max(2, min(8, 24 // parameters))
    return popsize, max(1, budget // (popsize * parameters) - 1)


def _search_means(at_best: PointResult | None) -> dict[str, float]:
    """Each key's mean over the search's replications at the fit (NaN if it has none)."""
    means = {}
    if isinstance(at_best, dict):
        for m, vals in at_best.items():
            ok = [v for v in vals if not math.isnan(v)]
            means[m] = sum(ok) / len(ok) if ok else math.nan
    return means


def default_out_dir(targets_path: Path) -> Path:
    """``calibration/fitted`` for ``calibration/targets/<area>.yaml``."""
    return targets_path.parent.parent / "fitted"


def check_fit(scenario: Scenario, targets: Targets, parameters: dict[str, float],
              reps: int, seed: int | None = None) -> list[dict[str, Any]]:
    """Every target against the simulated mean and its 95% CI at ``parameters``.

    Uses replications ``0..reps-1`` of ``seed`` (default: the targets file's seed).
    Values are in each metric's unit; ``scaled_error`` is the error in tolerances.
    """
    keys = sorted({t.key for t in targets.targets})
    per_rep = simulate_point(scenario, parameters, keys,
                             targets.seed if seed is None else seed, reps)
    rows = []
    for t in targets.targets:
        mean, _, lo, hi, n = t_interval(per_rep[t.key])
        error = mean - t.value
        rows.append({
            "name": t.name, "metric": t.metric, "key": t.key, "period": t.period,
            "held_out": t.held_out,
            "target": t.value, "tolerance": t.tolerance, "simulated": mean, "ci_low": lo,
            "ci_high": hi, "reps": n, "error": error,
            "scaled_error": error / t.tolerance if not math.isnan(mean) else math.nan,
            "within": bool(abs(error) <= t.tolerance) if not math.isnan(mean) else False,
            "note": t.note, "quote": t.source.quote, "file": t.source.file,
        })
    return rows
