"""Calibration against cited targets: the targets file, the loss, the search, the report.

A targets file (``calibration/targets/<area>.yaml``) names the scenario to fit, the free
parameters (dotted scenario paths with bounds) and the targets. Each target maps one
figure of a local report to a metric of :mod:`sim.metrics`, with a tolerance and its
source: the report's file name and the sentence quoted from it. Quotes are checked
against the report text when the reports are found (``TREATSIM_SEEDS`` or
``shared/seeds`` beside the repository).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..io.outputs import PNG_METADATA, write_owned_file
from ..metrics import METRICS, key_values, unknown_metric
from ..scenario import (
    MAX_SEED,
    PolicyError,
    Scenario,
    ScenarioError,
    Strict,
    get_parameter,
    load_model_file,
    load_referenced_scenario,
    with_parameters,
)

__all__ = ["Targets", "load_targets", "find_seeds"]


class Source(Strict):
    """Where a figure comes from: a report file by name and the sentence quoted from it."""

    file: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    quote: str = Field(min_length=10)


class FreeParameter(Strict):
    """A scenario parameter the search may move, by dotted path, within ``[low, high]``."""

    path: str = Field(min_length=1)
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> FreeParameter:
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low {self.low:g}, high {self.high:g}")
        return self


class Target(Strict):
    """One reported figure the baseline should reproduce."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    metric: str
    value: float
    tolerance: float = Field(gt=0, description="absolute, in the metric's unit")
    tolerance_basis: str = Field(min_length=5, description="how the tolerance was set")
    period: str
    year: int | None = Field(
        default=None, ge=1, le=200,
        description="the reporting year the figure describes (default: the mean over the "
        "scenario's reporting years)")
    held_out: bool = False
    source: Source
    note: str = ""

    @property
    def key(self) -> str:
        """What is simulated for it: ``metric`` or ``metric@year``."""
        return self.metric if self.year is None else f"{self.metric}@{self.year}"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        problem = unknown_metric(metric)
        if problem:
            raise ValueError(problem)
        return metric


class NotModelled(Strict):
    """A reported figure the model cannot produce, and why."""

    figure: str
    reason: str = Field(min_length=5)
    source: Source


class Targets(Strict):
    """A whole targets file."""

    area: str = Field(pattern=r"^[a-z_]+$")
    scenario: str = Field(description="the scenario to fit, relative to this file")
    report: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    reps: int = Field(default=6, ge=2, le=1_000,
                      description="common-random-number replications")
    seed: int = Field(default=1, ge=0, le=MAX_SEED)
    max_evaluations: int = Field(default=300, ge=10, le=100_000,
                                 description="budget of the search")
    free_parameters: list[FreeParameter] = Field(min_length=1, max_length=100)
    targets: list[Target] = Field(min_length=2, max_length=1_000)
    not_modelled: list[NotModelled] = Field(default_factory=list, max_length=1_000)

    @model_validator(mode="after")
    def _checks(self) -> Targets:
        names = [t.name for t in self.targets]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"targets: duplicate target name {sorted(dup)[0]!r}")
        if sum(t.held_out for t in self.targets) < 2:
            raise ValueError("targets: hold out at least two figures (held_out: true) "
                             "for validation")
        if all(t.held_out for t in self.targets):
            raise ValueError("targets: every target is held out; nothing is left to fit")
        paths = [p.path for p in self.free_parameters]
        dup = {p for p in paths if paths.count(p) > 1}
        if dup:
            raise ValueError(f"free_parameters: {sorted(dup)[0]!r} is listed twice")
        return self

    def fitted(self) -> list[Target]:
        """The targets used in the loss."""
        return [t for t in self.targets if not t.held_out]

    def validation(self) -> list[Target]:
        """The held-out targets, reported apart."""
        return [t for t in self.targets if t.held_out]


