"""A self-contained HTML report of a comparison, for a board to read and email.

Python builds the context (every number already written for people, every chart a
base64 PNG with its alt text); the Jinja2 template ``templates/report.html.j2`` (with
``report.css``) lays it out, so wording and branding change without touching code.

Sections (each an ``<section id=...>``), in order: ``judgement`` (only when the
uncertainty analysis has warnings: it opens the report), ``answer``, ``headline``,
``differences``, ``drivers`` and ``cost-effectiveness`` (only with an uncertainty
analysis), ``trends``, ``costs``, ``changes``, ``fit``, ``definitions``, ``limits``,
``assumptions`` and ``provenance``. The helpers live in :mod:`.report_format` (numbers,
money, financial years; :func:`fmt_diff` writes every difference), :mod:`.report_charts`,
:mod:`.report_uncertainty`, :mod:`.report_text` and, for the PDF, :mod:`.report_pdf`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib

from .. import __version__
from ..io.provenance import provenance
from ..metrics import HEADLINE
from ..scenario import resolved_yaml, scenario_hash
from ..vocab import COST_SERVICES
from .compare import Comparison
from .report_charts import forest, trends
from .report_format import (
    fmt,
    fmt_diff,
    fmt_interval,
    full_description,
    label,
    long_date,
    reporting_years,
    settling_years,
    short_title,
    span,
    unit,
)
from .report_text import INTERVAL_MEANING, LIMITS, changes, definitions, fit
from .report_uncertainty import (
    cost_effectiveness,
    drivers,
    has_cost_effectiveness,
    has_intervals,
    interval_cells,
)

if TYPE_CHECKING:
    from ..uncertainty.results import Uncertainty

__all__ = ["SECTIONS", "UNCERTAINTY_SECTIONS", "fmt_diff", "render"]

SECTIONS = ("answer", "headline", "differences", "trends", "costs", "changes", "fit",
            "definitions", "limits", "assumptions", "provenance")
"""The sections every report has."""
UNCERTAINTY_SECTIONS = ("judgement", "drivers", "cost-effectiveness")
"""The sections a report has when given an uncertainty analysis with warnings, drivers
and draws of completions and cost."""
KEY_NUMBERS = (
    ("successful_completions", "Successful completions a year"),
    ("successful_completion_rate", "Successful completions per person in treatment"),
    ("planned_exit_share", "Planned exits, share of all exits"),
    ("in_treatment_during", "People in treatment during a year"),
    ("wait_treatment_median_days", "Median wait from referral to treatment"),
    ("deaths", "Deaths a year"),
    ("cost_total_gbp", "Total cost a year"),
    ("cost_per_completion_gbp", "Cost per successful completion"),
)
"""The few numbers the answer opens with: (metric, how the board reads it)."""
ANSWER_METRICS = tuple(m for m, _ in KEY_NUMBERS)
COST_NAMES = {"keyworkers": "Keyworkers", "triage": "Assessment (triage)",
              "ost": "OST prescribing", "psychosocial": "Psychosocial support",
              "hat_fixed": "HAT, fixed cost", "hat_medicine": "HAT, medicine",
              "detox": "Community detox", "detox_inpatient": "Inpatient detox",
              "rehab": "Residential rehab", "other": "Other services"}
MODEL_ASSUMPTIONS = (
    "Each person is simulated individually from referral to exit and relapse; rates come "
    "from the scenario file, which cites its sources.",
    "Differences are paired: every scenario runs the same replications on common random "
    "numbers, so the same people are referred at the same times unless a policy changes "
    "what happens to them.",
    "Intervals are 95% t-intervals over replications of each replication's average over "
    "the reporting years (the settling-in years are left out).",
    "Caseload pressure changes drop-out and completion through the scenario's pressure "
    "table, anchored at the good-practice caseload of 40.",
    "Costs are the scenario's unit costs: staff per worker-year, treatment per day, rehab "
    "per week, HAT fixed cost a year and medicine for every place in 6-month blocks.",
)


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("sim.analysis", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def _clip(lo: float, hi: float, metric: str) -> tuple[float, float]:
    """A level's interval kept within what the measure can be: 0 and up, shares to 1."""
    top = 1.0 if unit(metric) == "share" else math.inf
    return (lo if math.isnan(lo) else min(max(lo, 0.0), top),
            hi if math.isnan(hi) else min(max(hi, 0.0), top))


