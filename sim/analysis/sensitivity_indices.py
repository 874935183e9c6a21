"""The estimates of a sensitivity analysis. SALib's analysers each turn a metric's mean at
every design point into rows of the index table of
:class:`sim.analysis.sensitivity.Sensitivity` (``metric``, ``parameter``, ``index``,
``value``, ``ci_low``, ``ci_high``); the sweep's design is in the unit hypercube, so each
sees the same SALib problem over [0, 1] per parameter. A grid has its response instead:
each metric's mean and 95% t-interval over replications at each level.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..stats import LEVEL, t_interval
from ..sweep import salib_problem

__all__ = ["RESAMPLES", "SEED", "grid_response", "morris_indices", "rbd_fast_indices",
           "sobol_indices"]

RESAMPLES = 1000
"""Bootstrap resamples for the 95% intervals of Sobol, Morris and RBD-FAST indices."""

SEED = 20240611
"""Seed of the bootstrap resampling, so an analysis of the same folder gives the same
intervals every time (SALib ignores a seed of 0)."""

RBD_HARMONICS = 10
"""Harmonics RBD-FAST counts as first-order (SALib's default), fewer for small samples."""

RBD_MIN_POINTS = 16
"""Fewest design points for RBD-FAST (its bootstrap uses half of them)."""

Rows = list[dict[str, Any]]


def _salib(call: Callable[[], Any], metric: str, notes: list[str]) -> Any:
    """Run a SALib analyser, turning its warnings into notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = call()
    for msg in dict.fromkeys(str(w.message).strip() for w in caught):
        notes.append(f"{metric}: SALib warned: {msg}")
    return out


def _row(metric: str, parameter: str, index: str, value: float,
         conf: float | None = None) -> dict[str, Any]:
    """One row of the index table; the 95% interval is ``value ∓ conf`` (NaN if none)."""
    value = float(value)
    if conf is None or math.isnan(float(conf)):
        lo = hi = math.nan
    else:
        lo, hi = value - float(conf), value + float(conf)
    return {"metric": metric, "parameter": parameter, "index": index, "value": value,
            "ci_low": lo, "ci_high": hi}


def sobol_indices(design: dict[str, Any], names: list[str], unit: np.ndarray, y: np.ndarray,
                  metric: str, notes: list[str]) -> Rows:
    """``S1`` and ``ST`` per parameter (and ``S2`` per pair when ``design`` sampled second
    order) from a Saltelli design's outputs ``y`` (in point order); shares of variance."""
    from SALib.analyze import sobol

    second = bool(design.get("second_order"))
    s = _salib(lambda: sobol.analyze(salib_problem(names), y, calc_second_order=second,
                                     num_resamples=RESAMPLES, conf_level=LEVEL, seed=SEED),
               metric, notes)
    rows = []
    for j, n in enumerate(names):
        rows.append(_row(metric, n, "S1", s["S1"][j], s["S1_conf"][j]))
        rows.append(_row(metric, n, "ST", s["ST"][j], s["ST_conf"][j]))
    if second:
        for j in range(len(names)):
            for k in range(j + 1, len(names)):
                rows.append(_row(metric, f"{names[j]} × {names[k]}", "S2", s["S2"][j, k],
                                 s["S2_conf"][j, k]))
    return rows


def morris_indices(design: dict[str, Any], names: list[str], unit: np.ndarray,
                   y: np.ndarray, metric: str, notes: list[str]) -> Rows:
    """``mu_star``, ``sigma`` and ``mu`` per parameter from Morris trajectories at the unit
    points ``unit``, in the metric's unit per unit of the normalised range."""
    from SALib.analyze import morris

    levels = int(design.get("levels") or 4)
    s = _salib(lambda: morris.analyze(salib_problem(names), unit, y, num_resamples=RESAMPLES,
                                      conf_level=LEVEL, num_levels=levels, seed=SEED),
               metric, notes)
    rows = []
    for j, n in enumerate(names):
        rows.append(_row(metric, n, "mu_star", s["mu_star"][j], s["mu_star_conf"][j]))
        rows.append(_row(metric, n, "sigma", s["sigma"][j]))
        rows.append(_row(metric, n, "mu", s["mu"][j]))
    return rows


def rbd_fast_indices(design: dict[str, Any], names: list[str], unit: np.ndarray,
                     y: np.ndarray, metric: str, notes: list[str]) -> Rows:
    """``S1`` per parameter by RBD-FAST at the unit points ``unit`` (any sample); none, with
    a note, for fewer than :data:`RBD_MIN_POINTS` points."""
    from SALib.analyze import rbd_fast

    n = len(y)
    if n < RBD_MIN_POINTS:
        notes.append(f"{metric}: {n} design points are too few for RBD-FAST (it needs "
                     f"{RBD_MIN_POINTS}); indices not estimated")
        return []
    harmonics = min(RBD_HARMONICS, n // 8)
    s = _salib(lambda: rbd_fast.analyze(salib_problem(names), unit, y, M=harmonics,
                                        num_resamples=RESAMPLES, conf_level=LEVEL,
                                        seed=SEED), metric, notes)
    return [_row(metric, p, "S1", s["S1"][j], s["S1_conf"][j]) for j, p in enumerate(names)]


def grid_response(runs: pd.DataFrame, metrics: list[str], params: list[str], reps: int,
                  notes: list[str]) -> pd.DataFrame:
    """Each metric's mean and 95% t-interval over replications (in the metric's unit) at
    each level combination of ``params``; a replication's value is its mean over the
    points at that level. ``reps`` is the replications per point."""
    rows = []
    for metric in metrics:
        per_rep = (runs.groupby([*params, "rep"], sort=True)[metric]
                   .agg(lambda s: s.mean(skipna=False)))
        short = 0
        for level, group in per_rep.groupby(level=list(range(len(params))), sort=True):
            level = level if isinstance(level, tuple) else (level,)
            mean, sd, lo, hi, n = t_interval(group.to_numpy(dtype=float))
            short += n < reps
            rows.append({"metric": metric, **dict(zip(params, map(float, level), strict=True)),
                         "n": n, "mean": mean, "sd": sd, "ci_low": lo, "ci_high": hi})
        if short:
            notes.append(f"{metric} is undefined (NaN) at some points, so {short} of its "
                         f"response levels use fewer than {reps} replications")
    if reps < 2:
        notes.append("one replication per point: the response has no confidence intervals")
    return pd.DataFrame(rows, columns=["metric", *params, "n", "mean", "sd", "ci_low",
                                       "ci_high"])

