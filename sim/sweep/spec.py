"""A sweep file's settings (the parameters, the design, the metrics kept), the plan a
loaded sweep becomes, and its design points.

A sweep file (``scenarios/sweeps/*.yaml``) names a base scenario, the parameters to vary
(dotted scenario paths, each a ``range``, a list of ``levels`` or a ``distribution``), a
design (full ``grid``, Latin hypercube ``lhs``, ``sobol`` (Saltelli's scheme) or
``morris``), replications per point, a seed and the metrics to keep.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy import stats

from ..scenario import (
    MAX_REPLICATIONS,
    MAX_SEED,
    NAME_PATTERN,
    Scenario,
    Strict,
)

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


class ParameterDistribution(Strict):
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
    def _complete(self) -> ParameterDistribution:
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
    distribution: ParameterDistribution | None = None
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

# --------------------------------------------------------------------------- designs


def salib_problem(names: list[str]) -> dict[str, Any]:
    """The SALib problem of a design over ``names``, each in the unit interval [0, 1]:
    designs are drawn, and their indices estimated, on the unit hypercube."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def unit_design(sweep: Sweep) -> np.ndarray:
    """Points of the design in the unit hypercube, shape (points, parameters)."""
    d = sweep.design
    problem = salib_problem([p.path for p in sweep.parameters])
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