def _is_clear(r: Any) -> bool:
    return not math.isnan(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0)


# --------------------------------------------------------------------------- the answer


def _key_numbers(cmp: Comparison, sc: Any) -> list[dict[str, Any]]:
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    out = []
    for metric, words in KEY_NUMBERS:
        if (sc.name, metric) not in d.index or (cmp.base, metric) not in s.index:
            continue
        r, u = d.loc[(sc.name, metric)], unit(metric)
        out.append({"metric": metric, "label": words,
                    "base": fmt(s.loc[(cmp.base, metric), "mean"], u),
                    "alt": fmt(s.loc[(sc.name, metric), "mean"], u),
                    "diff": fmt_diff(r["diff_mean"], u),
                    "interval": fmt_interval(r["ci_low"], r["ci_high"], u),
                    "is_clear": _is_clear(r)})
    return out


def _sentence(cmp: Comparison, sc: Any, metric: str) -> str | None:
    """'Effective engagement: 71.0% to 73.8%, a clear rise (...)' when ``metric``
    changes clearly; None otherwise."""
    s = cmp.summary.set_index(["scenario", "metric"])
    r = cmp.comparison.set_index(["scenario", "metric"]).loc[(sc.name, metric)]
    if not _is_clear(r):
        return None
    u = unit(metric)
    base, alt = s.loc[(cmp.base, metric), "mean"], s.loc[(sc.name, metric), "mean"]
    return (f"{label(metric)}: {fmt(base, u)} → {fmt(alt, u)}, a clear "
            f"{'rise' if r['diff_mean'] > 0 else 'fall'} of "
            f"{fmt_diff(abs(r['diff_mean']), u).lstrip('+')} "
            f"(95% interval {fmt_interval(r['ci_low'], r['ci_high'], u)}).")


def answer_sentences(cmp: Comparison, sc: Any) -> list[str]:
    """The detail after the key numbers: a sentence for each other headline measure that
    changes clearly for alternative ``sc``, or one saying none does."""
    d = cmp.comparison.set_index(["scenario", "metric"])
    said = [_sentence(cmp, sc, m) for m in HEADLINE
            if m not in ANSWER_METRICS and (sc.name, m) in d.index]
    said = [x for x in said if x]
    if not said:
        return ["No other headline measure changes clearly at this number of runs."]
    return ["Other headline measures that change clearly:", *said]


def _answer(cmp: Comparison) -> dict[str, Any]:
    base = cmp.scenarios[0]
    period = (f"Each figure is a yearly average over the reporting years "
              f"{span(reporting_years(base))}, from {cmp.reps} runs of each scenario on "
              "the same simulated people")
    if base.run.warmup_years:
        period += (f"; the settling-in years {span(settling_years(base))} are left out")
    return {"period": period + ".", "base": short_title(base),
            "options": [{"title": short_title(sc), "key_numbers": _key_numbers(cmp, sc),
                         "sentences": answer_sentences(cmp, sc)}
                        for sc in cmp.scenarios[1:]],
            "assumed": list(cmp.assumption_sentences), "notes": list(cmp.warnings)}


# --------------------------------------------------------------------------- tables


def _level_cell(s: Any, sc: Any, metric: str) -> dict[str, str]:
    if (sc.name, metric) not in s.index:
        return {"main": "–", "sub": "", "cls": ""}
    r, u = s.loc[(sc.name, metric)], unit(metric)
    lo, hi = _clip(r["ci_low"], r["ci_high"], metric)
    return {"main": fmt(r["mean"], u), "sub": fmt_interval(lo, hi, u, diff=False), "cls": ""}


def _diff_cells(d: Any, sc: Any, metric: str, unc: Uncertainty | None) -> list[dict[str, str]]:
    if d is None or (sc.name, metric) not in d.index:
        cells = [{"main": "–", "sub": "", "cls": ""}]
    else:
        r, u = d.loc[(sc.name, metric)], unit(metric)
        cells = [{"main": fmt_diff(r["diff_mean"], u),
                  "sub": fmt_interval(r["ci_low"], r["ci_high"], u),
                  "cls": "clear" if _is_clear(r) else ""}]
    if has_intervals(unc):
        ui, better = interval_cells(unc, sc.name, metric)
        cells += [{"main": ui, "sub": "", "cls": ""}, {"main": better, "sub": "", "cls": ""}]
    return cells


