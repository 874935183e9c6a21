"""Calibration against cited targets: the targets file, the loss, the search, the report.

A targets file (``calibration/targets/<area>.yaml``) names the scenario to fit, the free
parameters (dotted scenario paths with bounds) and the targets. Each target maps one
figure of a local report to a metric of :mod:`sim.metrics`, with a tolerance and its
source: the report's file name and the sentence quoted from it. Quotes are checked
against the report text when the reports are found (``TREATSIM_SEEDS`` or
``shared/seeds`` beside the repository).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .metrics import METRICS
from .scenario import (
    PolicyError,
    Scenario,
    ScenarioError,
    _assign,
    load_scenario,
    load_yaml,
    validation_error,
)

__all__ = ["Targets", "load_targets", "find_seeds"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Source(_Strict):
    """Where a figure comes from: a report file by name and the sentence quoted from it."""

    file: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    quote: str = Field(min_length=10)


class FreeParameter(_Strict):
    """A scenario parameter the search may move, by dotted path, within ``[low, high]``."""

    path: str
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> FreeParameter:
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low {self.low:g}, high {self.high:g}")
        return self


class Target(_Strict):
    """One reported figure the baseline should reproduce."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    metric: str
    value: float
    tolerance: float = Field(gt=0, description="absolute, in the metric's unit")
    tolerance_basis: str = Field(min_length=5, description="how the tolerance was set")
    period: str
    held_out: bool = False
    source: Source
    note: str = ""

    @model_validator(mode="after")
    def _known_metric(self) -> Target:
        if self.metric not in METRICS:
            import difflib

            close = difflib.get_close_matches(self.metric, METRICS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"metric: unknown metric {self.metric!r}{hint}")
        return self


class NotModelled(_Strict):
    """A reported figure the model cannot produce, and why."""

    figure: str
    reason: str = Field(min_length=5)
    source: Source


class Targets(_Strict):
    """A whole targets file."""

    area: str = Field(pattern=r"^[a-z_]+$")
    scenario: str = Field(description="the scenario to fit, relative to this file")
    report: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    reps: int = Field(default=6, ge=2, description="common-random-number replications")
    seed: int = Field(default=1, ge=0)
    max_evaluations: int = Field(default=300, ge=10, description="budget of the search")
    free_parameters: list[FreeParameter] = Field(min_length=1)
    targets: list[Target] = Field(min_length=2)
    not_modelled: list[NotModelled] = Field(default_factory=list)

    @model_validator(mode="after")
    def _checks(self) -> Targets:
        names = [t.name for t in self.targets]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"targets: duplicate target name {sorted(dup)[0]!r}")
        if sum(t.held_out for t in self.targets) < 2:
            raise ValueError("targets: hold out at least two figures (held_out: true) "
                             "for validation")
        if all(t.held_out for t in self.targets):
            raise ValueError("targets: every target is held out; nothing is left to fit")
        paths = [p.path for p in self.free_parameters]
        dup = {p for p in paths if paths.count(p) > 1}
        if dup:
            raise ValueError(f"free_parameters: {sorted(dup)[0]!r} is listed twice")
        return self

    def fitted(self) -> list[Target]:
        """The targets used in the loss."""
        return [t for t in self.targets if not t.held_out]

    def validation(self) -> list[Target]:
        """The held-out targets, reported apart."""
        return [t for t in self.targets if t.held_out]


