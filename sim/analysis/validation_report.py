"""The external validation's table for people: plain text for the terminal,
``validation.md``, and the folder ``validate-model`` writes (``validation.csv``,
``validation.md``, ``run.json``). The runs and comparisons are :mod:`.validation`'s."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from .. import __version__
from ..io.outputs import OutputTarget, staging
from .validation import ALL_AREAS, COLUMNS, ValidationFile, ValidationRun, describe
from .validation_measures import MEASURES

__all__ = ["WITHIN_RULE", "show", "table_markdown", "table_text", "tally",
           "write_validation"]


def show(x: float, unit: str) -> str:
    """A value for people to read: a share as a percentage, anything else to 3 figures."""
    if x is None or math.isnan(x):
        return "–"
    return f"{100 * x:.1f}%" if unit.startswith("share") else f"{x:.3g}"


def _published(row: dict[str, Any]) -> str:
    """The published value, with its interval if it has one."""
    text = show(row["published"], row["unit"])
    if not math.isnan(row["published_low"]):
        text += (f" ({show(row['published_low'], row['unit'])} to "
                 f"{show(row['published_high'], row['unit'])})")
    return text


def _model(row: dict[str, Any]) -> tuple[str, str]:
    """(the model mean, its 95% CI) as text."""
    unit = row["unit"]
    ci = "–" if math.isnan(row["ci_low"]) else \
        f"{show(row['ci_low'], unit)} to {show(row['ci_high'], unit)}"
    return show(row["model_mean"], unit), ci


def table_text(rows: list[dict[str, Any]]) -> str:
    """The table as plain text: a block per figure, a line per area, then the tally."""
    lines: list[str] = []
    modelled = [r for r in rows if r["within"] != "not modelled"]
    for name in dict.fromkeys(r["figure"] for r in modelled):
        part = [r for r in modelled if r["figure"] == name]
        first = part[0]
        lines += ["", f"{name}  [{first['unit']}; compare: {first['compare']}]",
                  f"  published {_published(first)}; model: {first['measure']}",
                  f"  {'area':<14} {'model':>10}  {'95% CI':<22} {'n':>3}  within"]
        for r in part:
            mean, ci = _model(r)
            extra = f"  (local target: {r['local_target']})" if r["local_target"] else ""
            lines.append(f"  {r['area']:<14} {mean:>10}  {ci:<22} {r['n']:>3}  "
                         f"{r['within']}{extra}")
    lines.append("")
    for r in rows:
        if r["within"] == "not modelled":
            lines.append(f"not modelled: {r['figure']}: {r['note']}")
    return "\n".join([*lines, "", tally(rows)]).lstrip("\n")


def tally(rows: list[dict[str, Any]]) -> str:
    """One sentence: how many comparisons are within (all areas pooled if there are
    several areas, else the one area), and how many figures are not modelled."""
    modelled = [r for r in rows if r["within"] != "not modelled"]
    pooled = [r for r in modelled if r["area"] == ALL_AREAS] or modelled
    hits = sum(r["within"] == "yes" for r in pooled)
    where = " (all areas pooled)" if pooled and pooled[0]["area"] == ALL_AREAS else ""
    return (f"within: {hits} of {len(pooled)} comparisons{where}; "
            f"{len(rows) - len(modelled)} figures not modelled")


def table_markdown(vf: ValidationFile, rows: list[dict[str, Any]], run: ValidationRun) -> str:
    """``validation.md``: how it was run, the table, each figure's definition and source,
    and what is not modelled."""
    out = ["<!-- written by treatsim validate-model -->", "# External validation", "",
           f"{run.reps} replications of each area ({', '.join(run.areas)}), each area's own "
           f"seed, follow-up extended to {run.follow_up_days:g} days after the reporting "
           f"years; {run.executor}, {run.seconds:.0f} s. Model: mean over replications and "
           "95% t-interval. *All areas*: each replication's unweighted mean over the areas, "
           "then the t-interval. Cohorts of exits are the exits in the reporting years; an "
           "exit counts only if its whole window ends by the end of the run (censoring). "
           "*Within*: " + WITHIN_RULE, "", f"**{tally(rows)}.**", "",
           "| figure | area | model mean | 95% CI | n | published | compare | within | "
           "local target |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["within"] != "not modelled":
            mean, ci = _model(r)
            out.append(f"| {r['figure']} | {r['area']} | {mean} | {ci} | {r['n']} | "
                       f"{_published(r)} | {r['compare']} | {r['within']} | "
                       f"{r['local_target']} |")
    out += ["", "## Figures and measures", ""]
    for fig in vf.figures:
        spec = fig.model
        how = (f"`{describe(spec)}`: {MEASURES[spec.measure].definition}"
               if spec and fig.modelled else "not modelled: " +
               (spec.reason or "" if spec else "no model: mapping yet"))
        note = f"  Note: {_md(spec.note)}  " if spec and spec.note else ""
        out += [f"- **{fig.name}** ({fig.unit}): {_md(fig.figure)}  ", f"  Model: {_md(how)}  ",
                *([note] if note else []), f"  Source: {_md(fig.source)} {fig.url}"]
    return "\n".join(out) + "\n"


WITHIN_RULE = ("`interval`: the published value lies inside the model's 95% CI, or the "
               "published interval overlaps it; `upper_bound`/`lower_bound`: the CI reaches "
               "below/above the published value; `order_of_magnitude`: the CI overlaps "
               "the published value times or divided by sqrt(10). `n/a`: no model interval.")
"""How ``within`` is decided, for the report."""


def _md(text: str) -> str:
    """Text for a markdown table or list: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def write_validation(rows: list[dict[str, Any]], markdown: str, run: ValidationRun,
                     target: OutputTarget, source: str) -> Path:
    """Write ``validation.csv``, ``validation.md`` and ``run.json`` into the folder
    ``target`` (staged, then put in place); returns the folder."""
    with staging(target) as tmp:
        with (tmp / "validation.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: ("" if isinstance(v, float) and math.isnan(v) else v)
                              for k, v in r.items()} for r in rows)
        (tmp / "validation.md").write_text(markdown, encoding="utf-8")
        meta = {"format": "treatsim validation", "treatsim_version": __version__,
                "validation_file": source, "areas": run.areas, "reps": run.reps,
                "seeds": run.seeds, "follow_up_days": run.follow_up_days,
                "executor": run.executor, "seconds": round(run.seconds, 1)}
        (tmp / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return target.path
