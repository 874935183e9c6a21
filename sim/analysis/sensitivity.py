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
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..io.outputs import OutputTarget, prepare_folder, staging
from ..io.sweep_store import read_sweep
from ..metrics import METRICS, format_value
from ..stats import LEVEL, t_interval

__all__ = ["Sensitivity", "SensitivityError", "analyse", "analyse_frames", "write_sensitivity",
           "text_table", "RESAMPLES", "SEED"]

RESAMPLES = 1000
"""Bootstrap resamples for the 95% intervals of Sobol, Morris and RBD-FAST indices."""

SEED = 20240611
"""Seed of the bootstrap resampling, so an analysis of the same folder gives the same
intervals every time (SALib ignores a seed of 0)."""

SOBOL_ROUGH = 64
"""Below this many base samples Sobol estimates are rough (a note says so): SALib's
estimators then stray well outside [0, 1] even for a function of one input."""

RBD_HARMONICS = 10
"""Harmonics RBD-FAST counts as first-order (SALib's default), fewer for small samples."""

RBD_MIN_POINTS = 16
"""Fewest design points for RBD-FAST (its bootstrap uses half of them)."""

COLUMNS = ["metric", "parameter", "index", "value", "ci_low", "ci_high", "rank"]
RANKED_BY = {"sobol": "ST", "morris": "mu_star", "lhs": "S1"}
"""The index that ranks parameters within a metric, by design."""

INDEX_NAMES = {
    "S1": "S1 (first order)", "ST": "ST (total)", "S2": "S2 (second order)",
    "mu_star": "μ* (mean absolute effect)", "sigma": "σ (sd of effects)", "mu": "μ (mean effect)",
}
COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")


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
    method = manifest["design"]["method"]
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
    result = Sensitivity(
        method=method, table=_empty_table(), response=None, notes=[], sweep=name,
        parameters=names, labels={p["path"]: p.get("label", "") for p in manifest["parameters"]},
        metrics=metrics, response_parameters=chosen, points=points,
        replications=int(manifest["replications"]))
    if method == "grid":
        result.response = _response(runs, metrics, chosen, result.replications, result.notes)
        return result
    design = design.sort_values("point", ignore_index=True)
    if method == "sobol":
        d = len(names)
        base = points // (2 * d + 2 if manifest["design"].get("second_order") else d + 2)
        if base < SOBOL_ROUGH:
            result.notes.append(
                f"the Sobol design has {base} base samples: estimates from fewer than "
                f"{SOBOL_ROUGH} are rough (they can stray outside 0 to 1); their intervals "
                f"show how rough, and a larger power of 2 as samples narrows them")
    unit = design[[f"unit:{n}" for n in names]].to_numpy(dtype=float)
    estimate = {"sobol": _sobol, "morris": _morris, "lhs": _rbd_fast}[method]
    frames = []
    for metric in metrics:
        y = _point_means(runs, metric, points)
        bad = int(np.isnan(y).sum())
        if bad:
            result.notes.append(
                f"{metric} is undefined (NaN) at {bad} of {points} design points, so its "
                f"indices are not estimated (an index needs the metric at every point)")
            continue
        if method != "morris" and np.ptp(y) == 0:
            result.notes.append(
                f"{metric} is {_fmt_metric(y[0], metric)} at every design point: no swept "
                f"parameter changes it, so there is no variance to share out and its "
                f"indices are not estimated")
            continue
        rows = estimate(manifest, names, unit, y, metric, result.notes)
        if rows:
            frames.append(_ranked(pd.DataFrame(rows), RANKED_BY[method]))
    if frames:
        result.table = _typed(pd.concat(frames, ignore_index=True))
    return result


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


def _problem(names: list[str], bounds: list[list[float]] | None = None) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names),
            "bounds": bounds or [[0.0, 1.0]] * len(names)}


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
    value = float(value)
    if conf is None or math.isnan(float(conf)):
        lo = hi = math.nan
    else:
        lo, hi = value - float(conf), value + float(conf)
    return {"metric": metric, "parameter": parameter, "index": index, "value": value,
            "ci_low": lo, "ci_high": hi}


