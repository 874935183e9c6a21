"""The report's charts of a comparison: the forest plot of the differences (each measure
on its own scale, shares in percentage points) and the trends over financial years.
Each chart is an :class:`~.report_format.Image` with alt text that says what it shows;
counts, waits and money never go below zero in a band or an interval.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import HEADLINE
from ..stats import t_interval
from .compare import Comparison
from .report_format import (
    COLOURS,
    Image,
    axis_formatter,
    financial_year,
    fmt,
    fmt_diff,
    fmt_interval,
    label,
    model_date,
    png,
    pyplot,
    reporting_years,
    settling_years,
    short_title,
    span,
    unit,
    unit_words,
    year_label,
)

MONTHLY = (("in_treatment", "People in treatment", "people"),
           ("waiting", "People waiting for assessment or a keyworker", "people"),
           ("caseload_per_worker", "Caseload per keyworker", "people per worker"))
ANNUAL = ("deaths", "cost_total_gbp", "wait_treatment_median_days")
MAX_YEAR_LABELS = 9


def _legend_name(sc: Any) -> str:
    return "\n".join(textwrap.wrap(short_title(sc, 60), 45))


def _colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


# --------------------------------------------------------------------------- forest


def _forest_row(ax: Any, cmp: Comparison, d: pd.DataFrame, metric: str) -> list[str]:
    """One measure's differences on ``ax``; the words for the alt text."""
    u, words = unit(metric), []
    ends = [0.0]
    alts = cmp.scenarios[1:]
    for j, sc in enumerate(alts):
        if (sc.name, metric) not in d.index:
            continue
        r = d.loc[(sc.name, metric)]
        mid, lo, hi = float(r["diff_mean"]), float(r["ci_low"]), float(r["ci_high"])
        if not math.isnan(lo):
            ax.plot([lo, hi], [-j, -j], color=_colour(j + 1), lw=2.5, solid_capstyle="butt")
            ends += [lo, hi]
        ax.plot([mid], [-j], "o", color=_colour(j + 1), ms=6,
                label=_legend_name(sc) if metric == HEADLINE[0] else None)
        ends.append(mid)
        who = f" ({short_title(sc)})" if len(alts) > 1 else ""
        words.append(f"{label(metric)}{who}: {fmt_diff(mid, u)} "
                     f"(95% interval {fmt_interval(lo, hi, u)})")
    width = max(ends) - min(ends)
    pad = 0.08 * width if width > 1e-12 else 1.0
    ax.set_xlim(min(ends) - pad, max(ends) + pad)
    ax.set_ylim(-len(alts) + 0.4, 0.6)
    ax.axvline(0, color="#444", lw=1)
    ax.set_yticks([])
    ax.set_ylabel(f"{label(metric)}\n({unit_words(u, diff=True)})", rotation=0, ha="right",
                  va="center", fontsize=8, labelpad=8)
    ax.xaxis.set_major_formatter(axis_formatter(u, diff=True))
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)
    return words


def forest(cmp: Comparison) -> Image:
    """Each headline measure's paired difference from the baseline with its 95%
    interval, one row per measure on the measure's own scale."""
    plt = pyplot()
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    metrics = [m for m in HEADLINE if (cmp.base, m) in s.index]
    alts = cmp.scenarios[1:]
    rows = max(1, len(alts))
    fig, axes = plt.subplots(len(metrics), 1, squeeze=False,
                             figsize=(8.5, (0.42 + 0.22 * rows) * len(metrics) + 0.6))
    words = []
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        words += _forest_row(ax, cmp, d, metric)
    if len(alts) > 1:
        fig.legend(loc="upper center", ncol=min(3, len(alts)), fontsize=8, frameon=False)
    fig.tight_layout(h_pad=0.6)
    alt = ("Forest plot: for each headline measure, the paired difference, alternative "
           "minus baseline, with its 95% interval, each measure on its own scale and "
           "shares in percentage points. " + "; ".join(words) + ".")
    return png(fig, alt)


# --------------------------------------------------------------------------- trends


def _band_table(values: pd.DataFrame, key: str, column: str) -> pd.DataFrame:
    """Per ``key``: the mean over replications and its 95% interval, clipped at 0."""
    rows = []
    for k, grp in values.groupby(key, sort=True):
        mean, _, lo, hi, _ = t_interval(grp[column].to_numpy(dtype=float))
        rows.append((k, mean, mean if math.isnan(lo) else max(lo, 0.0),
                     mean if math.isnan(hi) else max(hi, 0.0)))
    return pd.DataFrame(rows, columns=[key, "mean", "low", "high"])


