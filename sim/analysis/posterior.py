"""The posterior of a calibration: a weighted set of plausible parameter sets, by ABC-SMC.

:func:`run_abc` runs pyabc's ABC-SMC on any simulator (``simulator(values, rep)`` gives
each target key's value in one replication): uniform priors on each free parameter's
``[low, high]``, and the distance of a simulation from the reported figures is the root
mean square of ``(simulated - reported) / tolerance`` over the fitted targets, so its
square is the point fit's loss (:func:`sim.analysis.calibrate.loss_value`) on one
replication. Each particle is one replication with its own number: the report is one
year of one place, so the likelihood is that of one replication, not of a mean. The
thresholds fall by the median of the last generation's distances down to ``epsilon``
(default 1: within tolerance), which is exact Bayesian inference for "reported =
simulated + an error uniform within the tolerance" (Wilkinson 2013).

Particles run through :func:`sim.execute.executors.batches` in rounds whose size and
seeds depend only on the seed, the generation and the results so far, so the posterior
is the same serially, on a process pool or on Dask. :func:`posterior_predictive`
re-simulates a sample of the accepted sets, :mod:`.posterior_plot` writes the files, and
:func:`load_posterior` reads them back.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..execute.executors import Executor, batches
from ..execute.runner import run_replication
from ..metrics import key_values
from ..scenario import PolicyError, Scenario, with_parameters
from .calibrate import INVALID_LOSS, MISSING_LOSS, default_out_dir
from .targets import Targets, load_targets

__all__ = ["AbcResult", "AbcSettings", "ModelSimulator", "Observed", "calibrate_posterior",
           "load_posterior", "observed_of", "particle_seed", "posterior_path",
           "posterior_predictive", "run_abc", "standardised_distance", "weighted_quantile"]

Simulator = Callable[[dict[str, float], int], Mapping[str, float] | None]
"""``simulator(values, rep)``: each key's value in replication ``rep`` at ``values``
(parameter path -> value), or None when the scenario rejects those values."""

REP_BASE = 1_000_000
"""Particles' replication numbers are drawn from ``[REP_BASE, 2**31)``, apart from the
``0, 1, ...`` of the point fit's check and of the posterior predictive."""


@dataclass(frozen=True)
class Observed:
    """One fitted figure: the simulated ``key`` (``metric`` or ``metric@year``), the
    reported ``value`` and its ``tolerance`` (both in the metric's unit)."""

    key: str
    value: float
    tolerance: float


@dataclass(frozen=True)
class AbcSettings:
    """An ABC-SMC run: ``particles`` accepted per generation, at most ``generations``,
    the final threshold ``epsilon`` (in tolerances), the ``seed`` and the quantile
    ``alpha`` of the last generation's distances that sets the next threshold."""

    particles: int = 200
    generations: int = 5
    epsilon: float = 1.0
    seed: int = 1
    alpha: float = 0.5


@dataclass
class AbcResult:
    """The posterior: ``frame`` (a column per parameter path, ``weight`` summing to 1,
    ``distance``), ``generations`` (``t``, ``epsilon``, ``accepted``, ``simulations``
    per generation; ``t`` -1 is pyabc's calibration sample from the prior),
    ``simulations`` in all, wall-clock ``seconds`` and pyabc's ``version``."""

    frame: pd.DataFrame
    generations: pd.DataFrame
    simulations: int
    seconds: float
    version: str


def standardised_distance(values: Mapping[str, float] | None,
                          observed: Sequence[Observed]) -> float:
    """Root mean square over ``observed`` of ``(simulated - reported) / tolerance`` (no
    unit): the square root of the point fit's loss on one replication. A missing value
    counts as the point fit counts it; rejected values (None) are far from everything."""
    if values is None:
        return math.sqrt(INVALID_LOSS)
    total = 0.0
    for o in observed:
        v = values.get(o.key, math.nan)
        total += MISSING_LOSS if math.isnan(v) else ((v - o.value) / o.tolerance) ** 2
    return math.sqrt(total / max(1, len(observed)))


