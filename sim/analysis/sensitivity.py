"""Sensitivity analysis of a finished sweep (:mod:`sim.sweep`), with SALib.

Each metric's response at a design point is the mean over that point's replications
(replication ``r`` of every point shares its random numbers, so the mean is a smooth
function of the parameters). What is estimated depends on the sweep's design:

- ``sobol`` (Saltelli's scheme): first-order (``S1``) and total (``ST``) Sobol indices,
  and second-order (``S2``) when the design sampled them. An index is a share of the
  variance of the metric over the design's ranges (0 to 1, no unit). 95% intervals are
  bootstrap intervals (``value ∓ conf``) from :func:`SALib.analyze.sobol.analyze`.
  Parameters are ranked by ``ST``.
- ``morris``: elementary effects (``mu_star`` with a bootstrap 95% interval, ``sigma``
  and ``mu``, which have none), from :func:`SALib.analyze.morris.analyze`. Effects are
  **per unit of the normalised range**: a change of the parameter from the bottom to the
  top of its range (0 to 1 in the unit hypercube) times the effect, in the metric's own
  unit (days, GBP, people, share). Parameters are ranked by ``mu_star``.
- ``lhs``: first-order indices ``S1`` by RBD-FAST (:func:`SALib.analyze.rbd_fast.analyze`,
  which takes any sample), with bootstrap 95% intervals, ranked by ``S1``. SALib 1.6's
  moment-independent ``delta`` analyser is not used: on the Ishigami test function with
  1,000 Latin hypercube points its ``delta`` and ``S1`` for the strongest input came out
  far below the true values with 95% intervals that missed them, seed after seed.
  RBD-FAST depends only on the order of each input's values, so the unit-hypercube
  positions (which order the points as their real values do, and break the ties that
  rounding to whole numbers makes) are used.
- ``grid``: no variance indices. Instead the *response*: each metric's mean and 95%
  t-interval at each level of one or two parameters, averaged over the other
  parameters' levels. The interval is over replications: for each replication, the mean
  over the points at that level, then Student's t across replications (the replication,
  not the point, is the independent unit, because every point's replication ``r`` shares
  random numbers).

A metric undefined (NaN) at any design point is left out of index estimation, with a
note; a metric with the same value at every point has no variance to share out and is
left out too.

The estimates (SALib's analysers, a grid's response) are in :mod:`.sensitivity_indices`;
the tables, markdown and figures,
and writing them, in :mod:`.sensitivity_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.sweep_store import read_sweep
from ..metrics import format_metric
from .sensitivity_indices import (
    RESAMPLES,
    SEED,
    grid_response,
    morris_indices,
    rbd_fast_indices,
    sobol_indices,
)
from .sensitivity_report import markdown, text_table, write_sensitivity

__all__ = ["Sensitivity", "SensitivityError", "analyse", "analyse_frames", "write_sensitivity",
           "text_table", "markdown", "RESAMPLES", "SEED"]

SOBOL_ROUGH = 64
"""Below this many base samples Sobol estimates are rough (a note says so): SALib's
estimators then stray well outside [0, 1] even for a function of one input."""

COLUMNS = ["metric", "parameter", "index", "value", "ci_low", "ci_high", "rank"]
RANKED_BY = {"sobol": "ST", "morris": "mu_star", "lhs": "S1"}
"""The index that ranks parameters within a metric, by design."""


class SensitivityError(Exception):
    """A sweep folder, or a request, that cannot be analysed as asked."""


@dataclass
class Sensitivity:
    """The result of :func:`analyse`.

    ``table`` is long: one row per metric × parameter × index with columns ``metric``,
    ``parameter``, ``index`` (``S1``, ``ST``, ``S2``; ``mu_star``, ``sigma``, ``mu``),
    ``value``, ``ci_low``, ``ci_high`` (95%; NaN where the index has none) and ``rank``
    (1 = most influential within the metric, shared by all of a parameter's rows; none
    for ``S2``). Sobol and RBD-FAST indices are shares of variance (no unit); Morris
    effects are in the metric's unit per unit of the normalised [0, 1] range. Empty for
    a grid.

    ``response`` (grids only) has one row per metric × level combination of the response
    parameters: ``metric``, one column per response parameter (its value), ``n``
    (replications), ``mean``, ``sd``, ``ci_low``, ``ci_high`` (95% t-interval over
    replications), in the metric's unit.
    """

    method: str
    table: pd.DataFrame
    response: pd.DataFrame | None
    notes: list[str]
    sweep: str = ""
    parameters: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    response_parameters: list[str] = field(default_factory=list)
    points: int = 0
    replications: int = 0

    @property
    def ranked_by(self) -> str:
        """The index that ranks parameters within a metric (not for a grid)."""
        return RANKED_BY[self.method]

    def label(self, parameter: str) -> str:
        """A parameter's label from the sweep file, or its dotted path."""
        return self.labels.get(parameter) or parameter


