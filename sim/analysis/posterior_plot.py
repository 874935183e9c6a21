"""The files of a calibration's posterior: ``<area>_posterior.parquet`` (the weighted
parameter sets), ``<area>_posterior.md`` (each parameter's posterior and each target's
posterior predictive against the reported figure) and ``<area>_posterior.png`` (the
marginals and pairs against the priors, and the predictive of every target), from what
:func:`sim.analysis.posterior.calibrate_posterior` returns.

Every file is replaced only if treatsim wrote it (:func:`sim.io.outputs.write_owned_file`);
the Parquet file carries treatsim's mark in its footer metadata, where Parquet keeps
metadata, and is recognised by it. Text below :data:`KEEP_LINE` in the markdown is
carried over when the file is rewritten.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..io.outputs import (
    PNG_METADATA,
    atomic_file,
    owned_file,
    prepare_file,
    write_owned_file,
)
from ..metrics import format_metric
from .posterior import weighted_quantile
from .targets import Targets

__all__ = ["KEEP_LINE", "owned_parquet", "parameter_summary", "posterior_paths",
           "posterior_figure", "posterior_markdown", "prepare_posterior_files", "target_summary",
           "write_posterior"]

KEEP_LINE = "<!-- Text below this line is kept when treatsim rewrites this file. -->"
PARQUET_MARK = b"treatsim"


def posterior_paths(area: str, out_dir: Path) -> dict[str, Path]:
    """The files a posterior of ``area`` writes into ``out_dir``: ``parquet``, ``md``,
    ``png``."""
    return {"parquet": out_dir / f"{area}_posterior.parquet",
            "md": out_dir / f"{area}_posterior.md", "png": out_dir / f"{area}_posterior.png"}


def owned_parquet(path: Path) -> bool:
    """True if ``path`` is a regular Parquet file with treatsim's mark in its metadata."""
    import pyarrow.parquet as pq

    if path.is_symlink() or not path.is_file():
        return False
    try:
        return PARQUET_MARK in (pq.read_schema(path).metadata or {})
    except Exception:  # noqa: BLE001 - anything unreadable is not ours
        return False


def prepare_posterior_files(area: str, out_dir: Path, force: bool = False
                            ) -> dict[str, Path]:
    """Check, before any work, that the posterior's files may be written.

    :raises OutputError: naming the first file that treatsim did not write (with
        ``force`` it is moved aside when the new one is written).
    """
    paths = posterior_paths(area, out_dir)
    for kind, path in paths.items():
        # our own Parquet file (marked in its footer) is replaced like a marked file
        prepare_file(path, force=force or (kind == "parquet" and owned_parquet(path)),
                     create_parents=True)
    return paths