def _sobol(manifest: dict[str, Any], names: list[str], unit: np.ndarray, y: np.ndarray,
           metric: str, notes: list[str]) -> list[dict[str, Any]]:
    from SALib.analyze import sobol

    second = bool(manifest["design"].get("second_order"))
    d = len(names)
    step = 2 * d + 2 if second else d + 2
    if len(y) % step:
        raise SensitivityError(
            f"a sobol design over {d} parameters{' with second order' if second else ''} "
            f"has a multiple of {step} points; this one has {len(y)}")
    s = _salib(lambda: sobol.analyze(_problem(names), y, calc_second_order=second,
                                     num_resamples=RESAMPLES, conf_level=LEVEL, seed=SEED),
               metric, notes)
    rows = []
    for j, n in enumerate(names):
        rows.append(_row(metric, n, "S1", s["S1"][j], s["S1_conf"][j]))
        rows.append(_row(metric, n, "ST", s["ST"][j], s["ST_conf"][j]))
    if second:
        for j in range(d):
            for k in range(j + 1, d):
                rows.append(_row(metric, f"{names[j]} × {names[k]}", "S2", s["S2"][j, k],
                                 s["S2_conf"][j, k]))
    return rows


def _morris(manifest: dict[str, Any], names: list[str], unit: np.ndarray, y: np.ndarray,
            metric: str, notes: list[str]) -> list[dict[str, Any]]:
    from SALib.analyze import morris

    d = len(names)
    if len(y) % (d + 1):
        raise SensitivityError(f"a morris design over {d} parameters has trajectories of "
                               f"{d + 1} points; this one has {len(y)} points")
    levels = int(manifest["design"].get("levels") or 4)
    s = _salib(lambda: morris.analyze(_problem(names), unit, y, num_resamples=RESAMPLES,
                                      conf_level=LEVEL, num_levels=levels, seed=SEED),
               metric, notes)
    rows = []
    for j, n in enumerate(names):
        rows.append(_row(metric, n, "mu_star", s["mu_star"][j], s["mu_star_conf"][j]))
        rows.append(_row(metric, n, "sigma", s["sigma"][j]))
        rows.append(_row(metric, n, "mu", s["mu"][j]))
    return rows


