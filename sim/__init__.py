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
"""

__version__ = "0.1.0"

from .runner import Results, run  # noqa: E402
from .scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from .sensitivity import analyse  # noqa: E402
from .store import read_sweep  # noqa: E402
from .sweep import load_sweep, run_sweep  # noqa: E402

__all__ = ["Results", "Scenario", "ScenarioError", "__version__", "analyse", "load_scenario",
           "load_sweep", "read_sweep", "run", "run_sweep"]
