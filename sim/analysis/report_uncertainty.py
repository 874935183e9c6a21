"""The report's parts that come from parameter uncertainty
(:class:`sim.uncertainty.results.Uncertainty`): the uncertainty interval and the chance
an alternative is better, what drives each answer (a tornado chart and the answer if a
judgement is wrong) and the cost-effectiveness plane with its acceptability curve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .report_format import (
    COLOURS,
    MINUS,
    Image,
    axis_formatter,
    fmt_diff,
    fmt_interval,
    fmt_money,
    fmt_share,
    label,
    png,
    pyplot,
    short_title,
    unit,
    unit_words,
)

if TYPE_CHECKING:
    from ..uncertainty.results import Uncertainty

SETTINGS = ("low", "neutral", "central", "high")
SETTING_WORDS = {"low": "low end of its range", "neutral": "no effect",
                 "central": "as assumed", "high": "high end of its range"}
TORNADO_ROWS = 10
WTP_MAX = 100_000
WTP_STEP = 1_000
CE_METRICS = ("successful_completions", "cost_total_gbp")


def has_intervals(unc: Uncertainty | None) -> bool:
    """True when there are uncertainty intervals to show in the headline table."""
    return unc is not None and unc.draws > 0 and not unc.intervals.empty


def interval_cells(unc: Uncertainty, alt: str, metric: str) -> tuple[str, str]:
    """(uncertainty interval, chance it is better) of ``alt``'s difference in ``metric``,
    written for the headline table; '–' where there is none."""
    rows = unc.intervals[(unc.intervals["scenario"] == alt) & (unc.intervals["metric"] == metric)]
    if rows.empty:
        return "–", "–"
    r = rows.iloc[0]
    return fmt_interval(r["ui_low"], r["ui_high"], unit(metric)), fmt_share(r["p_better"])


# --------------------------------------------------------------------------- drivers


def _tornado(rows: pd.DataFrame, metric: str, title: str) -> Image:
    """Bars from the answer with each parameter at the low end of its range to the answer
    with it at the high end, around the central answer; judgements hatched."""
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = rows.head(TORNADO_ROWS).reset_index(drop=True)
    central = float(rows["central_diff"].iloc[0])
    u = unit(metric)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1.4))
    names, words = [], []
    for i, r in rows.iterrows():
        judged = r["kind"] == "judgement"
        style = {"hatch": "///" if judged else None, "edgecolor": "#333" if judged else None,
                 "lw": 0.6 if judged else 0}
        ax.barh(-i, float(r["low_diff"]) - central, left=central, color="#9dc3e6", **style)
        ax.barh(-i, float(r["high_diff"]) - central, left=central, color="#1f4e79", **style)
        names.append(f"{r['label']} (judgement)" if judged else str(r["label"]))
        words.append(f"{names[-1]}: {fmt_diff(r['low_diff'], u)} at the low end, "
                     f"{fmt_diff(r['high_diff'], u)} at the high end")
    ax.set_yticks([-i for i in range(len(rows))], names, fontsize=8)
    for tick, (_, r) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
        if r["kind"] == "judgement":
            tick.set_fontweight("bold")
    ax.axvline(central, color="black", lw=1.2)
    ax.axvline(0, color="#888", lw=1, ls="--")
    ax.xaxis.set_major_formatter(axis_formatter(u, diff=True))
    ax.set_xlabel(f"difference from the baseline ({unit_words(u, diff=True)})", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(handles=[Patch(color="#9dc3e6", label="input at the low end of its range"),
                       Patch(color="#1f4e79", label="input at the high end"),
                       Patch(facecolor="white", edgecolor="#333", hatch="///",
                             label="a judgement, not a measurement"),
                       Line2D([], [], color="black", lw=1.2, label="the answer as assumed"),
                       Line2D([], [], color="#888", lw=1, ls="--", label="no difference")],
              fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    alt = (f"Tornado chart of what drives the difference in {label(metric).lower()}: the "
           f"answer as assumed is {fmt_diff(central, u)} (solid line); each bar runs from "
           "the answer with one input at the low end of its range to the answer with it at "
           "the high end, largest first. " + "; ".join(words) + ".")
    return png(fig, alt)


def _changes_answer(r: pd.Series, central: pd.Series | None, u: str) -> bool:
    """True when a check's answer points the other way from the answer as assumed, or
    is no longer clear (its interval holds zero) where that one was."""
    if central is None or pd.isna(central["diff_mean"]):
        return False
    shown = fmt_diff(r["diff_mean"], u)
    other_way = (shown[:1] in ("+", MINUS)
                 and (r["diff_mean"] > 0) != (central["diff_mean"] > 0))
    clear_before = central["ci_low"] > 0 or central["ci_high"] < 0
    clear_now = r["ci_low"] > 0 or r["ci_high"] < 0
    return bool(other_way or (clear_before and not clear_now))


def _checks_table(rows: pd.DataFrame, metric: str) -> dict[str, Any]:
    """The answer with each judgement set low, neutral, as assumed and high."""
    u = unit(metric)
    out = []
    for judgement, grp in rows.groupby("judgement", sort=False):
        by = grp.set_index("setting")
        central = by.loc["central"] if "central" in by.index else None
        cells = []
        for setting in SETTINGS:
            if setting not in by.index or pd.isna(by.loc[setting, "diff_mean"]):
                cells.append({"main": "–", "sub": "", "cls": ""})
                continue
            r = by.loc[setting]
            cells.append({"main": fmt_diff(r["diff_mean"], u),
                          "sub": fmt_interval(r["ci_low"], r["ci_high"], u),
                          "cls": "flip" if _changes_answer(r, central, u) else ""})
        out.append({"name": str(grp["label"].iloc[0]), "key": str(judgement), "cells": cells})
    return {"columns": [SETTING_WORDS[s] for s in SETTINGS], "rows": out}


def drivers(unc: Uncertainty, cmp: Any, metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """For each alternative and each of ``metrics`` (those the answer shows) that the
    tornado or the checks cover: the tornado chart and the judgement checks table."""
    out = []
    for sc in cmp.scenarios[1:]:
        for metric in metrics:
            torn = _rows(unc.tornado, sc.name, metric)
            checks = _rows(unc.checks, sc.name, metric)
            if (torn.empty and checks.empty) or _all_zero(torn, checks):
                continue  # nothing moves this measure (say, a median wait of 0 days)
            title = f"{label(metric)}: {short_title(sc)}"
            chart = (_tornado(torn, metric, title) if not torn.empty
                     else _checks_chart(checks, metric, title))
            out.append({"title": title, "chart": chart,
                        "checks": None if checks.empty else _checks_table(checks, metric)})
    return out


def _checks_chart(checks: pd.DataFrame, metric: str, title: str) -> Image | None:
    """The judgement checks as a tornado: each judgement's bar from the answer with it
    at the low end of its range to the answer with it at the high end, largest first."""
    rows = []
    for judgement, grp in checks.groupby("judgement", sort=False):
        by = grp.set_index("setting")["diff_mean"]
        if not {"low", "high", "central"} <= set(by.index):
            continue
        rows.append({"parameter": judgement, "label": str(grp["label"].iloc[0]),
                     "kind": "judgement", "low_diff": float(by["low"]),
                     "high_diff": float(by["high"]), "central_diff": float(by["central"])})
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame = frame.iloc[(frame["high_diff"] - frame["low_diff"]).abs()
                       .sort_values(ascending=False, kind="stable").index]
    return _tornado(frame, metric, title)


def _all_zero(torn: pd.DataFrame, checks: pd.DataFrame) -> bool:
    """Whether every difference in the tornado and the checks is exactly zero."""
    values = [torn[c] for c in ("low_diff", "high_diff", "central_diff") if c in torn]
    values += [checks[c] for c in ("diff_mean",) if c in checks]
    return bool(values) and all(bool((v.fillna(0) == 0).all()) for v in values)


def _rows(frame: pd.DataFrame, scenario: str, metric: str) -> pd.DataFrame:
    if frame.empty or "scenario" not in frame:
        return frame.iloc[0:0]
    return frame[(frame["scenario"] == scenario) & (frame["metric"] == metric)]


# --------------------------------------------------------------------------- cost-effectiveness


def has_cost_effectiveness(unc: Uncertainty | None) -> bool:
    """True when the draws hold both completions and total cost."""
    if unc is None or unc.per_draw.empty or "metric" not in unc.per_draw:
        return False
    return set(CE_METRICS) <= set(unc.per_draw["metric"].unique())


def _pairs(unc: Uncertainty, scenario: str) -> pd.DataFrame:
    """Per draw: the difference in completions (``effect``) and in cost (``cost``)."""
    rows = unc.per_draw[(unc.per_draw["scenario"] == scenario)
                        & unc.per_draw["metric"].isin(CE_METRICS)]
    wide = rows.pivot_table(index="draw", columns="metric", values="diff").dropna()
    return pd.DataFrame({"effect": wide.get("successful_completions", pd.Series(dtype=float)),
                         "cost": wide.get("cost_total_gbp", pd.Series(dtype=float))})


def acceptability(pairs: pd.DataFrame, wtp: np.ndarray) -> np.ndarray:
    """Chance the alternative is cost-effective at each willingness to pay per successful
    completion: the share of draws with a positive net benefit, ``wtp x effect - cost``."""
    if pairs.empty:
        return np.full(len(wtp), np.nan)
    net = np.outer(wtp, pairs["effect"].to_numpy()) - pairs["cost"].to_numpy()
    return (net > 0).mean(axis=1)


def _quadrants(p: pd.DataFrame) -> str:
    n = len(p)
    if not n:
        return "no draws"
    more, cheaper = p["effect"] > 0, p["cost"] < 0
    return (f"in {fmt_share((more & cheaper).sum() / n)} of them the alternative achieves "
            f"more successful completions for less money, in "
            f"{fmt_share((more & ~cheaper).sum() / n)} more completions for more money, in "
            f"{fmt_share((~more & cheaper).sum() / n)} fewer completions for less money and "
            f"in {fmt_share((~more & ~cheaper).sum() / n)} fewer for more")


def _plane(cmp: Any, pairs: dict[str, pd.DataFrame]) -> Image:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    words = []
    for j, sc in enumerate(cmp.scenarios[1:]):
        p = pairs[sc.name]
        ax.scatter(p["effect"], p["cost"], s=14, alpha=0.6, color=COLOURS[(j + 1) % 6],
                   label=short_title(sc, 60))
        words.append(f"{short_title(sc)}: {len(p)} parameter sets; {_quadrants(p)}")
    ax.axhline(0, color="#444", lw=1)
    ax.axvline(0, color="#444", lw=1)
    ax.xaxis.set_major_formatter(axis_formatter("people", diff=True))
    ax.yaxis.set_major_formatter(axis_formatter("GBP", diff=True))
    ax.set_xlabel("difference in successful completions a year", fontsize=9)
    ax.set_ylabel("difference in total cost a year", fontsize=9)
    ax.text(0.98, 0.02, "more completions,\nless money", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="#548235")
    ax.text(0.02, 0.98, "fewer completions,\nmore money", transform=ax.transAxes,
            ha="left", va="top", fontsize=8, color="#a31515")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    alt = ("Cost-effectiveness plane: one point per parameter set, the difference in "
           "successful completions a year across and the difference in total cost a year "
           "up. " + "; ".join(words) + ".")
    return png(fig, alt)


def _curve(cmp: Any, pairs: dict[str, pd.DataFrame]) -> Image:
    plt = pyplot()
    from matplotlib.ticker import PercentFormatter

    wtp = np.arange(0, WTP_MAX + WTP_STEP, WTP_STEP, dtype=float)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    words = []
    for j, sc in enumerate(cmp.scenarios[1:]):
        prob = acceptability(pairs[sc.name], wtp)
        ax.plot(wtp, prob, color=COLOURS[(j + 1) % 6], lw=2, label=short_title(sc, 60))
        at = ", ".join(f"{fmt_share(prob[int(w // WTP_STEP)])} at {fmt_money(w)}"
                       for w in (0, 20_000, 50_000, WTP_MAX))
        words.append(f"{short_title(sc)}: {at}")
    ax.set_xlim(0, WTP_MAX)
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(axis_formatter("GBP"))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_xlabel("what one more successful completion is worth to the commissioner",
                  fontsize=9)
    ax.set_ylabel("chance the alternative is worth it", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    alt = ("Cost-effectiveness acceptability curve: the chance the alternative is "
           "cost-effective against the value of one more successful completion, from £0 to "
           f"{fmt_money(WTP_MAX)}. " + "; ".join(words) + ".")
    return png(fig, alt)


def cost_effectiveness(unc: Uncertainty, cmp: Any) -> dict[str, Any]:
    """The cost-effectiveness plane and the acceptability curve, with a sentence each."""
    pairs = {sc.name: _pairs(unc, sc.name) for sc in cmp.scenarios[1:]}
    sentences = []
    for sc in cmp.scenarios[1:]:
        p = pairs[sc.name]
        if p.empty:
            continue
        cheaper = acceptability(p, np.array([0.0]))[0]
        sentences.append(f"{short_title(sc)}: over {len(p)} parameter sets, {_quadrants(p)}. "
                         f"It saves money outright in {fmt_share(cheaper)} of them.")
    return {"plane": _plane(cmp, pairs), "curve": _curve(cmp, pairs), "sentences": sentences}
