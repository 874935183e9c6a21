"""Shared test helpers: the example scenario and small variants of it."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example.yaml"


def example_data() -> dict[str, Any]:
    """The example scenario as raw data."""
    return yaml.safe_load(EXAMPLE.read_text())


def with_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with dotted-path keys set (``{"keyworkers.staff": 9}``)."""
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = data
        *parts, last = dotted.split(".")
        for part in parts:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def scenario(overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None
             ) -> Scenario:
    """The example (or ``base``) with ``overrides``, validated."""
    return parse_scenario(with_overrides(base or example_data(), overrides or {}))


SMALL = {
    "population.initial.community": 250,
    "population.initial.in_treatment": 250,
    "population.incidence_per_year": 40,
    "keyworkers.staff": 5,
    "modalities.hat.places": 3,
    "run.warmup_years": 1,
    "run.years": 2,
}
"""The example at a quarter of its size and a short horizon: fast for tests."""


def pathway_structure() -> dict[str, Any]:
    """The pathway structure of ``scenarios/england.yaml`` (relapse by route, recovery
    hazard, continuous planned exits, custody and tolerance mortality, drug-related
    shares, waiting risks, unplanned kinds, transfers within the area) as overrides."""
    england = yaml.safe_load((ROOT / "scenarios" / "england.yaml").read_text())
    out: dict[str, Any] = {"triage.waiting_risks": england["triage"]["waiting_risks"],
                           "relapse": england["relapse"], "exits": england["exits"]}
    out.update({f"mortality.{key}": value for key, value in england["mortality"].items()})
    for modality in ("ost", "psychosocial", "hat"):
        key = f"modalities.{modality}.review.planned_exit_timing"
        out[key] = england["modalities"][modality]["review"]["planned_exit_timing"]
    return out


def small(overrides: dict[str, Any] | None = None) -> Scenario:
    """The example at a quarter of its size and a short horizon (``SMALL``)."""
    return scenario({**SMALL, **(overrides or {})})


def small_scenario_file(folder: Path) -> Path:
    """Write the ``SMALL`` scenario to ``folder/small.yaml``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(with_overrides(example_data(), SMALL), sort_keys=False))
    return path


def chromium() -> str:
    """Debian's chromium: its path; a test without it fails on CI (which installs it) and
    is skipped elsewhere."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium")
        pytest.skip("chromium is not installed (CI installs it)")
    return found