class ModelSimulator:
    """The treatsim model as a :data:`Simulator`: one replication of ``scenario`` with
    the values set, read through :func:`sim.metrics.key_values` (picklable, for pools)."""

    def __init__(self, scenario: Scenario, keys: Sequence[str], seed: int) -> None:
        self.scenario, self.keys, self.seed = scenario, list(keys), seed

    def __call__(self, values: dict[str, float], rep: int) -> dict[str, float] | None:
        """Each key's value in replication ``rep`` of ``seed`` at ``values``."""
        try:
            sc = with_parameters(self.scenario, values)
        except (ValidationError, PolicyError):
            return None
        return key_values(run_replication(sc, self.seed, rep)["yearly"], self.keys)


class _PyabcModel:
    """pyabc's model: parameters ``p0, p1, ...`` -> one replication's key values, its
    number drawn from the particle's seeded global stream (pyabc's own convention)."""

    def __init__(self, simulator: Simulator, names: list[str]) -> None:
        self.simulator, self.names = simulator, names

    def __call__(self, parameter: Mapping[str, float]) -> dict[str, float]:
        values = {path: float(parameter[f"p{i}"]) for i, path in enumerate(self.names)}
        out = self.simulator(values, int(np.random.randint(REP_BASE, 2**31 - 1)))
        return {"invalid": 1.0} if out is None else {k: float(v) for k, v in out.items()}


class _Distance:
    """pyabc's distance: :func:`standardised_distance` of a simulation's key values."""

    def __init__(self, observed: Sequence[Observed]) -> None:
        self.observed = list(observed)

    def __call__(self, x: Mapping[str, float], x0: Mapping[str, float]) -> float:
        return standardised_distance(None if x.get("invalid") else x, self.observed)


def particle_seed(seed: int, t: int, index: int) -> int:
    """The seed of particle ``index`` of generation ``t`` (``t`` -1: calibration)."""
    state = np.random.SeedSequence([int(seed), int(t) + 1, int(index)]).generate_state(1)
    return int(state[0])


@functools.lru_cache(maxsize=2)
def _loads(blob: bytes) -> Any:
    import cloudpickle

    return cloudpickle.loads(blob)


def _simulate_seeded(shared: Any, seed: int) -> Any:
    """One pyabc particle (``shared`` is pyabc's ``simulate_one`` or its cloudpickle)
    with the global streams seeded from the particle's seed."""
    simulate_one = _loads(shared) if isinstance(shared, bytes) else shared
    np.random.seed(seed)
    random.seed(seed)
    return simulate_one()


def _round_size(remaining: int, accepted: int, evaluated: int, particles: int) -> int:
    """How many particles the next round simulates: the first round ``remaining``, then
    enough for the remaining at the acceptance rate so far (at most 10 populations)."""
    if evaluated == 0:
        return remaining
    if accepted == 0:
        return min(evaluated * 2, 10 * particles)
    return max(1, min(math.ceil(remaining * evaluated / accepted), 10 * particles))


def _sampler_init(self: Any, seed: int, executor: Executor,
                  progress: Callable[[int, int, int, int], Any] | None) -> None:
    type(self).__mro__[1].__init__(self)
    self.seed, self.executor, self.progress = seed, executor, progress
    self.simulations: dict[int, int] = {}


def _sample_until_n_accepted(self: Any, n: int, simulate_one: Callable[[], Any], t: int, *,
                             max_eval: float = np.inf, all_accepted: bool = False,
                             ana_vars: Any = None) -> Any:
    """pyabc's sampler method: rounds of seeded particles until ``n`` are accepted; the
    first ``n`` accepted in index order are kept, so any executor gives the same."""
    import cloudpickle

    sample = self._create_empty_sample()
    accepted = used = evaluated = 0
    shared = simulate_one if self.executor.describe() == "serial" \
        else cloudpickle.dumps(simulate_one)
    with batches(_simulate_seeded, shared, self.executor) as run:
        while accepted < n and evaluated < max_eval:
            size = int(min(_round_size(n - accepted, accepted, evaluated, n),
                           max_eval - evaluated))
            seeds = [particle_seed(self.seed, t, i) for i in range(evaluated, evaluated + size)]
            results = dict(run(seeds))
            for i in range(size):
                if accepted < n:
                    sample.append(results[i])
                    used += 1
                    accepted += bool(results[i].accepted)
            evaluated += size
            self.simulations[t] = evaluated
            if self.progress:
                self.progress(t, accepted, n, evaluated)
    self.nr_evaluations_ = used  # the particles the generation used, for its acceptance rate
    if accepted < n:
        sample.ok = False
    return sample


