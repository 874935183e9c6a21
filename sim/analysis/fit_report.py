"""The report of a calibration: ``<area>.yaml`` (the fitted parameters, which a baseline
scenario reads through its ``fitted:`` key), ``<area>_fit.md`` (every target against its
simulated value and 95% interval, with its source) and ``<area>_fit.png`` (the scaled
errors), from the rows of :func:`sim.analysis.calibrate.check_fit`.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import yaml

from .. import __version__
from ..io.outputs import PNG_METADATA, write_owned_file
from ..metrics import format_metric
from .targets import Targets

__all__ = ["fit_document", "fit_paths", "write_fit"]


def fit_paths(area: str, out_dir: Path) -> dict[str, Path]:
    """The files a fit of ``area`` writes into ``out_dir``: ``yaml``, ``md`` and ``png``."""
    return {"yaml": out_dir / f"{area}.yaml", "md": out_dir / f"{area}_fit.md",
            "png": out_dir / f"{area}_fit.png"}


def write_fit(fit: dict[str, Any], rows: list[dict[str, Any]], out_dir: Path,
              force: bool = False) -> dict[str, Path]:
    """Write ``<area>.yaml`` (parameters, loss, seed, date), ``<area>_fit.md`` and
    ``<area>_fit.png`` into ``out_dir``, each file atomically. A file there that
    treatsim did not write is left alone (moved aside with ``force``; see
    :func:`sim.io.outputs.write_owned_file`)."""
    targets: Targets = fit["targets"]
    area = targets.area
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = fit_document(fit, rows)
    paths = fit_paths(area, out_dir)
    if fit.get("replayed") and fit["replayed"] >= fit["evaluations"] and paths["yaml"].exists():
        # every evaluation came from the cache: keep the search's own time and date
        before = yaml.safe_load(paths["yaml"].read_text()) or {}
        for key in ("search_seconds", "date"):
            if key in before:
                doc[key] = before[key]
    header = (f"# Fitted by `treatsim calibrate {doc['targets_file']}`; the baseline "
              f"scenarios/{area}.yaml uses these parameters through its `fitted:` key.\n")
    text = header + yaml.safe_dump(doc, sort_keys=False)
    write_owned_file(paths["yaml"], lambda tmp: tmp.write_text(text, encoding="utf-8"), force)
    markdown = _fit_markdown(doc, rows, targets)
    write_owned_file(paths["md"], lambda tmp: tmp.write_text(markdown, encoding="utf-8"),
                     force)
    write_owned_file(paths["png"], lambda tmp: _fit_plot(rows, area, tmp), force)
    return paths


def fit_document(fit: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The contents of ``<area>.yaml``: the fit (as :func:`sim.analysis.calibrate.calibrate`
    returns it), dated today, and each target's check row (``rows``) against its search
    mean. ``search_seconds`` is wall-clock seconds of the search."""
    targets: Targets = fit["targets"]
    fitted_rows = [r for r in rows if not r["held_out"]]
    held = [r for r in rows if r["held_out"]]
    return {
        "area": targets.area,
        "targets_file": f"calibration/targets/{targets.area}.yaml",
        "parameters": {k: float(v) for k, v in fit["parameters"].items()},
        "loss": round(fit["loss"], 6),
        "seed": targets.seed,
        "reps": fit["reps"],
        "evaluations": fit["evaluations"],
        "search_seconds": round(fit["seconds"], 1),
        "date": dt.date.today().isoformat(),
        "treatsim_version": __version__,
        "fitted_within_tolerance": f"{sum(r['within'] for r in fitted_rows)}/{len(fitted_rows)}",
        "held_out_within_tolerance": f"{sum(r['within'] for r in held)}/{len(held)}",
        "search_reps": targets.reps if fit.get("search_reps") is None else fit["search_reps"],
        "targets": [
            {"name": r["name"], "metric": r["metric"], "key": r["key"],
             "held_out": r["held_out"],
             "reported": r["target"], "tolerance": r["tolerance"],
             "simulated": float(f"{r['simulated']:.6g}"), "within": r["within"],
             "search_mean": float(fit["search_means"].get(r["key"], math.nan))}
            for r in rows
        ],
    }