# --------------------------------------------------------------------------- analysis


def analyse(out: str | Path, metrics: list[str] | None = None,
            response: list[str] | None = None) -> Sensitivity:
    """Analyse the finished sweep in folder ``out`` (see :func:`analyse_frames`).

    :raises SweepStoreError: when ``out`` is not a sweep folder.
    :raises SensitivityError: when a run is missing, or ``metrics`` / ``response`` name
        something the sweep does not have.
    """
    manifest, design, runs = read_sweep(out)
    return analyse_frames(manifest, design, runs, metrics=metrics, response=response,
                          where=str(out))


def analyse_frames(manifest: dict[str, Any], design: pd.DataFrame, runs: pd.DataFrame,
                   metrics: list[str] | None = None, response: list[str] | None = None,
                   where: str | None = None) -> Sensitivity:
    """Sensitivity of each metric to the sweep's parameters, from the sweep's manifest,
    design table and runs table (as :func:`sim.io.sweep_store.read_sweep` returns them).

    :param metrics: metric keys to analyse (default: every metric the sweep kept).
    :param response: for a grid, the one or two parameters to show the response to
        (default: the first one or two parameters of the sweep).
    :param where: the sweep's folder, for messages.
    :raises SensitivityError: when any run is missing, or ``metrics`` / ``response`` name
        something the sweep does not have.
    """
    result = _checked_result(manifest, design, runs, metrics, response, where)
    if result.method == "grid":
        result.response = grid_response(runs, result.metrics, result.response_parameters,
                                        result.replications, result.notes)
        return result
    design = design.sort_values("point", ignore_index=True)
    if result.method == "sobol":
        _note_rough_sobol(manifest, result)
    unit = design[[f"unit:{n}" for n in result.parameters]].to_numpy(dtype=float)
    estimate = {"sobol": sobol_indices, "morris": morris_indices,
                "lhs": rbd_fast_indices}[result.method]
    frames = []
    for metric in result.metrics:
        y = _point_means(runs, metric, result.points)
        if not _estimable(result, metric, y):
            continue
        _check_design_size(manifest, result.parameters, result.points)
        rows = estimate(manifest["design"], result.parameters, unit, y, metric, result.notes)
        if rows:
            frames.append(_ranked(pd.DataFrame(rows), result.ranked_by))
    if frames:
        result.table = _typed(pd.concat(frames, ignore_index=True))
    return result


def _checked_result(manifest: dict[str, Any], design: pd.DataFrame, runs: pd.DataFrame,
                    metrics: list[str] | None, response: list[str] | None,
                    where: str | None) -> Sensitivity:
    """An empty result for the sweep, once the request and the tables are checked."""
    names = [p["path"] for p in manifest["parameters"]]
    name = manifest.get("name", "?")
    metrics = _check_metrics(manifest, metrics)
    chosen = _check_response(manifest, response)
    _check_complete(manifest, runs, where)
    missing = [m for m in metrics if m not in runs.columns]
    if missing:
        raise SensitivityError(f"{where or f'sweep {name!r}'}: the runs table has no column "
                               f"{missing[0]!r}; the folder is damaged")
    points = int(manifest["points"])
    if len(design) != points:
        raise SensitivityError(f"{where or f'sweep {name!r}'}: the design table has "
                               f"{len(design)} points, the manifest says {points}")
    return Sensitivity(
        method=manifest["design"]["method"], table=_empty_table(), response=None, notes=[],
        sweep=name, parameters=names,
        labels={p["path"]: p.get("label", "") for p in manifest["parameters"]},
        metrics=metrics, response_parameters=chosen, points=points,
        replications=int(manifest["replications"]))


def _note_rough_sobol(manifest: dict[str, Any], result: Sensitivity) -> None:
    """Note a Sobol design with too few base samples for more than rough estimates."""
    d = len(result.parameters)
    base = result.points // (2 * d + 2 if manifest["design"].get("second_order") else d + 2)
    if base < SOBOL_ROUGH:
        result.notes.append(
            f"the Sobol design has {base} base samples: estimates from fewer than "
            f"{SOBOL_ROUGH} are rough (they can stray outside 0 to 1); their intervals "
            f"show how rough, and a larger power of 2 as samples narrows them")


