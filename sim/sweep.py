"""Batch sweeps: a design of parameter points, replications of each, one row per run.

A sweep file (``scenarios/sweeps/*.yaml``) names a base scenario, the parameters to vary
(dotted scenario paths, each a ``range``, a list of ``levels`` or a ``distribution``), a
design (full ``grid``, Latin hypercube ``lhs``, ``sobol`` (Saltelli's scheme) or
``morris``), replications per point, a seed and the metrics to keep.

Every point runs replications ``0..R-1`` of the same seed, so points are compared on
common random numbers (a person's draws do not change with the parameters), which is
what makes differences between points, and so the sensitivity indices, less noisy.

A run is a pure function of ``(base scenario, parameter values, seed, replication)``:
whichever executor runs it (this process, a process pool or a Dask cluster), its row is
the same. The sweep's folder is written by :mod:`sim.store` (one Parquet file per
finished run, so an interrupted sweep keeps every finished run and resumes).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy import stats

from .metrics import key_values, unknown_metric
from .scenario import (
    MAX_REPLICATIONS,
    MAX_SEED,
    NAME_PATTERN,
    PolicyError,
    Scenario,
    ScenarioError,
    Strict,
    get_parameter,
    load_model_file,
    load_referenced_scenario,
    resolved_yaml,
    set_parameter,
    with_parameters,
)

__all__ = ["Sweep", "SweepPlan", "load_sweep", "run_sweep", "run_one", "RunFailed"]

UNBOUNDED_TAIL = 0.001
"""Unbounded distributions are cut at this quantile and its mirror (0.1% and 99.9%)."""
MAX_POINTS = 100_000
"""Most design points of a sweep (validating each takes about 0.05 ms a parameter)."""
MAX_RUNS = 1_000_000
"""Most runs (points x replications) of a sweep."""
SCAN_VALUES = 2_000
"""Each parameter's values are checked one by one up to this many; beyond, only its
extremes are, and every point as a whole."""
METRIC_KEY = re.compile(r"^[a-z0-9_]+(@[1-9][0-9]{0,3})?$")
"""A kept metric: a name, or ``name@year`` with a reporting year 1, 2, ... (ASCII)."""


def _metric_syntax(key: str) -> str:
    if not METRIC_KEY.match(key):
        raise ValueError("a metric is a name from the metrics list, or name@year for a "
                         "reporting year (name@1 is the first), lower-case letters, digits "
                         f"and _ only; got {key[:60]!r}")
    return key


class Distribution(Strict):
    """A distribution to draw a parameter from (sampling designs only).

    ``uniform`` and ``loguniform`` need ``low`` and ``high``; ``triangular`` needs
    ``low``, ``mode`` and ``high``; ``normal`` needs ``mean`` and ``sd`` and may be cut to
    ``[low, high]``; ``lognormal`` needs ``mean`` and ``sd`` (of the value itself, not its
    log). Unbounded distributions are cut at their 0.1% and 99.9% quantiles.
    """

    dist: Literal["uniform", "loguniform", "triangular", "normal", "lognormal"]
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        needs = {"uniform": ("low", "high"), "loguniform": ("low", "high"),
                 "triangular": ("low", "mode", "high"), "normal": ("mean", "sd"),
                 "lognormal": ("mean", "sd")}[self.dist]
        allowed = set(needs) | ({"low", "high"} if self.dist == "normal" else set())
        given = {k for k in ("low", "high", "mode", "mean", "sd") if getattr(self, k) is not None}
        missing = [k for k in needs if k not in given]
        if missing:
            raise ValueError(f"a {self.dist} distribution needs {', '.join(needs)}; "
                             f"missing {', '.join(missing)}")
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"a {self.dist} distribution does not take {', '.join(extra)}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"empty range: low {self.low:g} must be below high {self.high:g}")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise ValueError("mode must lie between low and high")
        if self.dist == "loguniform" and self.low <= 0:  # type: ignore[operator]
            raise ValueError("a loguniform distribution needs low above 0")
        if self.dist == "lognormal" and self.mean <= 0:  # type: ignore[operator]
            raise ValueError("a lognormal distribution needs a mean above 0")
        return self

    def frozen(self) -> Any:
        """The scipy.stats frozen distribution."""
        lo, hi = self.low, self.high
        if self.dist == "uniform":
            return stats.uniform(lo, hi - lo)  # type: ignore[operator]
        if self.dist == "loguniform":
            return stats.loguniform(lo, hi)
        if self.dist == "triangular":
            return stats.triang((self.mode - lo) / (hi - lo), lo, hi - lo)  # type: ignore[operator]
        if self.dist == "normal":
            a = -math.inf if lo is None else (lo - self.mean) / self.sd  # type: ignore[operator]
            b = math.inf if hi is None else (hi - self.mean) / self.sd  # type: ignore[operator]
            return stats.truncnorm(a, b, self.mean, self.sd)
        sigma2 = math.log(1 + (self.sd / self.mean) ** 2)  # type: ignore[operator]
        return stats.lognorm(math.sqrt(sigma2), scale=self.mean * math.exp(-sigma2 / 2))  # type: ignore[operator]

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Values at unit-interval positions ``u`` (the inverse CDF)."""
        u = np.clip(u, UNBOUNDED_TAIL, 1 - UNBOUNDED_TAIL) if self._unbounded() else u
        return np.asarray(self.frozen().ppf(u), dtype=float)

    def _unbounded(self) -> bool:
        return self.dist == "lognormal" or (self.dist == "normal"
                                            and (self.low is None or self.high is None))