def find_seeds(start: Path) -> Path | None:
    """The folder of source reports: ``$TREATSIM_SEEDS`` or ``shared/seeds`` found
    walking up from ``start``."""
    env = os.environ.get("TREATSIM_SEEDS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for parent in [start, *start.parents]:
        for cand in (parent / "shared" / "seeds", parent.parent / "shared" / "seeds"):
            if cand.is_dir():
                return cand
    return None


def normalise(text: str) -> str:
    """Text for quote matching: no markdown emphasis, straight quotes, single spaces."""
    text = text.replace("**", "").replace("’", "'").replace("‘", "'")
    text = text.replace("“", '"').replace("”", '"').replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


def apply_parameters(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """``scenario`` with the dotted-path parameters set (validated again).

    Setting one share of a review's ``probabilities`` (say ``planned_exit``) gives the
    difference to ``continue``, so the shares still sum to 1.
    """
    raw = scenario.model_dump(mode="python", by_alias=True)
    for path, value in values.items():
        _assign(raw, path, value, policy_index=-1)
        parts = path.split(".")
        if len(parts) >= 2 and parts[-2] == "probabilities" and parts[-1] != "continue":
            node: Any = raw
            for part in parts[:-1]:
                node = node[part]
            if "continue" in node:
                node["continue"] = 0.0
                node["continue"] = max(0.0, 1.0 - sum(node.values()))
    return Scenario.model_validate(raw)


def load_targets(path: str | Path) -> tuple[Targets, Scenario, Path]:
    """Load and check a targets file; returns (targets, scenario to fit, targets path).

    Checks that every free parameter path exists in the scenario and that both its bounds
    give a valid scenario, that every quote appears in its report (when the reports are
    found), and that the scenario itself is valid.

    :raises ScenarioError: naming file, line and key of every problem.
    """
    path = Path(path)
    data, lines, shown = load_yaml(path)
    try:
        targets = Targets.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, shown, Targets) from None

    def line_of(*loc: Any) -> int | None:
        for n in range(len(loc), -1, -1):
            if loc[:n] in lines:
                return lines[loc[:n]][1]
        return None

    scenario_path = (path.parent / targets.scenario).resolve()
    if not scenario_path.is_file():
        raise ScenarioError([(shown, line_of("scenario"), "scenario",
                              f"file not found: {targets.scenario}")])
    scenario = load_scenario(scenario_path)
    problems: list[tuple[str, int | None, str, str]] = []
    for i, fp in enumerate(targets.free_parameters):
        for bound in ("low", "high"):
            value = getattr(fp, bound)
            try:
                apply_parameters(scenario, {fp.path: value})
            except PolicyError as exc:
                problems.append((shown, line_of("free_parameters", i, "path"),
                                 f"free_parameters[{i}].path", str(exc.error)))
                break
            except ValidationError as exc:
                err = exc.errors()[0]
                msg = err.get("ctx", {}).get("error") or err["msg"]
                problems.append((shown, line_of("free_parameters", i, bound),
                                 f"free_parameters[{i}].{bound}",
                                 f"impossible bound {value:g} for {fp.path}: {msg}"))
    seeds = find_seeds(path.resolve().parent)
    if seeds is not None:
        texts: dict[str, str] = {}
        entries = [("targets", i, t.source) for i, t in enumerate(targets.targets)]
        entries += [("not_modelled", i, n.source) for i, n in enumerate(targets.not_modelled)]
        for section, i, src in entries:
            report = seeds / src.file
            if src.file not in texts:
                texts[src.file] = normalise(report.read_text(encoding="utf-8")) \
                    if report.is_file() else ""
            if not texts[src.file]:
                problems.append((shown, line_of(section, i, "source", "file"),
                                 f"{section}[{i}].source.file",
                                 f"report {src.file} not found in {seeds}"))
            elif normalise(src.quote) not in texts[src.file]:
                problems.append((shown, line_of(section, i, "source", "quote"),
                                 f"{section}[{i}].source.quote",
                                 f"quote not found in {src.file}: {src.quote[:60]!r}"))
    if problems:
        raise ScenarioError(problems)
    return targets, scenario, path


def loss_terms(means: dict[str, float], targets: list[Target]) -> dict[str, float]:
    """Each target's scaled error ``(simulated mean - value) / tolerance``."""
    out = {}
    for t in targets:
        m = means.get(t.metric, math.nan)
        out[t.name] = (m - t.value) / t.tolerance if not math.isnan(m) else math.inf
    return out