def _headline(cmp: Comparison, unc: Uncertainty | None) -> dict[str, Any]:
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"]) if len(cmp.comparison) else None
    head = [{"title": short_title(sc), "sub": "average (95% interval)"} for sc in cmp.scenarios]
    for sc in cmp.scenarios[1:]:
        who = f" ({short_title(sc, 40)})" if len(cmp.scenarios) > 2 else ""
        head.append({"title": "Difference" + who,
                     "sub": "paired difference (95% interval from replications)"})
        if has_intervals(unc):
            head += [{"title": "Uncertainty interval" + who, "sub": "95% of parameter sets"},
                     {"title": "Chance it is better" + who, "sub": "share of parameter sets"}]
    rows = []
    for metric in HEADLINE:
        cells = [_level_cell(s, sc, metric) for sc in cmp.scenarios]
        for sc in cmp.scenarios[1:]:
            cells += _diff_cells(d, sc, metric, unc)
        rows.append({"label": label(metric), "cells": cells})
    notes = ["Differences are the alternative minus the baseline, taken run by run on the "
             "same simulated people; differences in shares are in percentage points. "
             "Shaded differences are clear: their 95% interval excludes zero.",
             f"The 95% interval from replications (a Monte Carlo interval) shows how "
             f"precisely {cmp.reps} runs pin the answer down with the model's inputs as set."]
    if has_intervals(unc):
        notes.append(
            f"The uncertainty interval is where 95% of the answers fall when the uncertain "
            f"inputs are drawn from their plausible ranges ({unc.draws} parameter sets from "
            f"{unc.source or 'the evidence'}); the chance it is better is the share of "
            "those sets in which the alternative does better on that measure ('–' where "
            "neither direction is better).")
    return {"head": head, "rows": rows, "notes": notes}


def _costs(cmp: Comparison) -> dict[str, Any]:
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"]) if len(cmp.comparison) else None
    metrics = [f"cost_{c}_gbp" for c in COST_SERVICES] + [
        "cost_total_gbp", "cost_per_completion_gbp", "successful_completions"]
    rows = []
    for metric in metrics:
        values = [s.loc[(sc.name, metric), "mean"] if (sc.name, metric) in s.index
                  else math.nan for sc in cmp.scenarios]
        if metric.startswith("cost_") and all(v == 0 or math.isnan(v) for v in values):
            continue  # a service nobody uses in any scenario
        cells = [fmt(v, unit(metric)) for v in values]
        for sc in cmp.scenarios[1:]:
            ok = d is not None and (sc.name, metric) in d.index
            cells.append(fmt_diff(d.loc[(sc.name, metric), "diff_mean"], unit(metric))
                         if ok else "–")
        name = COST_NAMES.get(metric[5:-4], label(metric)) if metric.startswith(
            "cost_") and metric[5:-4] in COST_NAMES else label(metric)
        rows.append({"label": name, "cells": cells})
    head = [short_title(sc) for sc in cmp.scenarios] + [
        "Difference" + (f" ({short_title(sc, 40)})" if len(cmp.scenarios) > 2 else "")
        for sc in cmp.scenarios[1:]]
    return {"head": head, "rows": rows}


# --------------------------------------------------------------------------- the rest


def _assumptions(cmp: Comparison) -> dict[str, Any]:
    return {"model": MODEL_ASSUMPTIONS,
            "scenarios": [{"title": short_title(sc), "name": sc.name,
                           "description": full_description(sc),
                           "policies": [f"{long_date(p.date)}: {p.note or 'a policy'}"
                                        for p in sc.policies]} for sc in cmp.scenarios]}