def _floored_update(self: Any, t: int, weighted_distances: pd.DataFrame) -> None:
    type(self).__mro__[1]._update(self, t, weighted_distances)
    self._look_up[t] = max(self._look_up[t], self.floor)


@functools.cache
def _pyabc_classes() -> tuple[type, type]:
    """The seeded batch sampler and the quantile threshold with a floor, as subclasses
    of pyabc's (made here so that pyabc, slow to import, loads only when used)."""
    import pyabc

    sampler = type("SeededBatchSampler", (pyabc.sampler.Sampler,), {
        "__init__": _sampler_init, "sample_until_n_accepted": _sample_until_n_accepted})
    epsilon = type("FlooredQuantileEpsilon", (pyabc.epsilon.QuantileEpsilon,),
                   {"_update": _floored_update})
    return sampler, epsilon


@contextmanager
def _quiet_pyabc() -> Any:
    """pyabc logs every generation at INFO; progress is reported by the caller instead.
    The global NumPy and ``random`` streams, which particles reseed, are put back."""
    log = logging.getLogger("ABC")
    level, np_state, py_state = log.level, np.random.get_state(), random.getstate()
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)
        np.random.set_state(np_state)
        random.setstate(py_state)


def run_abc(simulator: Simulator, bounds: Mapping[str, tuple[float, float]],
            observed: Sequence[Observed], settings: AbcSettings,
            executor: Executor | None = None,
            progress: Callable[[int, int, int, int], Any] | None = None) -> AbcResult:
    """ABC-SMC (pyabc) of the parameters ``bounds`` (path -> (low, high), uniform priors)
    against ``observed``; deterministic given ``settings.seed`` on every executor.

    :param progress: called as ``progress(generation, accepted, particles, simulated)``
        after each round of particles.
    """
    import pyabc

    sampler_class, epsilon_class = _pyabc_classes()
    names = list(bounds)
    prior = pyabc.Distribution(**{f"p{i}": pyabc.RV("uniform", lo, hi - lo)
                                  for i, (lo, hi) in enumerate(bounds.values())})
    epsilon = epsilon_class(alpha=settings.alpha)
    epsilon.floor = settings.epsilon
    sampler = sampler_class(settings.seed, executor or Executor(), progress)
    t0 = time.perf_counter()
    with _quiet_pyabc():
        abc = pyabc.ABCSMC(_PyabcModel(simulator, names), prior, _Distance(observed),
                           population_size=settings.particles, sampler=sampler, eps=epsilon)
        abc.new("sqlite://", {o.key: o.value for o in observed})
        history = abc.run(minimum_epsilon=settings.epsilon,
                          max_nr_populations=settings.generations)
    seconds = time.perf_counter() - t0
    particles = history.get_population(t=history.max_t).particles
    frame = pd.DataFrame({path: [float(p.parameter[f"p{i}"]) for p in particles]
                          for i, path in enumerate(names)})
    weights = np.array([p.weight for p in particles], dtype=float)
    frame["weight"] = weights / math.fsum(weights)
    frame["distance"] = [float(p.distance) for p in particles]
    pops = history.get_all_populations()
    generations = pd.DataFrame({
        "t": pops["t"].astype(int), "epsilon": pops["epsilon"].astype(float),
        "accepted": [settings.particles] * len(pops),
        "simulations": [sampler.simulations.get(int(t), 0) for t in pops["t"]]})
    return AbcResult(frame, generations, sum(sampler.simulations.values()), seconds,
                     pyabc.__version__)