def parameter_summary(frame: pd.DataFrame, bounds: dict[str, tuple[float, float]],
                      point: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Per parameter: its prior ``low`` and ``high``, the ``point`` fit (NaN if none),
    the weighted posterior ``mean`` and 95% interval (``lo``, ``hi``), in its unit."""
    w = frame["weight"].to_numpy()
    rows = []
    for path, (low, high) in bounds.items():
        v = frame[path].to_numpy()
        lo, hi = weighted_quantile(v, w, [0.025, 0.975])
        rows.append({"path": path, "low": low, "high": high,
                     "point": (point or {}).get(path, math.nan),
                     "mean": float(np.sum(w * v) / np.sum(w)), "lo": float(lo),
                     "hi": float(hi)})
    return rows


def target_summary(targets: Targets, predictive: pd.DataFrame) -> list[dict[str, Any]]:
    """Per target, its posterior predictive (every drawn set x replication): ``mean``,
    95% interval (``lo``, ``hi``), ``share`` of draws within tolerance, and ``within``:
    the 95% interval overlaps reported +/- tolerance. Values in the metric's unit."""
    rows = []
    for t in targets.targets:
        v = predictive[t.key].dropna().to_numpy() if t.key in predictive else np.array([])
        mean = float(v.mean()) if len(v) else math.nan
        lo, hi = (np.quantile(v, [0.025, 0.975]) if len(v) else (math.nan, math.nan))
        rows.append({
            "name": t.name, "metric": t.metric, "key": t.key, "held_out": t.held_out,
            "reported": t.value, "tolerance": t.tolerance, "mean": mean, "lo": float(lo),
            "hi": float(hi), "n": len(v),
            "share": float(np.mean(np.abs(v - t.value) <= t.tolerance)) if len(v) else 0.0,
            "within": bool(len(v) and lo <= t.value + t.tolerance
                           and hi >= t.value - t.tolerance)})
    return rows


def _write_parquet(frame: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[PARQUET_MARK] = json.dumps(meta, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(schema_meta), path)


def _write_file(path: Path, write: Any, force: bool) -> None:
    """Replace our own Parquet file in place; anything else through write_owned_file."""
    if path.suffix == ".parquet" and owned_parquet(path):
        atomic_file(path, write)
    else:
        write_owned_file(path, write, force)


def write_posterior(post: dict[str, Any], out_dir: Path, force: bool = False,
                    point: dict[str, float] | None = None, command: str = ""
                    ) -> dict[str, Path]:
    """Write the posterior's three files into ``out_dir`` (each atomically; a file that
    treatsim did not write is left alone, or moved aside with ``force``).

    :param point: the point fit's parameters, marked beside the posterior.
    :param command: the command line that made it, quoted in the markdown.
    :raises OutputError: when a file became one treatsim may not replace.
    """
    targets: Targets = post["targets"]
    abc = post["abc"]
    bounds = {fp.path: (fp.low, fp.high) for fp in targets.free_parameters}
    params = parameter_summary(abc.frame, bounds, point)
    rows = target_summary(targets, post["predictive"])
    paths = posterior_paths(targets.area, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {"format": "treatsim posterior", "treatsim_version": __version__,
            "pyabc_version": abc.version, "area": targets.area, "seed": post["settings"].seed}
    _write_file(paths["parquet"], lambda tmp: _write_parquet(abc.frame, meta, tmp), force)
    kept = _kept_text(paths["md"])
    text = posterior_markdown(post, params, rows, command) + kept
    _write_file(paths["md"], lambda tmp: tmp.write_text(text, encoding="utf-8"), force)
    _write_file(paths["png"], lambda tmp: posterior_figure(post, params, rows, tmp), force)
    return paths


def _kept_text(path: Path) -> str:
    """What follows :data:`KEEP_LINE` in treatsim's earlier markdown at ``path``."""
    if not owned_file(path):
        return ""
    old = path.read_text(encoding="utf-8")
    return old[old.index(KEEP_LINE) + len(KEEP_LINE):] if KEEP_LINE in old else ""


def _fmt(value: float, metric: str | None = None) -> str:
    if math.isnan(value):
        return "-"
    return format_metric(value, metric) if metric else f"{value:.4g}"


def posterior_markdown(post: dict[str, Any], params: list[dict[str, Any]],
                       rows: list[dict[str, Any]], command: str = "") -> str:
    """The markdown of a posterior, up to and including :data:`KEEP_LINE`."""
    targets: Targets = post["targets"]
    abc, settings = post["abc"], post["settings"]
    w = abc.frame["weight"].to_numpy()
    held = [r for r in rows if r["held_out"]]
    lines = [
        f"# Posterior of the {targets.area} calibration",
        "",
        f"Written by treatsim {__version__} on {dt.date.today().isoformat()}"
        + (f" (`{command}`)" if command else "") + ". The point fit "
        f"(`{targets.area}.yaml`) stays the baseline; these are the plausible parameter "
        f"sets around it.",
        "",
        f"Method: ABC-SMC (pyabc {abc.version}), {settings.particles} particles, uniform "
        f"priors on each free parameter's range, seed {settings.seed}. Distance: the root "
        f"mean square of (simulated - reported) / tolerance over the fitted targets, one "
        f"replication per particle (the report is one year of one place). Thresholds: the "
        f"median of the last generation's distances, down to {settings.epsilon:g} "
        f"tolerance(s); at most {settings.generations} generations. "
        f"{abc.simulations} simulations in {abc.seconds:.0f} s, effective sample size "
        f"{1 / float(np.sum(w * w)):.0f} of {len(w)}. Posterior predictive: "
        f"{post['sets']} sets drawn by weight, {post['reps']} replication(s) each "
        f"({post['predictive_seconds']:.0f} s).",
        "",
        "## Parameters", "",
        "| parameter | prior | point fit | posterior mean | 95% interval |", "|---|---|---|---|---|",
        *[f"| `{p['path']}` | uniform {p['low']:.4g} to {p['high']:.4g} | {_fmt(p['point'])} "
          f"| {p['mean']:.4g} | {p['lo']:.4g} to {p['hi']:.4g} |" for p in params],
        "",
        f"## Targets: posterior predictive; held-out targets within: "
        f"{sum(r['within'] for r in held)} of {len(held)}", "",
        "Within: the 95% predictive interval overlaps reported ± tolerance. Draws within: "
        "the share of simulated years within tolerance of the reported figure.", "",
        "| target | held out | reported | tolerance | predictive mean | 95% interval | "
        "draws within | within |", "|---|---|---|---|---|---|---|---|",
        *[f"| {r['name']} | {'yes' if r['held_out'] else 'no'} | "
          f"{_fmt(r['reported'], r['metric'])} | ±{_fmt(r['tolerance'], r['metric'])} | "
          f"{_fmt(r['mean'], r['metric'])} | {_fmt(r['lo'], r['metric'])} to "
          f"{_fmt(r['hi'], r['metric'])} | {r['share']:.0%} | "
          f"{'yes' if r['within'] else '**no**'} |" for r in rows],
        "",
        "## Generations", "",
        "| generation | threshold (tolerances) | simulations |", "|---|---|---|",
        *[f"| {'prior sample' if g.t < 0 else int(g.t)} | {g.epsilon:.3g} | "
          f"{int(g.simulations)} |" for g in abc.generations.itertuples()],
        "",
        f"![posterior]({targets.area}_posterior.png)",
        "",
        KEEP_LINE,
    ]
    return "\n".join(lines)


def posterior_figure(post: dict[str, Any], params: list[dict[str, Any]],
                     rows: list[dict[str, Any]], path: Path) -> None:
    """The diagnostic plot: each parameter's weighted marginal over its prior range (the
    point fit and the posterior mean marked) with pair plots below the diagonal, then
    each target's posterior predictive against reported +/- tolerance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(params)
    cols = max(n, 3)
    trows = math.ceil(len(rows) / cols)
    fig = plt.figure(figsize=(3.2 * cols, 2.8 * (n + trows) + 0.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[n, trows])
    _corner(top, post["abc"].frame, params)
    _predictive_panels(bottom, post["predictive"], rows, cols, trows)
    fig.suptitle(f"{post['targets'].area}: posterior (ABC-SMC, {len(post['abc'].frame)} "
                 f"particles) and posterior predictive", fontsize=11)
    fig.savefig(path, dpi=100, format="png", metadata=PNG_METADATA)
    plt.close(fig)


def _corner(fig: Any, frame: pd.DataFrame, params: list[dict[str, Any]]) -> None:
    """Weighted histograms on the diagonal, weighted scatter below it."""
    n = len(params)
    axes = fig.subplots(n, n, squeeze=False)
    w = frame["weight"].to_numpy()
    for i, p in enumerate(params):
        for j, q in enumerate(params):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(frame[p["path"]], bins=30, range=(p["low"], p["high"]), weights=w,
                        color="#4c72b0", alpha=0.8, label="posterior")
                ax.axvline(p["mean"], color="k", lw=1, label="posterior mean")
                ax.axvspan(p["lo"], p["hi"], color="#4c72b0", alpha=0.12, label="95% interval")
                if not math.isnan(p["point"]):
                    ax.axvline(p["point"], color="#c44e52", ls="--", lw=1, label="point fit")
                ax.axhline(1 / 30, color="#888", ls=":", lw=1, label="prior (uniform)")
                ax.set_yticks([])
                if i == 0:
                    ax.legend(fontsize=6, loc="upper right")
            else:
                ax.scatter(frame[q["path"]], frame[p["path"]], s=4 + 400 * w, alpha=0.4,
                           color="#4c72b0")
                ax.set_ylim(p["low"], p["high"])
                ax.set_ylabel(p["path"].rsplit(".", 2)[-1], fontsize=7)
            ax.set_xlim(q["low"], q["high"])
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel(q["path"], fontsize=7)


def _predictive_panels(fig: Any, predictive: pd.DataFrame, rows: list[dict[str, Any]],
                       cols: int, trows: int) -> None:
    """Each target's predictive histogram, with reported +/- tolerance shaded."""
    axes = fig.subplots(trows, cols, squeeze=False).ravel()
    for ax, r in zip(axes, rows, strict=False):
        v = predictive[r["key"]].dropna() if r["key"] in predictive else pd.Series([])
        ax.axvspan(r["reported"] - r["tolerance"], r["reported"] + r["tolerance"],
                   color="#d9f0d3", label="reported ± tolerance")
        ax.axvline(r["reported"], color="#1b7837", lw=1.2, label="reported")
        if len(v):
            ax.hist(v, bins=25, color="#8172b2" if r["held_out"] else "#4c72b0", alpha=0.8,
                    label="posterior predictive")
        ax.set_title(f"{r['name']}" + (" (HELD OUT)" if r["held_out"] else " (fitted)"),
                     fontsize=8, color="#8172b2" if r["held_out"] else "k")
        ax.set_xlabel(r["key"], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    if rows:
        axes[0].legend(fontsize=6)
    for ax in axes[len(rows):]:
        ax.set_axis_off()