def _provenance(cmp: Comparison, seconds: float, unc: Uncertainty | None,
                run: Mapping[str, Any] | None) -> list[list[str]]:
    if run is None:  # made now, by this checkout
        prov, version = provenance(), __version__
        finished = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:  # as recorded when the comparison was written
        prov, version = run["provenance"], run["treatsim_version"]
        finished, seconds = run["finished_utc"], run["run_seconds"]
    commit = prov["git_commit"] or "not run from a git checkout"
    if prov["git_dirty"]:
        commit += " (with uncommitted changes)"
    rows = [["comparison finished", f"{finished[:10]} {finished[11:16]} UTC"],
            ["run time", f"{seconds:.1f} s"], ["treatsim version", version],
            ["simulation build", prov.get("model_build", "not recorded")],
            ["code (git commit)", commit], ["seed", str(cmp.seed)],
            ["replications per scenario", str(cmp.reps)]]
    for sc in cmp.scenarios:
        rows.append([f"scenario {sc.name}",
                     f"sha256 {scenario_hash(resolved_yaml(sc))}; starts "
                     f"{long_date(sc.run.start_date)}; settling-in years "
                     f"{span(settling_years(sc)) or 'none'}; reporting years "
                     f"{span(reporting_years(sc))}"])
    if unc is not None and unc.draws:
        rows.append(["parameter uncertainty", f"{unc.draws} parameter sets from "
                     f"{unc.source or 'the evidence'}, {unc.reps_per_draw} replications each"])
    elif unc is not None:
        rows.append(["parameter uncertainty", "judgement checks only, "
                     f"{unc.reps_per_draw} replications for each setting"])
    if cmp.precision_note:
        rows.append(["precision", cmp.precision_note])
    rows += [["assumed", f"{name} at {setting}"] for name, setting in cmp.assumptions.items()]
    rows += [["warning", w] for w in cmp.warnings]
    rows += [[f"{name} version", v or "not installed"] for name, v in prov["versions"].items()
             if name != "treatsim"]
    return rows


def _title(cmp: Comparison) -> tuple[str, str]:
    base = short_title(cmp.scenarios[0], 120)
    if len(cmp.scenarios) == 2:
        return short_title(cmp.scenarios[1], 120), f"Compared with: {base}"
    return f"{len(cmp.scenarios) - 1} options compared", f"Compared with: {base}"


def context(cmp: Comparison, seconds: float = 0.0, uncertainty: Uncertainty | None = None,
            run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the template shows, already written for people.

    :param run: the comparison's ``run.json`` once written: its provenance, finishing time
        and wall time (seconds) are shown instead of this checkout's and now, so that the
        report of a comparison read back is the report written with it.
    """
    unc = uncertainty
    title, subtitle = _title(cmp)
    return {
        "title": title, "subtitle": subtitle,
        "version": __version__ if run is None else run["treatsim_version"],
        "judgements": list(unc.warnings) if unc is not None else [],
        "answer": _answer(cmp), "headline": _headline(cmp, unc),
        "differences": forest(cmp),
        "drivers": drivers(unc, cmp, ANSWER_METRICS) if unc is not None else [],
        "ce": cost_effectiveness(unc, cmp) if has_cost_effectiveness(unc) else None,
        "trends": trends(cmp), "costs": _costs(cmp), "changes": changes(cmp),
        "fit": fit(cmp.scenarios[0]),
        "definitions": definitions(tuple(m for m in ANSWER_METRICS if m not in HEADLINE)),
        "interval_meaning": INTERVAL_MEANING, "limits": LIMITS,
        "assumptions": _assumptions(cmp),
        "provenance": _provenance(cmp, seconds, unc, run),
        "reps": cmp.reps, "seed": cmp.seed,
    }


def render(cmp: Comparison, seconds: float = 0.0, uncertainty: Uncertainty | None = None,
           *, title: str | None = None, run: Mapping[str, Any] | None = None) -> str:
    """The whole report as one HTML string.

    :param seconds: the comparison's wall time, for the provenance section.
    :param uncertainty: the parameter-uncertainty analysis of ``cmp``, if one was made:
        its warnings open the report, and it adds the uncertainty interval and the
        chance an alternative is better to the headline table, what drives each answer
        and, with draws of completions and cost, the cost-effectiveness section.
    :param title: a title to use instead of the alternative's description.
    :param run: the comparison's ``run.json`` once written (see :func:`context`).
    """
    with matplotlib.rc_context({"text.parse_math": False}):  # a "$" in a name is text
        ctx = context(cmp, seconds, uncertainty, run)
    if title:
        ctx["title"] = title
    return _environment().get_template("report.html.j2").render(**ctx)