def _rbd_fast(manifest: dict[str, Any], names: list[str], unit: np.ndarray, y: np.ndarray,
              metric: str, notes: list[str]) -> list[dict[str, Any]]:
    from SALib.analyze import rbd_fast

    n = len(y)
    if n < RBD_MIN_POINTS:
        notes.append(f"{metric}: {n} design points are too few for RBD-FAST (it needs "
                     f"{RBD_MIN_POINTS}); indices not estimated")
        return []
    harmonics = min(RBD_HARMONICS, n // 8)
    s = _salib(lambda: rbd_fast.analyze(_problem(names), unit, y, M=harmonics,
                                        num_resamples=RESAMPLES, conf_level=LEVEL,
                                        seed=SEED), metric, notes)
    return [_row(metric, p, "S1", s["S1"][j], s["S1_conf"][j]) for j, p in enumerate(names)]


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


def _response(runs: pd.DataFrame, metrics: list[str], params: list[str], reps: int,
              notes: list[str]) -> pd.DataFrame:
    """Each metric's mean and 95% t-interval over replications at each level combination of
    ``params``; a replication's value is its mean over the points at that level."""
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


# --------------------------------------------------------------------------- presentation


def _metric_info(key: str) -> tuple[str, str, str]:
    """(label, unit, year) of a metric key; ``year`` is '' unless the key is
    ``metric@year``."""
    metric, _, year = key.partition("@")
    info = METRICS.get(metric, {})
    return info.get("label", metric), info.get("unit", ""), year


def _title(key: str) -> str:
    label, _, year = _metric_info(key)
    return f"{label}, reporting year {year}" if year else f"{label}, reporting-year average"


def _unit_text(unit: str) -> str:
    return {"GBP": "£", "share": "share, 0–1"}.get(unit, unit)


def _fmt_metric(x: float, key: str) -> str:
    return format_value(float(x), _metric_info(key)[1])


def _fmt_effect(x: float, unit: str, bare: bool = False) -> str:
    """A Morris effect in the metric's unit (shares as percentage points); ``bare`` leaves
    off a trailing unit word (for the bounds of an interval)."""
    if x is None or math.isnan(x):
        return "–"
    if unit == "share":
        return f"{100 * x:.1f}" + ("" if bare else " pp")
    if unit == "GBP":
        return format_value(x, unit)
    return f"{x:,.2f}" + (f" {unit}" if unit and not bare else "")


def _fmt_bound(x: float, key: str) -> str:
    """An interval bound of a metric value: as :func:`format_value`, without ' days'."""
    return _fmt_metric(x, key).removesuffix(" days")


def _fmt_index(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.3f}"


def _with_ci(value: str, lo: float, hi: float, fmt: Callable[[float], str]) -> str:
    """``value (lo to hi)``, or just the value when there is no interval."""
    if math.isnan(lo) or math.isnan(hi):
        return value
    return f"{value} ({fmt(lo)} to {fmt(hi)})"


def _metric_rows(result: Sensitivity, metric: str) -> tuple[list[str], list[list[str]]]:
    """Header and ranked rows of one metric's index table, as text."""
    t = result.table[result.table["metric"] == metric]
    _, unit, _ = _metric_info(metric)
    fmt: Callable[[float], str]
    bound: Callable[[float], str]
    if result.method == "morris":
        fmt = lambda x: _fmt_effect(x, unit)  # noqa: E731
        bound = lambda x: _fmt_effect(x, unit, bare=True)  # noqa: E731
        indices = ["mu_star", "sigma", "mu"]
    else:
        fmt = bound = _fmt_index
        indices = ["S1", "ST"] if result.method == "sobol" else ["S1"]
    header = ["Rank", "Parameter"] + [INDEX_NAMES[i] + (" (95% CI)" if i != "sigma" and
                                                         i != "mu" else "") for i in indices]
    main = t[t["index"].isin(indices)]
    order = (main.drop_duplicates("parameter")
             .sort_values(["rank", "parameter"], na_position="last")["parameter"])
    rows = []
    for p in order:
        r = main[main["parameter"] == p].set_index("index")
        rank = r["rank"].iloc[0]
        cells = ["–" if pd.isna(rank) else str(int(rank)), result.label(p)]
        for i in indices:
            if i in r.index:
                cells.append(_with_ci(fmt(r.at[i, "value"]), r.at[i, "ci_low"],
                                      r.at[i, "ci_high"], bound))
            else:
                cells.append("–")
        rows.append(cells)
    return header, rows


def _pair_rows(result: Sensitivity, metric: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one metric's second-order (pair) Sobol indices, largest first."""
    t = result.table
    pairs = t[(t["metric"] == metric) & (t["index"] == "S2")].sort_values(
        "value", ascending=False, na_position="last")
    rows = []
    for _, r in pairs.iterrows():
        a, b = r["parameter"].split(" × ")
        rows.append([f"{result.label(a)} × {result.label(b)}",
                     _with_ci(_fmt_index(r["value"]), r["ci_low"], r["ci_high"], _fmt_index)])
    return ["Pair", INDEX_NAMES["S2"] + " (95% CI)"], rows


def _response_rows(result: Sensitivity, metric: str) -> tuple[list[str], list[list[str]]]:
    assert result.response is not None
    r = result.response[result.response["metric"] == metric]
    params = result.response_parameters
    header = [result.label(p) for p in params] + ["Mean (95% CI)", "Replications"]
    rows = []
    for _, row in r.iterrows():
        cells = [f"{row[p]:g}" for p in params]
        cells.append(_with_ci(_fmt_metric(row["mean"], metric), row["ci_low"], row["ci_high"],
                              lambda x: _fmt_bound(x, metric)))
        cells.append(str(int(row["n"])))
        rows.append(cells)
    return header, rows


def _tables(result: Sensitivity) -> Iterable[tuple[str, list[str], list[list[str]]]]:
    """(heading, header, rows) per metric analysed."""
    for metric in result.metrics:
        label, unit, _ = _metric_info(metric)
        unit_note = f" [{_unit_text(unit)}]" if unit else ""
        heading = f"{_title(metric)}{unit_note} — {metric}"
        if result.method == "grid":
            if result.response is not None and (result.response["metric"] == metric).any():
                yield (heading, *_response_rows(result, metric))
        elif (result.table["metric"] == metric).any():
            yield (heading, *_metric_rows(result, metric))
            if ((result.table["metric"] == metric) & (result.table["index"] == "S2")).any():
                yield (f"{heading}: interactions of pairs", *_pair_rows(result, metric))


def _method_text(result: Sensitivity) -> str:
    return {
        "sobol": "Sobol indices (Saltelli's scheme): S1 is the share of the metric's variance "
                 "due to the parameter alone, ST the share including its interactions; ranked "
                 "by ST. Intervals are 95% bootstrap intervals.",
        "morris": "Morris elementary effects, per unit of the normalised range (the change "
                  "from the bottom to the top of a parameter's range), in the metric's unit: "
                  "μ* is the mean absolute effect (ranked by it, with a 95% bootstrap "
                  "interval), σ their spread (interactions or non-linearity), μ their mean "
                  "(sign).",
        "lhs": "First-order indices S1 by RBD-FAST on the Latin hypercube: the share of the "
               "metric's variance due to the parameter alone; ranked by S1. Intervals are "
               "95% bootstrap intervals.",
        "grid": "Response of each metric to "
                + " and ".join(result.label(p) for p in result.response_parameters)
                + ", averaged over the other parameters' levels; 95% t-intervals over "
                  "replications.",
    }[result.method]


def _replications(n: int) -> str:
    return f"{n} replication" + ("" if n == 1 else "s")


def text_table(result: Sensitivity) -> str:
    """The ranked tables (or a grid's response tables) as plain text for a terminal."""
    out = [f"Sweep {result.sweep} ({result.method}, {result.points} points × "
           f"{_replications(result.replications)}). {_method_text(result)}"]
    for heading, header, rows in _tables(result):
        widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
        out.append("")
        out.append(heading)
        out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        out.append("  ".join("-" * w for w in widths))
        for r in rows:
            out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if len(out) == 1:
        out.append("\nNo metric could be analysed (see the notes).")
    return "\n".join(out)


def markdown(result: Sensitivity) -> str:
    """``sensitivity.md``: per metric, the ranked table with intervals, then the notes."""
    lines = [f"# Sensitivity: sweep {result.sweep}", "",
             f"Design **{result.method}**, {result.points} points × "
             f"{_replications(result.replications)}. {_method_text(result)}", ""]
    for heading, header, rows in _tables(result):
        lines += [f"## {heading}", "", "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _bars(result: Sensitivity, metric: str, path: Path) -> None:
    """Horizontal bars per parameter with 95% interval whiskers, most influential on top."""
    t = result.table[(result.table["metric"] == metric) & (result.table["index"] != "S2")]
    _, unit, _ = _metric_info(metric)
    by = RANKED_BY[result.method]
    order = (t[t["index"] == by].sort_values(["rank", "parameter"], na_position="last")
             ["parameter"].tolist())
    series = {"sobol": ["S1", "ST"], "morris": ["mu_star", "sigma"], "lhs": ["S1"]}[
        result.method]
    fig = _figure(8, 1.2 + 0.55 * len(order) * max(1, len(series) / 1.5))
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    y = np.arange(len(order), dtype=float)
    for k, index in enumerate(series):
        r = t[t["index"] == index].set_index("parameter").reindex(order)
        vals = r["value"].to_numpy(dtype=float)
        lo, hi = r["ci_low"].to_numpy(dtype=float), r["ci_high"].to_numpy(dtype=float)
        err = np.vstack([np.nan_to_num(vals - lo), np.nan_to_num(hi - vals)])
        has_ci = not np.isnan(lo).all()
        offset = (k - (len(series) - 1) / 2) * height
        ax.barh(y + offset, np.nan_to_num(vals), height=height * 0.9,
                color=COLOURS[k % len(COLOURS)],
                xerr=err if has_ci else None, capsize=3, ecolor="#333",
                label=INDEX_NAMES[index] + (" with 95% CI" if has_ci else ""))
    ax.set_yticks(y, [result.label(p) for p in order], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#444", lw=0.8)
    if result.method == "morris":
        _axis_format(ax.xaxis, unit)
        ax.set_xlabel("change in the metric across a parameter's whole range"
                      + (f" ({_unit_text(unit)})" if unit else "")
                      + ": Morris effect per unit of normalised range")
    else:
        ax.set_xlabel("share of the metric's variance (Sobol index, 0–1)")
    ax.set_title(_title(metric), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    fig.savefig(path, format="png", bbox_inches="tight")


def _response_plot(result: Sensitivity, metric: str, path: Path) -> None:
    """1 parameter: mean with a shaded 95% band; 2: one such line per level of the second."""
    assert result.response is not None
    r = result.response[result.response["metric"] == metric]
    params = result.response_parameters
    _, unit, _ = _metric_info(metric)
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    groups = [(None, r)] if len(params) == 1 else list(r.groupby(params[1], sort=True))
    for k, (level, g) in enumerate(groups):
        g = g.sort_values(params[0])
        colour = COLOURS[k % len(COLOURS)]
        x = g[params[0]].to_numpy(dtype=float)
        mean = g["mean"].to_numpy(dtype=float)
        lo = np.where(g["ci_low"].isna(), mean, g["ci_low"])
        hi = np.where(g["ci_high"].isna(), mean, g["ci_high"])
        label = None if level is None else f"{result.label(params[1])} = {level:g}"
        ax.plot(x, mean, "o-", color=colour, lw=1.8, label=label)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
    levels = np.unique(r[params[0]].to_numpy(dtype=float))
    if len(levels) <= 12:
        ax.set_xticks(levels, [f"{v:g}" for v in levels])
    ax.set_xlabel(result.label(params[0]))
    _axis_format(ax.yaxis, unit)
    label, _, _ = _metric_info(metric)
    ax.set_ylabel(f"{label} ({_unit_text(unit)})" if unit else label)
    ax.set_title(f"{_title(metric)}\nmean and 95% interval over replications", fontsize=10)
    ax.grid(alpha=0.3)
    if len(params) == 2:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")


def _axis_format(axis: Any, unit: str) -> None:
    """Tick labels in the metric's unit: £ with thousands separators, shares as %."""
    from matplotlib.ticker import FuncFormatter

    if unit == "GBP":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"£{v:,.0f}" if v >= 0
                                               else f"−£{-v:,.0f}"))
    elif unit == "share":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))


def _safe(metric: str) -> str:
    return "".join(c if c.isalnum() or c in "._-@" else "_" for c in metric)


# --------------------------------------------------------------------------- writing


def write_sensitivity(result: Sensitivity, folder: str | Path | OutputTarget) -> list[Path]:
    """Write the analysis to ``folder`` atomically (all of it or, on any failure, nothing):
    ``sensitivity.parquet`` / ``.csv`` (the table), ``response.parquet`` / ``.csv`` (grids),
    ``sensitivity.md``, ``bars-<metric>.png`` per metric with indices and, for a grid,
    ``response-<metric>.png`` per metric. Replaces a previous analysis there.

    :returns: the files written, by name.
    """
    target = folder if isinstance(folder, OutputTarget) else prepare_folder(
        folder, create_parents=True)
    with staging(target) as tmp:
        result.table.to_parquet(tmp / "sensitivity.parquet", index=False)
        result.table.to_csv(tmp / "sensitivity.csv", index=False)
        if result.response is not None:
            result.response.to_parquet(tmp / "response.parquet", index=False)
            result.response.to_csv(tmp / "response.csv", index=False)
        (tmp / "sensitivity.md").write_text(markdown(result), encoding="utf-8")
        mark = {"kind": "sensitivity", "treatsim_version": __version__,
                "metrics": list(result.metrics)}
        (tmp / "run.json").write_text(json.dumps(mark, indent=2) + "\n", encoding="utf-8")
        for metric in result.metrics:
            if (result.table["metric"] == metric).any():
                _bars(result, metric, tmp / f"bars-{_safe(metric)}.png")
            if result.response is not None and (result.response["metric"] == metric).any():
                _response_plot(result, metric, tmp / f"response-{_safe(metric)}.png")
        names = sorted(p.name for p in tmp.iterdir())
    return [target.path / n for n in names]