def _estimable(result: Sensitivity, metric: str, y: np.ndarray) -> bool:
    """Whether ``metric``'s point means ``y`` can have indices; if not, a note says why."""
    bad = int(np.isnan(y).sum())
    if bad:
        result.notes.append(
            f"{metric} is undefined (NaN) at {bad} of {result.points} design points, so its "
            f"indices are not estimated (an index needs the metric at every point)")
        return False
    if result.method != "morris" and np.ptp(y) == 0:
        result.notes.append(
            f"{metric} is {format_metric(y[0], metric)} at every design point: no swept "
            f"parameter changes it, so there is no variance to share out and its "
            f"indices are not estimated")
        return False
    return True




def _check_metrics(manifest: dict[str, Any], metrics: list[str] | None) -> list[str]:
    kept = list(manifest["metrics"])
    if metrics is None:
        return kept
    unknown = [m for m in metrics if m not in kept]
    if unknown:
        raise SensitivityError(
            f"sweep {manifest.get('name', '?')!r} did not keep "
            f"{', '.join(repr(m) for m in unknown)}; its metrics are {', '.join(kept)}")
    if not metrics:
        raise SensitivityError(f"no metrics asked for; the sweep's metrics are "
                               f"{', '.join(kept)}")
    return list(dict.fromkeys(metrics))


def _check_response(manifest: dict[str, Any], response: list[str] | None) -> list[str]:
    names = [p["path"] for p in manifest["parameters"]]
    method = manifest["design"]["method"]
    if response is None:
        return names[:2] if method == "grid" else []
    sweep = manifest.get("name", "?")
    if method != "grid":
        raise SensitivityError(
            f"response parameters are for a grid sweep; {sweep!r} is a {method} design, "
            f"whose sensitivity indices cover every parameter")
    if not 1 <= len(response) <= 2 or len(set(response)) != len(response):
        raise SensitivityError(f"give one or two different response parameters, got "
                               f"{len(response)}: {', '.join(response) or 'none'}")
    unknown = [r for r in response if r not in names]
    if unknown:
        raise SensitivityError(
            f"{unknown[0]!r} is not a parameter of sweep {sweep!r}; its parameters are "
            f"{', '.join(names)}")
    return list(response)


def _check_complete(manifest: dict[str, Any], runs: pd.DataFrame, where: str | None) -> None:
    points, reps = int(manifest["points"]), int(manifest["replications"])
    total = points * reps
    if runs.empty:
        done = 0
    else:
        have = set(zip(runs["point"].astype(int), runs["rep"].astype(int), strict=True))
        done = sum(1 for p in range(points) for r in range(reps) if (p, r) in have)
    if done == total:
        return
    place = where or "DIR"
    source = manifest.get("source") or "SWEEP.yaml"
    finished = "none" if done == 0 else f"only {done}"
    raise SensitivityError(
        f"{where or 'the sweep folder'}: sweep {manifest.get('name', '?')!r} is incomplete: "
        f"{finished} of its {total} runs have finished ({points} points × {reps} "
        f"replications), and sensitivity analysis needs every run of every design point. "
        f"Resume it with `treatsim sweep {source} --out {place} --resume`, then analyse it "
        f"again.")


def _point_means(runs: pd.DataFrame, metric: str, points: int) -> np.ndarray:
    """The metric's mean over replications at each point, in point order (NaN if any
    replication of the point has none)."""
    wide = runs.pivot(index="point", columns="rep", values=metric).reindex(range(points))
    return wide.astype(float).mean(axis=1, skipna=False).to_numpy()


def _check_design_size(manifest: dict[str, Any], names: list[str], points: int) -> None:
    """Raise unless ``points`` can be a whole Sobol or Morris design over ``names``."""
    design, d = manifest["design"], len(names)
    if design["method"] == "sobol":
        second = bool(design.get("second_order"))
        step = 2 * d + 2 if second else d + 2
        if points % step:
            raise SensitivityError(
                f"a sobol design over {d} parameters{' with second order' if second else ''} "
                f"has a multiple of {step} points; this one has {points}")
    elif design["method"] == "morris" and points % (d + 1):
        raise SensitivityError(f"a morris design over {d} parameters has trajectories of "
                               f"{d + 1} points; this one has {points} points")


def _ranked(df: pd.DataFrame, by: str) -> pd.DataFrame:
    key = df[df["index"] == by].set_index("parameter")["value"]
    rank = key.rank(ascending=False, method="min", na_option="keep")
    df["rank"] = df["parameter"].map(rank)
    return df


def _empty_table() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df[COLUMNS].copy()
    for c in ("metric", "parameter", "index"):
        df[c] = df[c].astype(str)
    for c in ("value", "ci_low", "ci_high"):
        df[c] = df[c].astype(float)
    df["rank"] = df["rank"].astype("Int64")
    return df
