"""treatsim: a discrete-event simulation of local adult drug treatment systems in England.

For notebooks::

    import sim
    scenario = sim.load_scenario("scenarios/example.yaml")
    results = sim.run(scenario, reps=10, seed=1)
    results.summary        # one row per metric: mean, sd, 95% CI
    results.yearly         # one row per replication x year x metric
    results.people         # one row per treatment episode

    plan = sim.load_sweep("scenarios/sweeps/middlesbrough_cap_staff_grid.yaml")
    sim.run_sweep(plan, "results/sweeps/grid", workers=2)   # or dask_local=2, scheduler=...
    manifest, design, runs = sim.read_sweep("results/sweeps/grid")
    sim.analyse("results/sweeps/grid").table                 # indices or the response

The names are loaded on first use, so ``import sim`` (and the command line's start) does
not pay for pandas, SciPy or matplotlib until they are needed.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_HOMES = {
    "Results": "sim.execute.runner", "run": "sim.execute.runner",
    "run_sweep": "sim.execute.sweep", "read_sweep": "sim.io.sweep_store",
    "analyse": "sim.analysis.sensitivity", "load_sweep": "sim.sweep",
    "Scenario": "sim.scenario", "ScenarioError": "sim.scenario",
    "load_scenario": "sim.scenario",
}
"""Each public name and the module it lives in."""

__all__ = ["Results", "Scenario", "ScenarioError", "__version__", "analyse", "load_scenario",
           "load_sweep", "read_sweep", "run", "run_sweep"]


def __getattr__(name: str) -> Any:
    """Load a public name from its home module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for completion in notebooks."""
    return sorted(__all__)