class Parameter(Strict):
    """One parameter to vary: a dotted scenario path and exactly one of ``range``,
    ``levels`` or ``distribution``.

    A ``range`` is uniform for sampling designs; a grid takes ``points`` evenly spaced
    values across it. Where the base scenario holds a whole number, values are rounded.
    """

    path: str = Field(min_length=1)
    range: list[float] | None = Field(default=None, max_length=2)
    points: int | None = Field(default=None, ge=2, le=MAX_POINTS,
                               description="grid values across a range")
    levels: list[float] | None = Field(default=None, max_length=MAX_POINTS)
    distribution: Distribution | None = None
    label: str = ""

    @field_validator("range")
    @classmethod
    def _range(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if len(v) != 2:
                raise ValueError(f"a range is [low, high], got {len(v)} value(s)")
            if not v[0] < v[1]:
                raise ValueError(f"empty range: low {v[0]:g} must be below high {v[1]:g}")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if not v:
                raise ValueError("levels is empty; give at least one value")
            if len(set(v)) != len(v):
                raise ValueError("levels repeat a value")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        kinds = [k for k in ("range", "levels", "distribution") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of range, levels or distribution, got "
                             + (", ".join(kinds) or "none"))
        if self.points is not None and self.range is None:
            raise ValueError("points is only used with a range")
        return self

    def values(self, u: np.ndarray) -> np.ndarray:
        """Parameter values at unit-interval positions ``u`` (sampling designs)."""
        if self.range is not None:
            return self.range[0] + u * (self.range[1] - self.range[0])
        if self.levels is not None:
            idx = np.minimum((u * len(self.levels)).astype(int), len(self.levels) - 1)
            return np.asarray(self.levels, dtype=float)[idx]
        assert self.distribution is not None
        return self.distribution.ppf(u)

    def grid_values(self) -> list[float]:
        """The values a full grid takes."""
        if self.levels is not None:
            return list(self.levels)
        assert self.range is not None and self.points is not None
        return [float(v) for v in np.linspace(self.range[0], self.range[1], self.points)]


class Design(Strict):
    """How points are chosen.

    - ``grid``: every combination of each parameter's levels (or ``points`` across a range);
    - ``lhs``: ``samples`` points of a Latin hypercube;
    - ``sobol``: Saltelli's scheme for Sobol indices, ``samples`` (a power of 2) base
      points giving ``samples × (D + 2)`` points, or ``samples × (2D + 2)`` with
      ``second_order``;
    - ``morris``: ``samples`` trajectories of ``D + 1`` points on ``levels`` levels.
    """

    method: Literal["grid", "lhs", "sobol", "morris"]
    samples: int | None = Field(default=None, ge=2, le=MAX_POINTS)
    levels: int | None = Field(default=None, ge=2, le=1_000,
                               description="morris grid levels (default 4)")
    second_order: bool = False

    @property
    def morris_levels(self) -> int:
        """Grid levels of a Morris design (4 unless ``levels`` says otherwise)."""
        return self.levels or 4

    @field_validator("samples")
    @classmethod
    def _power_of_two(cls, v: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("method") == "sobol" and v is not None and v & (v - 1):
            raise ValueError(f"a sobol design needs samples to be a power of 2 (say "
                             f"{1 << (v - 1).bit_length()}), got {v}")
        return v

    @model_validator(mode="after")
    def _fits_method(self) -> Design:
        if self.method == "grid" and self.samples is not None:
            raise ValueError("a grid takes no samples: its points are every combination")
        if self.method != "grid" and self.samples is None:
            raise ValueError(f"a {self.method} design needs samples")
        if self.levels is not None and self.method != "morris":
            raise ValueError("levels is only used by a morris design")
        if self.second_order and self.method != "sobol":
            raise ValueError("second_order is only used by a sobol design")
        return self


class Sweep(Strict):
    """A whole sweep file."""

    name: str = Field(pattern=NAME_PATTERN,
                      description="letters, digits, _ and - (it names the sweep's folder)")
    description: str = ""
    scenario: str = Field(description="the base scenario, relative to this file")
    design: Design
    parameters: list[Parameter] = Field(min_length=1, max_length=100)
    replications: int = Field(default=2, ge=1, le=MAX_REPLICATIONS, description="per point")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED,
                             description="default: the scenario's")
    metrics: list[Annotated[str, AfterValidator(_metric_syntax)]] = Field(
        min_length=1, max_length=1_000, description="metric, or metric@year")

    @model_validator(mode="after")
    def _checks(self) -> Sweep:
        paths = [p.path for p in self.parameters]
        dup = sorted({p for p in paths if paths.count(p) > 1})
        if dup:
            raise ValueError(f"parameters: {dup[0]!r} is listed twice")
        return self


@dataclass(frozen=True)
class SweepPlan:
    """A loaded sweep: the file's settings, the base scenario and every point.

    ``unit`` holds each point's position in the unit hypercube (what SALib sees);
    ``values`` the parameter values a run uses (rounded where the scenario holds whole
    numbers).
    """

    sweep: Sweep
    base: Scenario
    seed: int
    unit: np.ndarray
    values: np.ndarray
    source: str
    digest: str

    @property
    def names(self) -> list[str]:
        """The parameters' dotted paths, in file order."""
        return [p.path for p in self.sweep.parameters]

    @property
    def points(self) -> int:
        """Number of design points."""
        return int(self.values.shape[0])

    def point_values(self, point: int) -> dict[str, float]:
        """Parameter values of one point."""
        return {n: float(v) for n, v in zip(self.names, self.values[point], strict=True)}

    def runs(self) -> list[tuple[int, int]]:
        """Every run as ``(point, replication)``, in order."""
        return [(p, r) for p in range(self.points) for r in range(self.sweep.replications)]

    def problem(self) -> dict[str, Any]:
        """The SALib problem over the unit hypercube."""
        return {"num_vars": len(self.names), "names": self.names,
                "bounds": [[0.0, 1.0]] * len(self.names)}


# --------------------------------------------------------------------------- designs


def unit_design(sweep: Sweep) -> np.ndarray:
    """Points of the design in the unit hypercube, shape (points, parameters)."""
    d = sweep.design
    problem = {"num_vars": len(sweep.parameters), "names": [p.path for p in sweep.parameters],
               "bounds": [[0.0, 1.0]] * len(sweep.parameters)}
    seed = 0 if sweep.seed is None else sweep.seed
    if d.method == "grid":
        axes = []
        for p in sweep.parameters:
            n = len(p.grid_values())
            axes.append([0.5] if n == 1 else [i / (n - 1) for i in range(n)])
        return np.array(list(itertools.product(*axes)), dtype=float)
    if d.method == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, d.samples, seed=seed)
    if d.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, d.samples, calc_second_order=d.second_order, seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, d.samples, num_levels=d.morris_levels, seed=seed)