def _fit_markdown(doc: dict[str, Any], rows: list[dict[str, Any]], targets: Targets) -> str:
    lines = [
        f"# Calibration of {doc['area']}",
        "",
        f"Report: `{targets.report}`. Fitted {doc['date']} with treatsim "
        f"{doc['treatsim_version']}: {doc['evaluations']} evaluations, "
        f"{doc['search_seconds']} s, loss {doc['loss']} (mean squared error in tolerances).",
        f"Check run: {doc['reps']} common-random-number replications, seed {doc['seed']}.",
        "",
        "## Fitted parameters",
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| `{k}` | {v:g} |" for k, v in doc["parameters"].items()],
        "",
    ]
    for title, part in (("Fitted targets", [r for r in rows if not r["held_out"]]),
                        ("Held-out targets (validation, not used in fitting)",
                         [r for r in rows if r["held_out"]])):
        within = sum(r["within"] for r in part)
        lines += [f"## {title}: {within} of {len(part)} within tolerance", "",
                  "| target | metric | reported | tolerance | simulated (95% CI) | error | "
                  "within | note |", "|---|---|---|---|---|---|---|---|"]
        for r in part:
            sim = (f"{format_metric(r['simulated'], r['metric'])} ({format_metric(r['ci_low'], r['metric'])}"
                   f" to {format_metric(r['ci_high'], r['metric'])})")
            note = r["note"] or ("" if r["within"] else "**miss not explained**")
            lines.append(
                f"| {r['name']} | `{r['metric']}` | {format_metric(r['target'], r['metric'])} | "
                f"±{format_metric(r['tolerance'], r['metric'])} | {sim} | "
                f"{r['scaled_error']:+.2f} tol | {'yes' if r['within'] else '**no**'} | "
                f"{note} |")
        lines.append("")
    lines += ["## Sources", ""]
    lines += [f"- **{r['name']}** ({r['file']}): \"{r['quote']}\"" for r in rows]
    if targets.not_modelled:
        lines += ["", "## Figures the model cannot produce", ""]
        lines += [f"- {n.figure}: {n.reason} ({n.source.file}: \"{n.source.quote}\")"
                  for n in targets.not_modelled]
    lines += ["", f"![fit]({doc['area']}_fit.png)", ""]
    return "\n".join(lines)


def _fit_plot(rows: list[dict[str, Any]], area: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [("fitted", [r for r in rows if not r["held_out"]]),
             ("held out", [r for r in rows if r["held_out"]])]
    heights = [max(1, len(p)) for _, p in parts]
    fig, axes = plt.subplots(2, 1, figsize=(8, 1.2 + 0.42 * sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, part) in zip(axes[:, 0], parts, strict=True):
        ax.axvspan(-1, 1, color="#d9f0d3", label="within tolerance")
        ax.axvline(0, color="#555", lw=0.8)
        for i, r in enumerate(part):
            tol = r["tolerance"]
            lo = (r["ci_low"] - r["target"]) / tol
            hi = (r["ci_high"] - r["target"]) / tol
            colour = "#1b7837" if r["within"] else "#b2182b"
            if not math.isnan(lo):
                ax.plot([lo, hi], [i, i], color=colour, lw=2)
            ax.plot([r["scaled_error"]], [i], "o", color=colour)
        ax.set_yticks(range(len(part)), [r["name"] for r in part], fontsize=8)
        ax.set_ylim(-0.7, max(0.7, len(part) - 0.3))
        ax.invert_yaxis()
        ends = [abs(v) for r in rows for v in ((r["ci_low"] - r["target"]) / r["tolerance"],
                                                (r["ci_high"] - r["target"]) / r["tolerance"])
                if not math.isnan(v)]
        lim = 1.1 * max([1.5, *ends])
        ax.set_xlim(-lim, lim)
        ax.set_title(f"{area}: {title} targets", fontsize=10, loc="left")
        ax.set_xlabel("(simulated - reported) / tolerance, with 95% CI", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png", metadata=PNG_METADATA)
    plt.close(fig)
