"""Benchmark scenarios: Hampshire scale and multiples of it (built from the example), and
an M/M/c queue in the model with its Erlang C mean wait (also used by the theory tests)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml

from sim.scenario import Scenario, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]

HAMPSHIRE_COMMUNITY = 1850
"""People using and not in treatment at the start of the Hampshire-scale scenario (1x)."""
HAMPSHIRE_IN_TREATMENT = 1350
"""People in treatment at its start (1x)."""


def hampshire_scale(years: int = 10, times: int = 1) -> Scenario:
    """About 3,200 people using, 1,350 in treatment, 900 new presentations a year.

    :param years: simulated years (no warm-up, no follow-up).
    :param times: population multiple: people, incidence and every capacity (keyworkers,
        triage, beds, HAT places, rehab budget) are multiplied by it, so that each service
        is as busy as at 1x.
    """
    return parse_scenario(hampshire_data(years, times))


def hampshire_data(years: int = 10, times: int = 1) -> dict:
    """The scenario of :func:`hampshire_scale` as YAML data (to write for another checkout)."""
    data = yaml.safe_load((ROOT / "scenarios" / "example.yaml").read_text())
    data = copy.deepcopy(data)
    data["name"] = "hampshire_scale"
    pop = data["population"]
    pop["initial"]["community"] = HAMPSHIRE_COMMUNITY
    pop["initial"]["in_treatment"] = HAMPSHIRE_IN_TREATMENT
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
    return data


def national(years: int = 10) -> Scenario:
    """``scenarios/england_national.yaml`` (England at national scale) run for ``years``
    from its start, with no warm-up and no follow-up."""
    raw = load_scenario(ROOT / "scenarios" / "england_national.yaml").model_dump(by_alias=True)
    raw["run"].update({"warmup_years": 0, "years": years, "follow_up_days": 0})
    return parse_scenario(raw)


FIXED0 = {"dist": "fixed", "days": 0}


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue (days) of an M/M/c queue (Erlang C): arrival rate ``lam`` and
    service rate ``mu`` per day, ``c`` servers."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    bottom = sum(a**k / math.factorial(k) for k in range(c)) + top
    return top / bottom / (c * mu - lam)


def mmc_scenario(lam_per_year: float, mean_days: float, c: int, warmup_years: int = 1,
                 years: int = 8) -> Scenario:
    """An M/M/c queue in the model: incidence is Poisson (``lam_per_year``) and every new
    person refers after an i.i.d. exponential delay (mean 1 day), so referrals are Poisson
    too; one visit each; exponential treatment (``mean_days``); ``c`` keyworker places."""
    never = {"previously_treated": {"true": 0}}
    review = {"probabilities": {"continue": 1.0}}
    data = {
        "name": "mmc",
        "run": {"start_date": "2020-01-01", "warmup_years": warmup_years, "years": years,
                "follow_up_days": 0, "replications": 20, "seed": 7},
        "population": {
            "initial": {"community": 0, "in_treatment": 0, "time_in_treatment": FIXED0},
            "incidence_per_year": lam_per_year,
            "attributes": {
                "substance": {"non_opiate": 1.0}, "sex": {"male": 1.0},
                "age_band": {"30-49": 1.0},
                "injecting": {"opiate": 0, "opiate_crack": 0, "crack": 0, "non_opiate": 0},
                "mental_health": 0, "housing_need": 0,
            },
        },
        "referral": {"self": {"per_year": 365.0, "multipliers": never},
                     "gp": {"per_year": 0}, "criminal_justice": {"per_year": 0}},
        "triage": {"triaged_only": 0},
        "keyworkers": {"mode": "queue", "staff": 1, "caseload_cap": c},
        "entry": {g: {"psychosocial": 1.0}
                  for g in ("opiate", "opiate_crack", "crack", "non_opiate")},
        "modalities": {
            "ost": {"setting": {"specialist": 1}, "formulation": {"oral": 1},
                    "dropout": {"dist": "exponential", "mean_days": 100}, "review": review},
            "psychosocial": {"dropout": {"dist": "exponential", "mean_days": mean_days},
                             "review": review},
            "hat": {"places": 0, "dropout": {"dist": "exponential", "mean_days": 100},
                    "review": review},
            "detox": {"community_duration": FIXED0, "inpatient_duration": FIXED0,
                      "community_outcome": {"planned_exit": 1},
                      "inpatient_outcome": {"planned_exit": 1}},
            "rehab": {"budget_per_year_gbp": 0, "price_per_week_gbp": 1,
                      "duration": FIXED0, "outcome": {"planned_exit": 1}},
        },
        "relapse": {"time_to_relapse": {"dist": "exponential", "mean_days": 1000}},
    }
    return parse_scenario(data)
