"""Benchmark scenarios built from the example: Hampshire scale, and multiples of it."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def hampshire_scale(years: int = 10, times: int = 1) -> Scenario:
    """About 3,200 people using, 1,350 in treatment, 900 new presentations a year.

    :param years: simulated years (no warm-up, no follow-up).
    :param times: population multiple: people, incidence and every capacity (keyworkers,
        triage, beds, HAT places, rehab budget) are multiplied by it, so that each service
        is as busy as at 1x.
    """
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
    if times != 1:
        pop["initial"]["community"] *= times
        pop["initial"]["in_treatment"] *= times
        pop["incidence_per_year"] *= times
        data["triage"]["capacity_per_week"] *= times
        data["keyworkers"]["staff"] *= times
        mods = data["modalities"]
        mods["hat"]["places"] *= times
        mods["detox"]["inpatient_beds"] *= times
        mods["rehab"]["budget_per_year_gbp"] *= times
        mods["hat"]["fixed_cost_per_year_gbp"] *= times
    return parse_scenario(data)
