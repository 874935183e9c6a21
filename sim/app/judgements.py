"""The stated judgements the page lets a reader set low, central or high: those of the
evidence file and of the baseline's judgements file that the baseline uses, grouped as
the judgement checks move them."""

from __future__ import annotations

from pathlib import Path

from ..scenario import Scenario
from ..uncertainty.analysis import one_at_a_time
from ..uncertainty.assume import parse_assumptions
from ..uncertainty.priors import EVIDENCE, Prior, groups, scenario_priors, uses
from .runs import RunOptions


def _priors(base: Scenario, base_file: Path) -> list[Prior]:
    return scenario_priors([base_file], [base.name], EVIDENCE)


def judgement_groups(base: Scenario, base_file: Path) -> dict[str, list[Prior]]:
    """Group name -> its priors, for each group holding a stated judgement that the
    baseline uses somewhere, in file order."""
    raw = base.model_dump(mode="python", by_alias=True)
    out = {}
    for group, members in groups(_priors(base, base_file)).items():
        if any(p.kind == "judgement" for p in members) and any(uses(raw, p) for p in members):
            out[group] = members
    return out


def check_settings(base: Scenario, base_file: Path, options: RunOptions) -> int:
    """Settings the judgement checks run (the central one included), less the
    judgements the run fixes by assumption."""
    priors = _priors(base, base_file)
    assumed = parse_assumptions([f"{n}={s}" for n, s in options.assumptions], priors)
    return 1 + len(one_at_a_time(assumed.fixed(priors), judgements_only=True))