def design_values(sweep: Sweep, unit: np.ndarray, integer: list[bool]) -> np.ndarray:
    """Parameter values at the unit points (grids take each parameter's exact values)."""
    if sweep.design.method == "grid":
        grids = [p.grid_values() for p in sweep.parameters]
        values = np.array(list(itertools.product(*grids)), dtype=float)
    else:
        values = np.column_stack([p.values(unit[:, j]) for j, p in enumerate(sweep.parameters)])
    for j, whole in enumerate(integer):
        if whole:
            values[:, j] = np.round(values[:, j])
    return values


# --------------------------------------------------------------------------- loading

def load_sweep(path: str | Path) -> SweepPlan:
    """Load and check a sweep file and build its design.

    Checks that the base scenario loads, that every parameter path exists and holds a
    number, that every metric is known (and kept once), that the design is not too big
    to build (:data:`MAX_POINTS`, :data:`MAX_RUNS`), and that every point of the design
    gives a valid scenario, so a sweep never stops part-way on bad input.

    :raises ScenarioError: naming file, line and key of every problem found.
    """
    path = Path(path)
    sweep, line_of, shown = load_model_file(path, Sweep)
    base = load_referenced_scenario(path, sweep.scenario, line_of, shown)
    problems = _metric_problems(sweep, base, shown, line_of)
    found, integer = _parameter_problems(sweep, base, shown, line_of)
    problems += found
    if not problems:
        problems = _size_problems(sweep, shown, line_of)
    if problems:
        raise ScenarioError(problems)
    seed = base.run.seed if sweep.seed is None else sweep.seed
    unit = unit_design(sweep.model_copy(update={"seed": seed}))
    values = design_values(sweep, unit, integer)
    _check_points(sweep, base, values, shown, line_of)
    plan = SweepPlan(sweep=sweep, base=base, seed=seed, unit=unit, values=values,
                     source=str(path), digest="")
    return dataclasses.replace(plan, digest=plan_digest(plan))


