"""Policies in time: two policies that change one thing on one day, and policies dated
where they change nothing that is reported.

The parameters in force over time are :meth:`Scenario.phases` (each policy applied by
:func:`.params.apply_policy` and validated again); its day arithmetic is
:meth:`Scenario.day_of`.
"""

from __future__ import annotations

import datetime as dt

from .errors import format_path, locate
from .models import Policy, Scenario
from .wording import Lines, Problem, inline

__all__ = ["policy_conflicts", "reporting_end", "scenario_warnings"]


def reporting_end(scenario: Scenario) -> dt.date:
    """The date the last reporting year ends (the day after its last day)."""
    return scenario.run.start_date + dt.timedelta(days=scenario.run.horizon_days)


def _changes(policy: Policy) -> list[tuple[tuple[str, ...], str]]:
    """What a policy changes: (its key path under the policy, the dotted parameter)."""
    keys: list[tuple[tuple[str, ...], str]] = [(("set", k), k) for k in policy.set]
    keys += [((verb,), f"modalities.{name}.open")
             for verb, name in (("close", policy.close), ("open", policy.open)) if name]
    return keys


def policy_conflicts(scenario: Scenario, lines: Lines, file: str) -> list[Problem]:
    """Two policies on one day that set the same parameter (or one inside the other, or
    open and close the same service): which would win is not something to leave to the
    order of the file.

    :param lines: key path -> (file, line), to name where each clash is.
    :param file: the name shown when a key has no known line.
    """
    problems: list[Problem] = []
    taken: dict[tuple[dt.date, str], int] = {}
    inside: dict[tuple[dt.date, str], tuple[int, str]] = {}
    for i, p in enumerate(scenario.policies):
        for loc, key in _changes(p):
            parts = key.split(".")
            prefixes = [".".join(parts[:n]) for n in range(1, len(parts) + 1)]
            clash = next(((j, k) for k in prefixes if (j := taken.get((p.date, k))) is not None
                          and j != i), None) or inside.get((p.date, key))
            if clash is not None and clash[0] != i:
                j, other = clash
                f, line = locate(lines, ("policies", i, *loc), file)
                problems.append((f, line, format_path(("policies", i, *loc)),
                                 f"policies[{j}] also changes {other} on {p.date}; give one "
                                 "policy per parameter and day (which would win is not "
                                 "defined)"))
            taken.setdefault((p.date, key), i)
            for k in prefixes[:-1]:
                inside.setdefault((p.date, k), (i, key))
    return problems


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things in a valid scenario that are probably not meant, as ``file:line: key:
    message`` lines (the key path alone where the line is not known): a policy dated
    after the last reporting year, which changes nothing that is reported."""
    file, lines = scenario.source_lines
    end = reporting_end(scenario)
    run_end = end + dt.timedelta(days=scenario.run.follow_up_days)
    out = []
    for i, p in enumerate(scenario.policies):
        if p.date < end:
            continue
        f, line = locate(lines, ("policies", i, "date"), file)
        when = "after the run ends" if p.date >= run_end else "in the follow-up after"
        where = f"{f}:{line}: " if line else f"{f}: "
        out.append(where + f"policies[{i}].date: {p.date} is {when} the last reporting year "
                   f"(which ends {end - dt.timedelta(days=1)}); this policy "
                   "changes nothing that is reported")
    return [inline(w) for w in out]
