"""Loading a sweep file: every check that would otherwise stop a sweep part-way (the
base scenario, parameter paths that hold numbers, known metrics kept once, a design
small enough to build, every point a valid scenario) is made before anything runs, each
problem named by file, line and key.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import (
    ValidationError,
)

from ..metrics import unknown_metric
from ..scenario import (
    PolicyError,
    Scenario,
    ScenarioError,
    describe_error,
    get_parameter,
    load_model_file,
    load_referenced_scenario,
    resolved_yaml,
    set_parameter,
    with_parameters,
)
from .spec import (
    MAX_POINTS,
    MAX_RUNS,
    SCAN_VALUES,
    Sweep,
    SweepPlan,
    design_values,
    unit_design,
)

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
    err = exc.errors()[0]
    return f"{'.'.join(map(str, err['loc']))}: {describe_error(err, tuple(err['loc']))}"


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


