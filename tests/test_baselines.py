"""Regression: each area's fitted baseline still reproduces its calibration.

The baseline (``scenarios/<area>.yaml``, with its ``fitted:`` parameters) is run on the
same common-random-number replications the search used. The result must equal what the
fit recorded (any change to the model shows up here), and every fitted target that the
fit put within tolerance must still be within it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from sim.analysis.calibrate import load_targets, simulate_point
from sim.scenario import load_scenario

pytestmark = pytest.mark.slow  # five calibrated areas, about 35 s

ROOT = Path(__file__).resolve().parents[1]
AREAS = ["middlesbrough", "hampshire", "gateshead", "rotherham", "east_sussex"]


@pytest.mark.parametrize("area", AREAS)
def test_fitted_baseline_reproduces_its_targets(area):
    targets, _, _ = load_targets(ROOT / "calibration" / "targets" / f"{area}.yaml")
    scenario = load_scenario(ROOT / "scenarios" / f"{area}.yaml")  # with its fitted values
    fit = yaml.safe_load((ROOT / "calibration" / "fitted" / f"{area}.yaml").read_text())
    baseline = (ROOT / "scenarios" / f"{area}.yaml").read_text()
    assert f"fitted: ../calibration/fitted/{area}.yaml" in baseline
    raw = scenario.model_dump(by_alias=True)
    for path, value in fit["parameters"].items():
        node = raw
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert node == pytest.approx(value, rel=1e-12), path  # the baseline uses the fit
    keys = sorted({t["key"] for t in fit["targets"]})
    per_rep = simulate_point(scenario, {}, keys, targets.seed, fit["search_reps"])
    mean = {k: sum(v) / len(v) for k, v in per_rep.items()}
    for t in fit["targets"]:
        if not math.isnan(t["search_mean"]):
            assert mean[t["key"]] == pytest.approx(t["search_mean"], rel=1e-9), t["name"]
    headline = [t for t in fit["targets"] if not t["held_out"]
                and abs(t["search_mean"] - t["reported"]) <= t["tolerance"]]
    assert len(headline) >= 0.9 * sum(not t["held_out"] for t in fit["targets"])
    for t in headline:
        assert abs(mean[t["key"]] - t["reported"]) <= t["tolerance"], t["name"]
