"""External validation: the model's emergent behaviour against published figures it was
never fitted to (``calibration/validation/england.yaml``), for ``treatsim validate-model``.

Each figure of the validation file names, under ``model:``, the measure of
:mod:`.validation_measures` it is compared with. Every area baseline is run for
``reps`` replications of its own reporting years, with the follow-up after them extended
to the longest window any figure needs; each measure is computed per replication and
summarised as the mean with a 95% t-interval over replications. *All areas* is, per
replication, the unweighted mean of the areas' values (areas without a value in that
replication left out), with the t-interval over replications. A figure is *within* when
its published value lies inside the model's 95% CI, or, when it gives an interval, that
interval overlaps the CI (``compare`` can make it a one-sided bound or an order of
magnitude instead).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ..execute.executors import Executor, map_unordered
from ..model import simulate
from ..scenario import (
    MAX_FOLLOW_UP_DAYS,
    Scenario,
    ScenarioError,
    Strict,
    load_model_file,
    load_scenario,
)
from ..stats import t_interval
from .targets import Targets
from .validation_cohorts import Replication
from .validation_measures import ModelSpec, measure_value

__all__ = ["AREAS", "DEFAULT_FILE", "Figure", "ValidationFile", "ValidationRun",
           "area_scenario", "describe", "extended", "load_validation", "local_targets",
           "run_validation", "summary_rows", "within"]

AREAS = ("east_sussex", "gateshead", "hampshire", "middlesbrough", "rotherham")
"""The calibrated area baselines (``scenarios/<area>.yaml``)."""
DEFAULT_FILE = Path("calibration/validation/england.yaml")
ALL_AREAS = "all areas"
COLUMNS = ("figure", "figure_text", "area", "measure", "model_mean", "ci_low", "ci_high", "n",
           "published", "published_low", "published_high", "unit", "compare", "within",
           "local_target", "source", "note")
"""Columns of ``validation.csv``, one row per figure and area."""
Compare = Literal["interval", "upper_bound", "lower_bound", "order_of_magnitude"]


class Figure(Strict):
    """One published figure, where it comes from, and the model measure it is held to."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    figure: str
    value: float
    interval: list[float] | None = Field(default=None, min_length=2, max_length=2)
    unit: str
    setting: str = ""
    source: str
    url: str = ""
    quote: str = ""
    notes: str = ""
    model: ModelSpec | None = None
    compare: Compare = "interval"

    @model_validator(mode="after")
    def _ordered(self) -> Figure:
        if self.interval and self.interval[0] > self.interval[1]:
            raise ValueError(f"interval: low {self.interval[0]:g} is above high "
                             f"{self.interval[1]:g}")
        return self

    @property
    def modelled(self) -> bool:
        """True when the model computes a value for it."""
        return self.model is not None and self.model.measure != "not_modelled"


class ValidationFile(Strict):
    """A whole validation file: the figures."""

    figures: list[Figure] = Field(min_length=1, max_length=1_000)

    @model_validator(mode="after")
    def _unique(self) -> ValidationFile:
        names = [f.name for f in self.figures]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"figures: the name {dup[0]!r} is used twice")
        return self

    def follow_up_days(self) -> float:
        """Days of follow-up after the reporting years that the longest window needs."""
        return min(MAX_FOLLOW_UP_DAYS, max([f.model.window_days for f in self.figures
                                            if f.model and f.modelled] + [0.0]))


def load_validation(path: str | Path) -> ValidationFile:
    """Load and check a validation file.

    :raises ScenarioError: naming file, line and key of every problem.
    """
    return load_model_file(Path(path), ValidationFile)[0]


def area_scenario(area: str) -> Scenario:
    """The baseline of ``area``: ``scenarios/<area>.yaml`` (from the working folder), or
    a scenario file's path. :raises ScenarioError: when it is missing or invalid."""
    path = Path(area) if area.endswith((".yaml", ".yml")) or "/" in area \
        else Path("scenarios") / f"{area}.yaml"
    if not path.is_file():
        raise ScenarioError([(str(path), None, "", f"no scenario file for the area "
                              f"{area!r}; give an area name ({', '.join(AREAS)}) or a "
                              f"scenario file")])
    return load_scenario(path)


def extended(scenario: Scenario, follow_up_days: float) -> Scenario:
    """``scenario`` with ``run.follow_up_days`` raised to ``follow_up_days`` (days) if it
    is shorter; its reporting years are unchanged. Validated again."""
    if scenario.run.follow_up_days >= follow_up_days:
        return scenario
    raw = scenario.model_dump(mode="python", by_alias=True)
    raw["run"]["follow_up_days"] = float(follow_up_days)
    return type(scenario).model_validate(raw)


@dataclass
class ValidationRun:
    """Every measure of every replication: ``values[figure]`` is an array (area, rep)."""

    areas: list[str]
    reps: int
    follow_up_days: float
    seeds: dict[str, int]
    values: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    executor: str = "serial"


def _replicate(shared: tuple[list[Scenario], list[tuple[str, ModelSpec]]],
               item: tuple[int, int]) -> dict[str, float]:
    """Every measure of replication ``rep`` of area ``area`` (for any executor)."""
    scenarios, specs = shared
    area, rep = item
    scenario = scenarios[area]
    records = Replication(simulate(scenario, scenario.run.seed, rep))
    return {name: measure_value(records, spec) for name, spec in specs}