Problem = tuple[str, int | None, str, str]


def _metric_problems(sweep: Sweep, base: Scenario, shown: str,
                     line_of: Callable[..., int | None]) -> list[Problem]:
    """Unknown metrics, years that are not reporting years, metrics kept twice."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, key in enumerate(sweep.metrics):
        where = (shown, line_of("metrics", i), f"metrics[{i}]")
        metric, _, year = key.partition("@")
        if key in first:
            problems.append((*where, f"{key!r} is listed twice (first as metrics[{first[key]}])"))
        elif unknown_metric(metric):
            problems.append((*where, unknown_metric(metric)))
        elif year and not 1 <= int(year) <= base.run.years:
            problems.append((*where, f"the year after @ must be a reporting year, 1 to "
                             f"{base.run.years}, got {year!r}"))
        first.setdefault(key, i)
    clash = sorted(set(sweep.metrics) & {p.path for p in sweep.parameters})
    if clash:
        problems.append((shown, line_of("metrics"), "metrics",
                         f"{clash[0]!r} is both a parameter and a metric"))
    return problems


def _parameter_problems(sweep: Sweep, base: Scenario, shown: str,
                        line_of: Callable[..., int | None]
                        ) -> tuple[list[Problem], list[bool]]:
    """Paths that do not exist or do not hold a number, and parameter kinds that do not
    fit the design; and, per parameter, whether the scenario holds a whole number."""
    raw = base.model_dump(mode="python", by_alias=True)
    problems: list[Problem] = []
    integer = []
    for i, p in enumerate(sweep.parameters):
        where = (shown, line_of("parameters", i, "path"), f"parameters[{i}].path")
        integer.append(False)
        if p.path.split(".")[0] == "run":
            problems.append((*where, "run settings (horizon, dates, seed) are the same for "
                             "every point of a sweep; they cannot be swept"))
            continue
        try:  # the path check a run's setting of the value meets
            set_parameter(copy.deepcopy(raw), p.path, 0.0)
        except PolicyError as exc:
            problems.append((*where, str(exc.error)))
            continue
        current = get_parameter(raw, p.path)
        if isinstance(current, bool) or not isinstance(current, int | float):
            problems.append((*where, f"{p.path} holds {type(current).__name__} "
                             f"{str(current)[:40]!r}, not a number, so it cannot be swept"))
            continue
        integer[i] = isinstance(current, int)
        method = sweep.design.method
        if method == "grid" and p.distribution is not None:
            problems.append((shown, line_of("parameters", i, "distribution"),
                             f"parameters[{i}].distribution", "a grid needs levels or a "
                             "range with points, not a distribution"))
        elif method == "grid" and p.range is not None and p.points is None:
            problems.append((shown, line_of("parameters", i, "range"),
                             f"parameters[{i}].points", "a grid over a range needs points "
                             "(how many evenly spaced values)"))
        elif method != "grid" and p.points is not None:
            problems.append((shown, line_of("parameters", i, "points"),
                             f"parameters[{i}].points", f"points is only used by a grid; "
                             f"a {method} design samples the range"))
    return problems, integer


def design_size(sweep: Sweep) -> int:
    """Number of design points, counted without building the design."""
    d, n = sweep.design, len(sweep.parameters)
    if d.method == "grid":
        return math.prod(len(p.levels) if p.levels is not None else (p.points or 1)
                         for p in sweep.parameters)
    samples = d.samples or 0
    if d.method == "lhs":
        return samples
    if d.method == "sobol":
        return samples * ((2 * n + 2) if d.second_order else (n + 2))
    return samples * (n + 1)  # morris: trajectories of n + 1 points


def _size_problems(sweep: Sweep, shown: str, line_of: Callable[..., int | None]
                   ) -> list[Problem]:
    """A design too big to build or to check, or too many runs."""
    points = design_size(sweep)
    if points > MAX_POINTS:
        key = ("parameters",) if sweep.design.method == "grid" else ("design", "samples")
        return [(shown, line_of(*key), _fmt(key), f"the {sweep.design.method} design has "
                 f"{points:,} points; a sweep may have at most {MAX_POINTS:,}")]
    runs = points * sweep.replications
    if runs > MAX_RUNS:
        return [(shown, line_of("replications"), "replications", f"{points:,} points x "
                 f"{sweep.replications:,} replications = {runs:,} runs; a sweep may have "
                 f"at most {MAX_RUNS:,}")]
    return []


def _fmt(key: tuple[str, ...]) -> str:
    return ".".join(key)


def _check_points(sweep: Sweep, base: Scenario, values: np.ndarray, shown: str,
                  line_of: Callable[..., int | None]) -> None:
    """Every point must give a valid scenario (and valid policies after it).

    Each parameter alone first, so the message names the culprit: its smallest value
    that is invalid (every value up to :data:`SCAN_VALUES` of them; beyond, its
    extremes). Then every distinct point as a whole, stopping at the first bad one.
    """
    names = [p.path for p in sweep.parameters]
    problems: list[Problem] = []
    for j, (name, p) in enumerate(zip(names, sweep.parameters, strict=True)):
        kind = next(k for k in ("range", "levels", "distribution") if getattr(p, k) is not None)
        column = np.unique(values[:, j])
        if len(column) > SCAN_VALUES:
            column = np.array([column[0], column[-1]])
        for v in column:
            why = _point_problem(base, {name: float(v)})
            if why:
                problems.append((shown, line_of("parameters", j, kind), f"parameters[{j}].{kind}",
                                 f"{name} = {v:g} gives an invalid scenario: {why}"))
                break
    if problems:
        raise ScenarioError(problems)
    _, firsts = np.unique(values, axis=0, return_index=True)
    for point in sorted(firsts):
        row = values[point]
        why = _point_problem(base, dict(zip(names, map(float, row), strict=True)))
        if why:
            shown_values = ", ".join(f"{n} = {v:g}" for n, v in zip(names, row, strict=True))
            raise ScenarioError([(shown, line_of("parameters"), "parameters",
                                  f"design point {point} ({shown_values}) gives an invalid "
                                  f"scenario: {why}")])


def _point_problem(base: Scenario, values: dict[str, float]) -> str | None:
    """Why ``base`` at ``values`` is not a scenario a run accepts (its policies included),
    or None."""
    try:
        scenario = with_parameters(base, values)
        if scenario.policies:
            scenario.phases()
    except ValidationError as exc:
        return _why(exc)
    except PolicyError as exc:
        error = exc.error if isinstance(exc.error, str) else _why(exc.error)
        key = f".set.{exc.key}" if exc.key else ""
        return f"policies[{exc.index}]{key}: {error}"
    return None


def _why(exc: ValidationError) -> str:
    """The first problem of a scenario validation error, as the scenario loader says it."""
    from .scenario import _describe

    err = exc.errors()[0]
    return f"{'.'.join(map(str, err['loc']))}: {_describe(err, tuple(err['loc']))}"


def plan_digest(plan: SweepPlan) -> str:
    """SHA-256 of what decides the sweep's rows: the sweep settings (not its description
    or parameter labels), the resolved base scenario and the design's values. A folder is
    resumed only by the same digest."""
    h = hashlib.sha256()
    h.update(plan.sweep.model_dump_json(
        exclude={"description": True, "parameters": {"__all__": {"label"}}}).encode())
    h.update(resolved_yaml(plan.base).encode())
    h.update(str(plan.seed).encode())
    h.update(np.ascontiguousarray(plan.values).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- running


def run_one(base: Scenario, values: dict[str, float], seed: int, rep: int,
            keys: list[str]) -> dict[str, Any]:
    """One run: the base scenario at ``values``, replication ``rep`` of ``seed``.

    :returns: the run's row without its bookkeeping columns: the scenario hash, the
        model's event count and each kept metric (mean over the reporting years, or one
        year for ``metric@year``), in the metric's unit.
    """
    from .runner import run_replication
    from .store import scenario_hash

    scenario = with_parameters(base, values)
    out = run_replication(scenario, seed, rep)
    row: dict[str, Any] = {"scenario_sha256": scenario_hash(resolved_yaml(scenario)),
                           "events": int(out["events"])}
    row.update(key_values(out["yearly"], keys))
    return row


class RunFailed(RuntimeError):
    """A run raised an error (or its worker died twice); the finished runs are kept."""


def _execute(plan: SweepPlan, todo: list[tuple[int, int]], workers: int,
             scheduler: str | None, dask_local: int | None
             ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
    """Yield ``((point, rep), row)`` as runs finish, on the chosen executor."""
    keys = list(plan.sweep.metrics)
    if scheduler or dask_local:
        yield from _execute_dask(plan, todo, keys, scheduler, dask_local)
    elif workers <= 1:
        for point, rep in todo:
            try:
                row = run_one(plan.base, plan.point_values(point), plan.seed, rep, keys)
            except Exception as exc:  # noqa: BLE001 - raised again, saying which run failed
                import traceback

                raise RunFailed(f"run {rep} of point {point} failed:\n"
                                f"{traceback.format_exc()}") from exc
            yield (point, rep), row
    else:
        from functools import partial

        from .parallel import WorkerError, imap_unordered

        one = partial(_run_job, plan.base, plan.seed, keys)  # not a closure: pickles for spawn
        jobs = [(plan.point_values(point), rep) for point, rep in todo]
        try:
            for index, row in imap_unordered(one, jobs, workers):
                yield todo[index], row
        except WorkerError as exc:
            raise RunFailed(f"a run failed on the process pool: {exc}") from exc


def _run_job(base: Scenario, seed: int, keys: list[str], job: tuple[dict[str, float], int]
             ) -> dict[str, Any]:
    """``run_one`` of a ``(point values, rep)`` job, for the process pool."""
    values, rep = job
    return run_one(base, values, seed, rep, keys)


def _execute_dask(plan: SweepPlan, todo: list[tuple[int, int]], keys: list[str],
                  scheduler: str | None, dask_local: int | None
                  ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
    """Runs as Dask tasks on a cluster by address, or on a local cluster started here
    (``dask_local`` worker processes, one thread each). Workers need ``sim`` installed.
    A worker lost mid-task has its task rerun elsewhere by the scheduler."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        # The worker processes ignore SIGINT (they inherit that from here), so Ctrl-C at a
        # terminal stops the sweep here, which then shuts the cluster down in order.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1")
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        client = Client(cluster)
    futures = []
    try:
        base = client.scatter(plan.base, broadcast=True)
        index = {}
        for point, rep in todo:
            fut = client.submit(run_one, base, plan.point_values(point), plan.seed, rep, keys,
                                pure=False)
            index[fut.key] = (point, rep)
            futures.append(fut)
        for fut in as_completed(futures):
            point, rep = index[fut.key]
            try:
                row = fut.result()
            except (KeyboardInterrupt, OSError, TimeoutError):
                raise
            except Exception as exc:  # noqa: BLE001 - raised again, saying which run failed
                raise RunFailed(f"run {rep} of point {point} failed on the Dask cluster: "
                                f"{type(exc).__name__}: {exc}") from exc
            yield (point, rep), row
            fut.release()
    finally:
        # cancelling tasks and stopping workers part-way logs warnings that say nothing
        # about the sweep's results
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client.cancel(futures)
            client.close()
            if cluster is not None:
                cluster.close()
        finally:
            quiet.setLevel(level)