def weighted_quantile(values: Sequence[float], weights: Sequence[float],
                      q: float | Sequence[float]) -> Any:
    """Quantile(s) ``q`` (0 to 1) of ``values`` weighted by ``weights`` (midpoint rule
    on the sorted values, linear between them); in the values' unit."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order] / w.sum()
    cdf = np.cumsum(w) - w / 2
    return np.interp(q, cdf, v)


def _predict_one(setup: tuple[Scenario, list[str], int, int], item: tuple[int, dict[str, float]]
                 ) -> list[dict[str, float]] | None:
    """The key values of ``reps`` replications of one drawn set (its own replications)."""
    scenario, keys, seed, reps = setup
    index, values = item
    sim = ModelSimulator(scenario, keys, seed)
    out = [sim(values, index * reps + r) for r in range(reps)]
    return None if any(o is None for o in out) else out  # type: ignore[return-value]


def posterior_predictive(scenario: Scenario, keys: Sequence[str], frame: pd.DataFrame,
                         sets: int = 40, reps: int = 3, seed: int = 1,
                         executor: Executor | None = None) -> pd.DataFrame:
    """Draw ``sets`` parameter sets from the posterior ``frame`` by weight (with
    replacement, seeded) and simulate ``reps`` replications of each (set ``j`` has
    replications ``j*reps ... j*reps + reps - 1`` of ``seed``). Returns one row per set
    x replication: ``set``, ``rep``, each parameter and each key's value (metric units)."""
    names = [c for c in frame.columns if c not in ("weight", "distance")]
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(frame), size=sets, replace=True, p=frame["weight"].to_numpy())
    items = [(j, {n: float(frame[n].iloc[i]) for n in names}) for j, i in enumerate(drawn)]
    results: dict[int, Any] = {}
    with batches(_predict_one, (scenario, list(keys), seed, reps), executor or Executor()) \
            as run:
        results.update(run(items))
    rows = []
    for j, values in items:
        for r, out in enumerate(results[j] or []):
            rows.append({"set": j, "rep": j * reps + r, **values, **out})
    return pd.DataFrame(rows)


def calibrate_posterior(targets_path: str | Path, settings: AbcSettings | None = None,
                        sets: int = 40, reps: int = 3, workers: int = 1,
                        progress: Callable[[int, int, int, int], Any] | None = None
                        ) -> dict[str, Any]:
    """The posterior of a targets file's free parameters (seed: the file's, unless
    ``settings`` says otherwise) and its posterior predictive of every target.

    :returns: ``targets``, ``scenario``, ``path``, ``abc`` (:class:`AbcResult`),
        ``predictive`` (from :func:`posterior_predictive`), ``sets``, ``reps`` and
        ``predictive_seconds`` (wall clock).
    """
    targets, scenario, path = load_targets(targets_path)
    settings = settings or AbcSettings(seed=targets.seed)
    keys = sorted({t.key for t in targets.targets})
    executor = Executor(workers=workers)
    abc = run_abc(ModelSimulator(scenario, keys, targets.seed),
                  {fp.path: (fp.low, fp.high) for fp in targets.free_parameters},
                  observed_of(targets), settings, executor, progress)
    t0 = time.perf_counter()
    predictive = posterior_predictive(scenario, keys, abc.frame, sets, reps, settings.seed,
                                      executor)
    return {"targets": targets, "scenario": scenario, "path": path, "abc": abc,
            "settings": settings, "predictive": predictive, "sets": sets, "reps": reps,
            "predictive_seconds": time.perf_counter() - t0}


def observed_of(targets: Targets) -> list[Observed]:
    """The fitted targets of a targets file as :class:`Observed` figures."""
    return [Observed(t.key, t.value, t.tolerance) for t in targets.fitted()]


def _fitted_dir() -> Path:
    """``calibration/fitted`` here if there is one, else the repository's."""
    here = Path("calibration") / "fitted"
    if here.is_dir():
        return here
    return default_out_dir(Path(__file__).resolve().parents[2] / "calibration" / "targets" / "x")


def posterior_path(scenario_name: str, fitted_dir: str | Path | None = None) -> Path:
    """Where the posterior of area ``scenario_name`` is: ``<name>_posterior.parquet`` in
    ``fitted_dir`` (default ``calibration/fitted`` of the working folder if it has one,
    else of the repository)."""
    return Path(fitted_dir or _fitted_dir()) / f"{scenario_name}_posterior.parquet"


def load_posterior(area_or_path: str | Path) -> pd.DataFrame | None:
    """The posterior written by ``treatsim calibrate --posterior``, by area name (see
    :func:`posterior_path`) or path: a column per parameter path, ``weight`` (sums to
    1) and ``distance`` (in tolerances); None if there is no such file.

    :raises ValueError: if the file is not a posterior (the message names it).
    """
    text = str(area_or_path)
    path = Path(text) if text.endswith(".parquet") or "/" in text else posterior_path(text)
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    if not {"weight", "distance"} <= set(frame.columns) or len(frame.columns) < 3:
        raise ValueError(f"{path}: not a posterior (needs parameter columns, weight and "
                         f"distance)")
    frame["weight"] = frame["weight"] / math.fsum(frame["weight"])
    return frame
