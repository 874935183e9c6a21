"""treatsim: a discrete-event simulation of local adult drug treatment systems in England.

For notebooks::

    import sim
    scenario = sim.load_scenario("scenarios/example.yaml")
    results = sim.run(scenario, reps=10, seed=1)
    results.summary        # one row per metric: mean, sd, 95% CI
    results.yearly         # one row per replication x year x metric
    results.people         # one row per treatment episode
"""

__version__ = "0.1.0"

from .runner import Results, run  # noqa: E402
from .scenario import Scenario, ScenarioError, load_scenario  # noqa: E402

__all__ = ["Results", "Scenario", "ScenarioError", "__version__", "load_scenario", "run"]