@dataclass
class SweepOutcome:
    """What a call of :func:`run_sweep` did."""

    out: Path
    total: int
    finished_before: int
    finished_now: int
    seconds: float
    complete: bool
    executor: str

    @property
    def runs_per_second(self) -> float:
        """Runs finished per second of this call."""
        return self.finished_now / self.seconds if self.seconds > 0 else math.nan


def run_sweep(plan: SweepPlan, out: str | Path, workers: int = 1, scheduler: str | None = None,
              dask_local: int | None = None, resume: bool = False,
              progress: Callable[[int, int, float], None] | None = None,
              force: bool = False) -> SweepOutcome:
    """Run every unfinished run of ``plan`` into the folder ``out``.

    Each finished run is written at once (atomically) as its own Parquet file, so
    Ctrl-C, SIGTERM or a lost worker never loses a finished run; with ``resume`` the runs
    already in ``out`` are skipped. When every run is in, the whole table is written as
    ``runs.parquet`` and ``runs.csv``.

    :param workers: processes for a local pool (1 runs in this process).
    :param scheduler: address of a Dask scheduler (``tcp://host:8786``).
    :param dask_local: start a local Dask cluster of this many worker processes.
    :param progress: called as ``progress(done, total, seconds_left)`` after each run;
        ``seconds_left`` is NaN until a run of this call has finished.
    :param force: start afresh where ``out`` holds a sweep or something else (see
        :meth:`sim.store.SweepStore.open`; nothing treatsim did not write is deleted).
    :raises SweepStoreError: when ``out`` holds another sweep, a sweep without
        ``resume`` or ``force``, or something treatsim did not write.
    """
    from .store import SweepStore

    store = SweepStore.open(out, plan, resume=resume, force=force)
    executor = ("dask " + (scheduler or f"local {dask_local}") if scheduler or dask_local
                else "serial" if workers <= 1 else f"pool {workers}")
    done = store.finished()
    todo = [r for r in plan.runs() if r not in done]
    total = len(plan.runs())
    before = total - len(todo)
    t0 = time.perf_counter()
    now = 0
    complete = False
    try:
        for (point, rep), row in _execute(plan, todo, workers, scheduler, dask_local):
            store.write_run(point, rep, row)
            now += 1
            if progress:
                elapsed = time.perf_counter() - t0
                progress(before + now, total, elapsed / now * (len(todo) - now))
        complete = True
    finally:
        seconds = time.perf_counter() - t0
        store.finish(complete=complete, executor=executor, runs=now, seconds=seconds)
    return SweepOutcome(out=Path(out), total=total, finished_before=before, finished_now=now,
                        seconds=seconds, complete=complete, executor=executor)


def sweep_json_schema() -> dict[str, Any]:
    """JSON Schema of a sweep file, for editors."""
    schema = Sweep.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "treatsim sweep"
    return schema


def sweep_manifest(plan: SweepPlan) -> dict[str, Any]:
    """What a sweep folder's ``manifest.json`` says about the sweep (its settings; the
    store adds its status and sessions)."""
    s = plan.sweep
    return {
        "format": "treatsim-sweep/1",
        "name": s.name,
        "source": plan.source,
        "digest": plan.digest,
        "scenario": plan.base.name,
        "design": {"method": s.design.method, "samples": s.design.samples,
                   "levels": s.design.morris_levels if s.design.method == "morris" else None,
                   "second_order": s.design.second_order},
        "parameters": [json.loads(p.model_dump_json(exclude_none=True))
                       for p in s.parameters],
        "metrics": list(s.metrics),
        "replications": s.replications,
        "seed": plan.seed,
        "points": plan.points,
        "runs": plan.points * s.replications,
    }
