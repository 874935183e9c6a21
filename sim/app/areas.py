"""The areas the page offers: the calibrated baselines in the scenarios folder (those
with a ``fitted:`` calibration result), each with its description and how well it fits
its targets."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..analysis.report_text import fit
from ..io.provenance import REPO_ROOT
from ..scenario import Scenario, ScenarioError, load_scenario
from ..scenario.yamlread import read_yaml


@dataclasses.dataclass(kw_only=True)
class Area:
    """One calibrated baseline.

    :ivar fit: :func:`sim.analysis.report_text.fit` of the baseline: ``rows`` (one per
        target), ``fitted``, ``held_out``, ``within`` (counts) and ``chart`` (the fit
        plot, an image with alt text, or None).
    """

    file: Path
    scenario: Scenario
    fit: dict[str, Any]

    @property
    def name(self) -> str:
        """The baseline's scenario name."""
        return self.scenario.name

    def fit_line(self) -> str:
        """'3 targets, 3 within tolerance (1 fitted, 2 held out)', or why there is none."""
        f = self.fit
        if not f.get("calibrated"):
            return "not calibrated"
        n = len(f["rows"])
        return (f"{n} target{'s' if n != 1 else ''}, {f['within']} within tolerance "
                f"({f['fitted']} fitted, {f['held_out']} held out; fitted {f['date']})")


def scenarios_folder(given: str | Path | None = None) -> Path:
    """The folder of scenario files: ``given``, else ``scenarios/`` in the working
    folder, else the one beside treatsim's code."""
    if given:
        return Path(given)
    here = Path.cwd() / "scenarios"
    return here if here.is_dir() else REPO_ROOT / "scenarios"


def baseline_files(folder: Path) -> list[Path]:
    """The calibrated baselines in ``folder`` (files with a ``fitted:`` key), by name."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data, _ = read_yaml(path, str(path))
        except ScenarioError:
            continue
        if isinstance(data, dict) and "fitted" in data:
            out.append(path)
    return out


def load_area(path: Path) -> Area:
    """The baseline in ``path`` with its fit.

    :raises ScenarioError: if the baseline is not a valid scenario.
    """
    sc = load_scenario(path)
    return Area(file=path, scenario=sc, fit=fit(sc))