def _year_axis(ax: Any, sc: Any, first: dt.date, last: dt.date) -> None:
    """Gridlines at each 1 April and the financial year's name in the middle of it."""
    from matplotlib.dates import date2num
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    aprils = [dt.date(y, 4, 1) for y in range(first.year - 1, last.year + 2)]
    aprils = [a for a in aprils if first <= a <= last] or [first]
    mids = [dt.date(a.year, 10, 1) for a in [dt.date(aprils[0].year - 1, 4, 1), *aprils]]
    mids = [m for m in mids if first <= m <= last]
    step = max(1, math.ceil(len(mids) / MAX_YEAR_LABELS))
    names = [financial_year(m) if i % step == 0 else "" for i, m in enumerate(mids)]
    ax.xaxis.set_major_locator(FixedLocator(date2num(aprils)))
    ax.xaxis.set_major_formatter(NullFormatter())
    ax.xaxis.set_minor_locator(FixedLocator(date2num(mids)))
    ax.xaxis.set_minor_formatter(FixedFormatter(names))
    ax.tick_params(axis="x", which="minor", length=0, labelsize=8)
    ax.grid(axis="x", which="major", alpha=0.3)
    ax.set_xlim(date2num(first), date2num(last))


def _monthly(cmp: Comparison, column: str, title: str, unit_name: str) -> Image:
    plt = pyplot()
    from matplotlib.dates import date2num

    base_sc = cmp.scenarios[0]
    ts_all = cmp.timeseries()
    ts_all = ts_all[ts_all["year"] <= base_sc.run.years]  # not the follow-up months
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    ends = []
    for i, sc in enumerate(cmp.scenarios):
        ts = ts_all[ts_all["scenario"] == sc.name].copy()
        ts["waiting"] = ts["keyworker_waiting"] + ts["triage_waiting"]
        band = _band_table(ts, "day", column)
        xs = date2num([model_date(sc, day) for day in band["day"]])
        ax.plot(xs, band["mean"], color=_colour(i), lw=1.8, label=_legend_name(sc))
        ax.fill_between(xs, band["low"], band["high"], color=_colour(i), alpha=0.2, lw=0)
        ends.append(f"{short_title(sc)} {fmt(band['mean'].iloc[-1], unit_name)}")
    first, last = base_sc.run.start_date, model_date(base_sc, ts_all["day"].max())
    settle = model_date(base_sc, 365 * base_sc.run.warmup_years)
    if base_sc.run.warmup_years:
        ax.axvspan(date2num(first), date2num(settle), color="#e8e8e8", zorder=0)
        ax.text(date2num(first), 1.01, " settling-in years, not reported", fontsize=7,
                color="#555", transform=ax.get_xaxis_transform())
    _year_axis(ax, base_sc, first, last)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(axis_formatter(unit_name))
    ax.set_title(title, fontsize=10, loc="left", pad=14)
    ax.legend(fontsize=7, loc="lower right")
    settling = (f" The settling-in years {span(settling_years(base_sc))} are shaded and not "
                "reported." if base_sc.run.warmup_years else "")
    alt = (f"Line chart of {title.lower()} at the end of each month, from "
           f"{financial_year(first)} to {financial_year(last)}, the mean over "
           f"{cmp.reps} replications with its 95% band, for each scenario.{settling} At the "
           "end: " + "; ".join(ends) + ".")
    return png(fig, alt)


def _annual(cmp: Comparison, metric: str) -> Image:
    plt = pyplot()
    yearly = cmp.yearly()
    base_sc = cmp.scenarios[0]
    u = unit(metric)
    years = list(range(1, base_sc.run.years + 1))
    fig, ax = plt.subplots(figsize=(8.5, 3.0))
    words = []
    n = len(cmp.scenarios)
    for i, sc in enumerate(cmp.scenarios):
        yr = yearly[(yearly["scenario"] == sc.name) & (yearly["metric"] == metric)]
        band = _band_table(yr, "year", "value").set_index("year").reindex(years)
        xs = np.arange(len(years)) + (i - (n - 1) / 2) * 0.08
        err = [band["mean"] - band["low"], band["high"] - band["mean"]]
        ax.errorbar(xs, band["mean"], yerr=err, color=_colour(i), marker="o", ms=4,
                    capsize=3, lw=1.5, label=_legend_name(sc))
        words.append(f"{short_title(sc)}: " + ", ".join(
            fmt(v, u) for v in band["mean"]))
    ax.set_xticks(range(len(years)), [year_label(base_sc, y) for y in years], fontsize=8)
    ax.set_xlim(-0.5, len(years) - 0.5)
    ax.set_ylim(0, max(ax.get_ylim()[1], 1.0))
    ax.yaxis.set_major_formatter(axis_formatter(u))
    name = label(metric) + {"people": " a year", "GBP": " a year", "days": ", days"}.get(u, "")
    ax.set_title(name, fontsize=10, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    alt = (f"Chart of {name.lower()} in each reporting year "
           f"{span(reporting_years(base_sc))}, the mean over {cmp.reps} replications with "
           f"its 95% interval: " + "; ".join(words) + ".")
    return png(fig, alt)


def trends(cmp: Comparison) -> list[Image]:
    """The charts over time: monthly people in treatment, waiting and caseload per
    keyworker; deaths, total cost and the median wait in each reporting year."""
    out = [_monthly(cmp, column, title, u) for column, title, u in MONTHLY]
    present = set(cmp.yearly()["metric"].unique())
    return out + [_annual(cmp, m) for m in ANNUAL if m in present]
