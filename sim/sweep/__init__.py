"""Sweep files: the parameters to vary, the design of points, the metrics to keep.

:func:`load_sweep` reads and checks a sweep file into a :class:`SweepPlan` (the base
scenario and every design point); :func:`sim.execute.sweep.run_sweep` runs it and
:mod:`sim.io.sweep_store` keeps its folder.
"""

from .load import design_size, load_sweep, plan_digest
from .spec import (
    MAX_POINTS,
    MAX_RUNS,
    UNBOUNDED_TAIL,
    Design,
    Parameter,
    ParameterDistribution,
    Sweep,
    SweepPlan,
    design_values,
    salib_problem,
    sweep_json_schema,
    sweep_manifest,
    unit_design,
)

__all__ = ["MAX_POINTS", "MAX_RUNS", "UNBOUNDED_TAIL", "Design", "Parameter",
           "ParameterDistribution", "Sweep", "SweepPlan", "design_size", "design_values",
           "load_sweep", "plan_digest", "salib_problem", "sweep_json_schema", "sweep_manifest",
           "unit_design"]