def find_seeds(start: Path) -> Path | None:
    """The folder of source reports: ``$TREATSIM_SEEDS``, or ``shared/seeds`` found walking
    up from ``start`` or beside this repository."""
    env = os.environ.get("TREATSIM_SEEDS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    package_root = Path(__file__).resolve().parents[2]  # sim/analysis/ -> the repository
    for parent in [start, *start.parents, package_root]:
        for cand in (parent / "shared" / "seeds", parent.parent / "shared" / "seeds"):
            if cand.is_dir():
                return cand
    return None


def normalise(text: str) -> str:
    """Text for quote matching: no markdown emphasis, straight quotes, single spaces."""
    text = text.replace("**", "").replace("’", "'").replace("‘", "'")
    text = text.replace("“", '"').replace("”", '"').replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


def load_targets(path: str | Path) -> tuple[Targets, Scenario, Path]:
    """Load and check a targets file; returns (targets, scenario to fit, targets path).

    Checks that every free parameter path exists in the scenario and that both its bounds
    give a valid scenario, that every quote appears in its report (when the reports are
    found), and that the scenario itself is valid.

    :raises ScenarioError: naming file, line and key of every problem.
    """
    path = Path(path)
    targets, line_of, shown = load_model_file(path, Targets)
    # the search starts from the prior, not from an earlier fit
    scenario = load_referenced_scenario(path, targets.scenario, line_of, shown, fitted=False)
    problems: list[tuple[str, int | None, str, str]] = []
    for i, t in enumerate(targets.targets):
        if t.year is not None and t.year > scenario.run.years:
            problems.append((shown, line_of("targets", i, "year"), f"targets[{i}].year",
                             f"the scenario {targets.scenario} reports {scenario.run.years} "
                             f"year(s), so year must be 1 to {scenario.run.years}, got "
                             f"{t.year}"))
    for i, fp in enumerate(targets.free_parameters):
        for bound in ("low", "high"):
            value = getattr(fp, bound)
            try:
                with_parameters(scenario, {fp.path: value})
            except PolicyError as exc:
                problems.append((shown, line_of("free_parameters", i, "path"),
                                 f"free_parameters[{i}].path", str(exc.error)))
                break
            except ValidationError as exc:
                err = exc.errors()[0]
                msg = err.get("ctx", {}).get("error") or err["msg"]
                problems.append((shown, line_of("free_parameters", i, bound),
                                 f"free_parameters[{i}].{bound}",
                                 f"impossible bound {value:g} for {fp.path}: {msg}"))
    seeds = find_seeds(path.resolve().parent)
    if seeds is not None:
        texts: dict[str, str] = {}
        entries = [("targets", i, t.source) for i, t in enumerate(targets.targets)]
        entries += [("not_modelled", i, n.source) for i, n in enumerate(targets.not_modelled)]
        for section, i, src in entries:
            report = seeds / src.file
            if src.file not in texts:
                texts[src.file] = normalise(report.read_text(encoding="utf-8")) \
                    if report.is_file() else ""
            if not texts[src.file]:
                problems.append((shown, line_of(section, i, "source", "file"),
                                 f"{section}[{i}].source.file",
                                 f"report {src.file} not found in {seeds}"))
            elif normalise(src.quote) not in texts[src.file]:
                problems.append((shown, line_of(section, i, "source", "quote"),
                                 f"{section}[{i}].source.quote",
                                 f"quote not found in {src.file}: {src.quote[:60]!r}"))
    if problems:
        raise ScenarioError(problems)
    return targets, scenario, path


# --------------------------------------------------------------------------- search


def current_values(scenario: Scenario, targets: Targets) -> list[float]:
    """The scenario's present value of each free parameter, clipped into its bounds."""
    raw = scenario.model_dump(mode="python", by_alias=True)
    return [min(max(float(get_parameter(raw, fp.path)), fp.low), fp.high)
            for fp in targets.free_parameters]


def simulate_point(scenario: Scenario, values: dict[str, float], keys: list[str],
                   seed: int, reps: int) -> dict[str, list[float]]:
    """Per-replication values at ``values`` of each key (``metric``: mean over the reporting
    years; ``metric@year``: that reporting year), on replications ``0..reps-1`` of
    ``seed`` (common random numbers for every point)."""
    from ..execute.runner import run_replication

    sc = with_parameters(scenario, values)
    out: dict[str, list[float]] = {k: [] for k in keys}
    for rep in range(reps):
        for k, v in key_values(run_replication(sc, seed, rep)["yearly"], keys).items():
            out[k].append(v)
    return out


def _point_task(args: tuple[Scenario, dict[str, float], list[str], int, int]
                ) -> dict[str, list[float]] | str:
    try:
        return simulate_point(*args)
    except (ValidationError, PolicyError) as exc:  # a combination the scenario rejects
        return f"invalid: {exc}".splitlines()[0]


def loss_value(per_rep: dict[str, list[float]] | str, targets: list[Target]) -> float:
    """Mean squared scaled error over ``targets`` of the replication means."""
    if isinstance(per_rep, str):
        return 1e6
    total = 0.0
    for t in targets:
        vals = [v for v in per_rep.get(t.key, []) if not math.isnan(v)]
        if not vals:
            total += 100.0
            continue
        z = (sum(vals) / len(vals) - t.value) / t.tolerance
        total += z * z
    return total / max(1, len(targets))


class EvaluationCache:
    """Every evaluated point, appended to a JSON-lines file as soon as it finishes.

    The search is deterministic given its seed and the losses it sees, so a rerun
    replays the cached points instantly and continues where it stopped.
    """

    def __init__(self, path: Path, fresh: bool = False) -> None:
        import json

        self.path = path
        self.points: dict[tuple[str, ...], dict[str, list[float]] | str] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that point is simply rerun
                self.points[tuple(row["x"])] = row["result"]
        self.replayed = 0

    @staticmethod
    def key(x: Any) -> tuple[str, ...]:
        """Exact key of a point (hex floats)."""
        return tuple(float(v).hex() for v in x)

    def add(self, x: Any, result: dict[str, list[float]] | str) -> None:
        """Record a finished point (one line, flushed)."""
        import json

        k = self.key(x)
        self.points[k] = result
        with self.path.open("a") as f:
            f.write(json.dumps({"x": list(k), "result": result}) + "\n")
            f.flush()
            os.fsync(f.fileno())


def calibrate(targets_path: str | Path, reps: int | None = None, workers: int = 1,
              max_evaluations: int | None = None, fresh: bool = False,
              progress: Any = None, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Fit the free parameters of a targets file by differential evolution.

    :param reps: replications per point (default: the file's ``reps``).
    :param workers: processes evaluating points in parallel.
    :param fresh: forget cached evaluations and start again.
    :param progress: called as ``progress(evaluations_done, budget, best_loss)``.
    :param out_dir: where fits are written (default ``calibration/fitted`` beside the
        targets folder); its ``.cache`` holds the evaluations that make a rerun resume.
    :returns: the fit: parameters, loss, evaluations, seconds, and the final check.
    """
    import time

    import numpy as np
    from scipy.optimize import differential_evolution

    from ..execute.pool import imap_unordered

    targets, scenario, path = load_targets(targets_path)
    reps = reps or targets.reps
    budget = max_evaluations or targets.max_evaluations
    fitted = targets.fitted()
    metrics = sorted({t.key for t in targets.targets})
    names = [fp.path for fp in targets.free_parameters]
    bounds = [(fp.low, fp.high) for fp in targets.free_parameters]
    out = Path(out_dir) if out_dir else default_out_dir(path)
    cache = EvaluationCache(out / ".cache" / f"{targets.area}-s{targets.seed}-r{reps}.jsonl",
                            fresh=fresh)
    popsize = max(2, min(8, 24 // len(names)))
    pop = popsize * len(names)
    maxiter = max(1, budget // pop - 1)
    state = {"evals": 0, "best": math.inf}
    t0 = time.perf_counter()

    def evaluate_many(func: Any, xs: Any) -> list[float]:
        xs = [np.asarray(x, dtype=float) for x in xs]
        results: list[Any] = [None] * len(xs)
        todo = []
        for i, x in enumerate(xs):
            hit = cache.points.get(cache.key(x))
            if hit is not None:
                results[i] = hit
                cache.replayed += 1
            else:
                todo.append(i)
        args = [(scenario, dict(zip(names, map(float, xs[i]), strict=True)), metrics,
                 targets.seed, reps) for i in todo]
        if workers > 1:
            outs: Any = ((todo[k], res) for k, res in imap_unordered(_point_task, args,
                                                                       workers))
        else:
            outs = zip(todo, map(_point_task, args), strict=True)
        for i, res in outs:  # each point is cached as soon as it finishes
            cache.add(xs[i], res)
            results[i] = res
        losses = [loss_value(r, fitted) for r in results]
        state["evals"] += len(xs)
        state["best"] = min([state["best"], *losses])
        if progress:
            progress(state["evals"], budget, state["best"])
        return losses

    result = differential_evolution(
        lambda x: 0.0, bounds, seed=targets.seed, popsize=popsize, maxiter=maxiter,
        init="latinhypercube", x0=current_values(scenario, targets), polish=False,
        updating="deferred", workers=evaluate_many, tol=1e-3,
    )

    best = dict(zip(names, map(float, result.x), strict=True))
    at_best = cache.points.get(cache.key(result.x))
    search_means = {}
    if isinstance(at_best, dict):
        for m, vals in at_best.items():
            ok = [v for v in vals if not math.isnan(v)]
            search_means[m] = sum(ok) / len(ok) if ok else math.nan
    return {
        "search_means": search_means,
        "targets": targets, "scenario": scenario, "path": path, "parameters": best,
        "loss": float(result.fun), "evaluations": state["evals"],
        "replayed": cache.replayed, "seconds": time.perf_counter() - t0, "reps": reps,
        "search_reps": reps,
        "out_dir": out,
    }


def default_out_dir(targets_path: Path) -> Path:
    """``calibration/fitted`` for ``calibration/targets/<area>.yaml``."""
    return targets_path.parent.parent / "fitted"


# --------------------------------------------------------------------------- fit report


def check_fit(scenario: Scenario, targets: Targets, parameters: dict[str, float],
              reps: int, seed: int | None = None) -> list[dict[str, Any]]:
    """Every target against the simulated mean and its 95% CI at ``parameters``.

    Uses replications ``0..reps-1`` of ``seed`` (default: the targets file's seed).
    """
    from ..stats import t_interval

    keys = sorted({t.key for t in targets.targets})
    per_rep = simulate_point(scenario, parameters, keys,
                             targets.seed if seed is None else seed, reps)
    rows = []
    for t in targets.targets:
        mean, _, lo, hi, n = t_interval(per_rep[t.key])
        error = mean - t.value
        rows.append({
            "name": t.name, "metric": t.metric, "key": t.key, "period": t.period,
            "held_out": t.held_out,
            "target": t.value, "tolerance": t.tolerance, "simulated": mean, "ci_low": lo,
            "ci_high": hi, "reps": n, "error": error,
            "scaled_error": error / t.tolerance if not math.isnan(mean) else math.nan,
            "within": bool(abs(error) <= t.tolerance) if not math.isnan(mean) else False,
            "note": t.note, "quote": t.source.quote, "file": t.source.file,
        })
    return rows


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
    import datetime as dt

    import yaml

    from .. import __version__

    targets: Targets = fit["targets"]
    area = targets.area
    out_dir.mkdir(parents=True, exist_ok=True)
    fitted_rows = [r for r in rows if not r["held_out"]]
    held = [r for r in rows if r["held_out"]]
    doc = {
        "area": area,
        "targets_file": f"calibration/targets/{area}.yaml",
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


def _fmt(x: float, metric: str) -> str:
    from ..metrics import format_value

    return format_value(x, METRICS.get(metric, {}).get("unit", ""))


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
            sim = (f"{_fmt(r['simulated'], r['metric'])} ({_fmt(r['ci_low'], r['metric'])}"
                   f" to {_fmt(r['ci_high'], r['metric'])})")
            note = r["note"] or ("" if r["within"] else "**miss not explained**")
            lines.append(
                f"| {r['name']} | `{r['metric']}` | {_fmt(r['target'], r['metric'])} | "
                f"±{_fmt(r['tolerance'], r['metric'])} | {sim} | "
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
