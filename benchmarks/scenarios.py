"""Benchmark scenarios built from the example: Hampshire scale (DESIGN issue figures)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def hampshire_scale(years: int = 10) -> Scenario:
    """About 3,200 people using, 1,350 in treatment, 900 new presentations a year."""
    data = yaml.safe_load((ROOT / "scenarios" / "example.yaml").read_text())
    data = copy.deepcopy(data)
    data["name"] = "hampshire_scale"
    pop = data["population"]
    pop["initial"]["community"] = 1850
    pop["initial"]["in_treatment"] = 1350
    pop["incidence_per_year"] = 330
    for source, rate in (("self", 0.26), ("gp", 0.11), ("criminal_justice", 0.10)):
        data["referral"][source]["per_year"] = rate
    data["triage"]["capacity_per_week"] = 25
    data["keyworkers"]["staff"] = 27
    data["run"].update({"warmup_years": 0, "years": years, "follow_up_days": 0})
    return parse_scenario(data)