def run_validation(vf: ValidationFile, scenarios: list[Scenario], reps: int = 10,
                   executor: Executor | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ValidationRun:
    """Run ``reps`` replications (numbers 0.., each area's own seed) of every scenario,
    extended to the follow-up the figures need, and compute every modelled measure.

    :param progress: called as ``progress(done, total)`` after each replication.
    :raises ItemFailed: when a replication raises, naming it.
    """
    t0 = time.perf_counter()
    follow = vf.follow_up_days()
    runs = [extended(s, follow) for s in scenarios]
    specs = [(f.name, f.model) for f in vf.figures if f.model is not None and f.modelled]
    out = ValidationRun([s.name for s in scenarios], reps, follow,
                        {s.name: s.run.seed for s in scenarios})
    out.values = {name: np.full((len(runs), reps), np.nan) for name, _ in specs}
    items = [(a, r) for r in range(reps) for a in range(len(runs))]
    executor = executor or Executor()
    for done, (index, values) in enumerate(map_unordered(_replicate, (runs, specs), items,
                                                         executor), start=1):
        area, rep = items[index]
        for name, v in values.items():
            out.values[name][area, rep] = v
        if progress:
            progress(done, len(items))
    out.seconds, out.executor = time.perf_counter() - t0, executor.describe()
    return out


def within(fig: Figure, low: float, high: float) -> str:
    """``yes`` / ``no`` by ``fig.compare`` against the model's 95% CI [low, high], or
    ``n/a`` when the model has no interval (an empty cohort, or one replication)."""
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    value = fig.value
    if fig.compare == "upper_bound":
        return "yes" if low <= value else "no"
    if fig.compare == "lower_bound":
        return "yes" if high >= value else "no"
    lo, hi = (fig.interval if fig.interval and fig.compare == "interval" else (value, value))
    if fig.compare == "order_of_magnitude":
        lo, hi = value / math.sqrt(10), value * math.sqrt(10)
    return "yes" if low <= hi and high >= lo else "no"


def local_targets(validation_file: Path, areas: list[str]) -> dict[str, dict[str, str]]:
    """Per area, each metric of its calibration targets file (``fitted`` or ``held out``),
    from ``../targets/<area>.yaml`` beside the validation file; an area without a
    readable targets file has none."""
    out: dict[str, dict[str, str]] = {}
    for area in areas:
        path = validation_file.parent.parent / "targets" / f"{area}.yaml"
        out[area] = {}
        try:
            targets = load_model_file(path, Targets)[0] if path.is_file() else None
        except ScenarioError:
            targets = None
        for t in targets.targets if targets else []:
            if out[area].get(t.metric) != "fitted":
                out[area][t.metric] = "held out" if t.held_out else "fitted"
    return out


def _local(fig: Figure, areas: list[str], targets: dict[str, dict[str, str]]) -> str:
    """Which areas' calibrations fitted (or held out) a metric measuring what ``fig`` does."""
    assert fig.model is not None
    metrics = set(fig.model.fitted_metrics) | ({str(fig.model.name)}
                                                if fig.model.measure == "metric" else set())
    found = []
    for area in areas:
        for use in ("fitted", "held out"):
            hit = sorted(m for m in metrics if targets.get(area, {}).get(m) == use)
            if hit:
                found.append(f"{use} in {area}: {', '.join(hit)}")
    return "; ".join(found)


def describe(spec: ModelSpec) -> str:
    """The measure and its settings, as one short text."""
    sets = spec.model_dump(exclude_defaults=True, exclude={"measure", "fitted_metrics", "note"})
    words = [f"{key} {_word(value)}" for key, value in sets.items()]
    return spec.measure + (f" ({', '.join(words)})" if words else "")


def _word(value: Any) -> str:
    """A setting's value as text: lists joined by /, numbers short, true/false."""
    if isinstance(value, list):
        return "/".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def summary_rows(vf: ValidationFile, run: ValidationRun,
                 targets: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """The result table: a row per modelled figure and area, an *all areas* row when
    there are several, and one row for each figure the model does not produce."""
    rows = []
    for fig in vf.figures:
        base = {"figure": fig.name, "figure_text": fig.figure, "published": fig.value,
                "published_low": fig.interval[0] if fig.interval else math.nan,
                "published_high": fig.interval[1] if fig.interval else math.nan,
                "unit": fig.unit, "compare": fig.compare, "source": fig.source}
        if not fig.modelled or fig.model is None:
            reason = fig.model.reason if fig.model else "no model: mapping in the file yet"
            rows.append({**base, "area": "", "measure": "not_modelled", "model_mean": math.nan,
                         "ci_low": math.nan, "ci_high": math.nan, "n": 0,
                         "within": "not modelled", "local_target": "", "note": reason})
            continue
        values = run.values[fig.name]
        groups = [(a, values[i]) for i, a in enumerate(run.areas)]
        if len(run.areas) > 1:
            with np.errstate(all="ignore"):
                groups.append((ALL_AREAS, np.array([_nanmean(values[:, r])
                                                    for r in range(values.shape[1])])))
        for area, x in groups:
            mean, _, low, high, n = t_interval(x)
            rows.append({**base, "area": area, "measure": describe(fig.model),
                         "model_mean": mean, "ci_low": low, "ci_high": high, "n": n,
                         "within": within(fig, low, high),
                         "local_target": _local(fig, run.areas if area == ALL_AREAS
                                                else [area], targets or {}),
                         "note": fig.model.note if n else "no cohort in any replication"})
    return rows


def _nanmean(x: np.ndarray) -> float:
    kept = x[~np.isnan(x)]
    return float(kept.mean()) if len(kept) else math.nan
