"""Targets files: what a calibration fits, and the sources of its figures.

A targets file (``calibration/targets/<area>.yaml``) names the scenario to fit, the free
parameters (dotted scenario paths with bounds) and the targets. Each target maps one
figure of a local report to a metric of :mod:`sim.metrics`, with a tolerance and its
source: the report's file name and the sentence quoted from it. Quotes are checked
against the report text when the reports are found (``TREATSIM_SEEDS`` or
``shared/seeds`` beside the repository).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..metrics import unknown_metric
from ..scenario import (
    MAX_SEED,
    PolicyError,
    Scenario,
    ScenarioError,
    Strict,
    load_model_file,
    load_referenced_scenario,
    with_parameters,
)

__all__ = ["FreeParameter", "NotModelled", "Source", "Target", "Targets", "find_seeds",
           "load_targets", "normalise"]

Problem = tuple[str, int | None, str, str]
"""(file shown, line, key, message) of one problem in a targets file."""
LineOf = Callable[..., int | None]
"""The line of a key path in the file read (as :func:`sim.scenario.load_model_file` gives)."""


class Source(Strict):
    """Where a figure comes from: a report file by name and the sentence quoted from it."""

    file: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    quote: str = Field(min_length=10)


class FreeParameter(Strict):
    """A scenario parameter the search may move, by dotted path, within ``[low, high]``."""

    path: str = Field(min_length=1)
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> FreeParameter:
        if not self.low < self.high:
            raise ValueError(f"low must be below high, got low {self.low:g}, high {self.high:g}")
        return self


class Target(Strict):
    """One reported figure the baseline should reproduce."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    metric: str
    value: float
    tolerance: float = Field(gt=0, description="absolute, in the metric's unit")
    tolerance_basis: str = Field(min_length=5, description="how the tolerance was set")
    period: str
    year: int | None = Field(
        default=None, ge=1, le=200,
        description="the reporting year the figure describes (default: the mean over the "
        "scenario's reporting years)")
    held_out: bool = False
    source: Source
    note: str = ""

    @property
    def key(self) -> str:
        """What is simulated for it: ``metric`` or ``metric@year``."""
        return self.metric if self.year is None else f"{self.metric}@{self.year}"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        problem = unknown_metric(metric)
        if problem:
            raise ValueError(problem)
        return metric


class NotModelled(Strict):
    """A reported figure the model cannot produce, and why."""

    figure: str
    reason: str = Field(min_length=5)
    source: Source


class Targets(Strict):
    """A whole targets file."""

    area: str = Field(pattern=r"^[a-z_]+$")
    scenario: str = Field(description="the scenario to fit, relative to this file")
    report: str = Field(pattern=r"^\d{3}_[0-9a-f]{16}\.txt$")
    reps: int = Field(default=6, ge=2, le=1_000,
                      description="common-random-number replications")
    seed: int = Field(default=1, ge=0, le=MAX_SEED)
    max_evaluations: int = Field(default=300, ge=10, le=100_000,
                                 description="budget of the search")
    free_parameters: list[FreeParameter] = Field(min_length=1, max_length=100)
    targets: list[Target] = Field(min_length=2, max_length=1_000)
    not_modelled: list[NotModelled] = Field(default_factory=list, max_length=1_000)

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
    """The folder of source reports: ``$TREATSIM_SEEDS``, or ``shared/seeds`` found walking
    up from ``start`` or beside this repository."""
    env = os.environ.get("TREATSIM_SEEDS")
    if env:
        return Path(env) if Path(env).is_dir() else None
    package_root = Path(__file__).resolve().parents[2]  # sim/analysis/ -> the repository
    for parent in [start, *start.parents, package_root]:
        for cand in (parent / "shared" / "seeds", parent.parent / "shared" / "seeds"):
            if cand.is_dir():
                return cand
    return None


def normalise(text: str) -> str:
    """Text for quote matching: no markdown emphasis, straight quotes, single spaces."""
    text = text.replace("**", "").replace("’", "'").replace("‘", "'")
    text = text.replace("“", '"').replace("”", '"').replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


def load_targets(path: str | Path) -> tuple[Targets, Scenario, Path]:
    """Load and check a targets file; returns (targets, scenario to fit, targets path).

    Checks that every free parameter path exists in the scenario and that both its bounds
    give a valid scenario, that every quote appears in its report (when the reports are
    found), and that the scenario itself is valid.

    :raises ScenarioError: naming file, line and key of every problem.
    """
    path = Path(path)
    targets, line_of, shown = load_model_file(path, Targets)
    # the search starts from the prior, not from an earlier fit
    scenario = load_referenced_scenario(path, targets.scenario, line_of, shown, fitted=False)
    problems = _year_problems(targets, scenario, line_of, shown)
    problems += _bound_problems(targets, scenario, line_of, shown)
    seeds = find_seeds(path.resolve().parent)
    if seeds is not None:
        problems += _quote_problems(targets, seeds, line_of, shown)
    if problems:
        raise ScenarioError(problems)
    return targets, scenario, path


def _year_problems(targets: Targets, scenario: Scenario, line_of: LineOf,
                   shown: str) -> list[Problem]:
    """Targets of a reporting year the scenario does not report."""
    problems: list[Problem] = []
    for i, t in enumerate(targets.targets):
        if t.year is not None and t.year > scenario.run.years:
            problems.append((shown, line_of("targets", i, "year"), f"targets[{i}].year",
                             f"the scenario {targets.scenario} reports {scenario.run.years} "
                             f"year(s), so year must be 1 to {scenario.run.years}, got "
                             f"{t.year}"))
    return problems


def _bound_problems(targets: Targets, scenario: Scenario, line_of: LineOf,
                    shown: str) -> list[Problem]:
    """Free parameters that are not in the scenario, or whose bounds it rejects."""
    problems: list[Problem] = []
    for i, fp in enumerate(targets.free_parameters):
        for bound in ("low", "high"):
            value = getattr(fp, bound)
            try:
                with_parameters(scenario, {fp.path: value})
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
    return problems


def _quote_problems(targets: Targets, seeds: Path, line_of: LineOf,
                    shown: str) -> list[Problem]:
    """Sources whose report is not in ``seeds``, or does not contain the quote."""
    problems: list[Problem] = []
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
    return problems
