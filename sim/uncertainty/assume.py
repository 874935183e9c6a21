"""``compare --assume NAME=SETTING``: the answer with a judgement held at one setting.

``NAME`` is a prior group (as in the ``judgement`` column of the judgement checks: the
keys of :func:`~sim.uncertainty.priors.groups`) or one drawn prior's name; ``SETTING`` is
one of :data:`ASSUME_SETTINGS`. Every member of the group is set the way the judgement
checks set it (:meth:`~sim.uncertainty.priors.Prior.setting`, the central value where a
member has none) and the setting goes to every compared scenario through
:func:`~sim.uncertainty.runs.scenario_values`, so the base and the what-ifs move together
and keep common random numbers. An assumed prior is then fixed: it is left out of the
judgement checks, the tornado and the parameter draws of that run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..scenario import Scenario
from ..scenario.params import PolicyError, with_parameters
from .analysis import group_label, has_neutral, no_effect, setting_values
from .priors import Prior, groups
from .runs import Setting, scenario_values

ASSUME_SETTINGS = ("low", "neutral", "high", "central")
"""The settings ``--assume`` takes (as the judgement checks name them)."""
WORDS = {"low": "at the low end of its range", "high": "at the high end of its range",
         "neutral": "at no effect", "central": "at its central value"}


class AssumeError(ValueError):
    """An ``--assume`` that cannot be used; the message says why and lists the names."""


@dataclass(frozen=True)
class Assumptions:
    """The ``--assume`` options of one comparison.

    :ivar settings: name (a group or a prior) -> setting, in the order given.
    :ivar members: name -> the priors it sets.
    """

    settings: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[Prior]] = field(default_factory=dict)

    def setting(self) -> Setting:
        """Every assumed prior at its setting (the central value where it has none)."""
        values: dict[str, Any] = {}
        for name, setting in self.settings.items():
            values.update(setting_values(self.members[name], setting))
        return Setting("assumed", values)

    def fixed(self, priors: list[Prior]) -> list[Prior]:
        """``priors`` without the assumed ones (they are no longer uncertain here)."""
        gone = {p.name for members in self.members.values() for p in members}
        return [p for p in priors if p.name not in gone]

    def sentences(self) -> list[str]:
        """'the assumed effect of keyworker caseload … at the low end of its range', one
        a name, for the printout and the report."""
        out = []
        for name, setting in self.settings.items():
            members = self.members[name]
            text = f"{group_label(members)} {WORDS[setting]}"
            if setting in ("low", "high") and no_effect(members, setting):
                text += ", which is no effect"
            out.append(text)
        return out


def known_names(priors: list[Prior]) -> list[str]:
    """The names ``--assume`` takes: every group of drawn priors, then each member of a
    group of more than one by its own name."""
    by_group = groups(priors)
    singles = [p.name for members in by_group.values() if len(members) > 1
               for p in members if p.name not in by_group]
    return [*by_group, *singles]


def parse_assumptions(texts: list[str], priors: list[Prior]) -> Assumptions:
    """The ``--assume`` options ``texts`` ("NAME=SETTING" each) against ``priors``.

    :raises AssumeError: one paragraph naming the option that is wrong (no '=', an
        unknown name or setting, a name given twice, ``neutral`` for a group with no
        no-effect value inside its range) and listing the known names.
    """
    by_group = groups(priors)
    by_name = {p.name: [p] for members in by_group.values() for p in members}
    names = known_names(priors)
    settings: dict[str, str] = {}
    members: dict[str, list[Prior]] = {}
    for text in texts:
        name, eq, setting = (part.strip() for part in text.partition("="))
        chosen = by_group.get(name) or by_name.get(name)
        if not eq:
            problem = "expected NAME=SETTING, such as caseload_effect=low"
        elif chosen is None:
            problem = f"no uncertain input or group is called {name!r}"
        elif setting not in ASSUME_SETTINGS:
            problem = (f"the setting must be one of {', '.join(ASSUME_SETTINGS)}, got "
                       f"{setting!r}")
        elif setting == "neutral" and not has_neutral(chosen):
            problem = (f"{name} has no neutral (no-effect) setting inside its range"
                       + ("; its no-effect value is an end of its range, so use low or high"
                          if any(p.neutral is not None for p in chosen) else
                          "; use low, high or central"))
        elif overlap := [k for k, ps in members.items()
                         if {p.name for p in ps} & {p.name for p in chosen}]:
            problem = (f"{name} is assumed more than once" if overlap == [name] else
                       f"{name} is already assumed through {', '.join(overlap)}")
        else:
            settings[name], members[name] = setting, chosen
            continue
        raise AssumeError(f"--assume {text}: {problem}. The names are the prior groups in "
                          "the judgement column of the judgement checks, or one member of "
                          f"a group: {', '.join(names)}.")
    return Assumptions(settings, members)


def apply_assumptions(scenarios: list[Scenario], priors: list[Prior],
                      assumed: Assumptions) -> tuple[list[Scenario], bool]:
    """Every scenario with the assumed setting, where it uses the priors' central values
    (an area's or a what-if's own value stands, as in the judgement checks); and whether
    any scenario changed.

    :raises AssumeError: when a setting makes a scenario invalid.
    """
    if not assumed.settings:
        return list(scenarios), False
    setting = assumed.setting()
    raws = [sc.model_dump(mode="python", by_alias=True) for sc in scenarios]
    out, changed = [], False
    for sc, raw in zip(scenarios, raws, strict=True):
        values = scenario_values(raw, raws[0], priors, setting)
        try:
            out.append(with_parameters(sc, values) if values else sc)
        except (PolicyError, ValueError) as exc:
            raise AssumeError(f"--assume: {sc.name} cannot take the assumed setting: "
                              f"{exc}") from None
        changed = changed or bool(values)
    return out, changed
