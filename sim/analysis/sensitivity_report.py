"""Presenting a sensitivity analysis (:class:`sim.analysis.sensitivity.Sensitivity`): the
ranked tables as plain text and markdown, a bar chart of the indices per metric (or a
grid's response plot), and writing them all to a folder at once.

Sobol and RBD-FAST indices are shown as shares of variance (0 to 1); Morris effects in
the metric's own unit (shares as percentage points, GBP as £) per unit of the
normalised range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import __version__
from ..io.outputs import OutputTarget, prepare_folder, staging
from ..metrics import format_metric, format_value, metric_info

if TYPE_CHECKING:
    from .sensitivity import Sensitivity

__all__ = ["markdown", "text_table", "write_sensitivity"]

INDEX_NAMES = {
    "S1": "S1 (first order)", "ST": "ST (total)", "S2": "S2 (second order)",
    "mu_star": "μ* (mean absolute effect)", "sigma": "σ (sd of effects)", "mu": "μ (mean effect)",
}
COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")


def _title(key: str) -> str:
    label, _, year = metric_info(key)
    return f"{label}, reporting year {year}" if year else f"{label}, reporting-year average"


def _unit_text(unit: str) -> str:
    return {"GBP": "£", "share": "share, 0–1"}.get(unit, unit)


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
    return format_metric(x, key).removesuffix(" days")


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
    _, unit, _ = metric_info(metric)
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
        cells.append(_with_ci(format_metric(row["mean"], metric), row["ci_low"], row["ci_high"],
                              lambda x: _fmt_bound(x, metric)))
        cells.append(str(int(row["n"])))
        rows.append(cells)
    return header, rows


def _tables(result: Sensitivity) -> Iterable[tuple[str, list[str], list[list[str]]]]:
    """(heading, header, rows) per metric analysed."""
    for metric in result.metrics:
        label, unit, _ = metric_info(metric)
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
    _, unit, _ = metric_info(metric)
    by = result.ranked_by
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
    _, unit, _ = metric_info(metric)
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
    label, _, _ = metric_info(metric)
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
