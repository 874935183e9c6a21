"""``treatsim validate`` and ``treatsim schema``: check scenario and sweep files without
running them, and print the JSON Schema they follow."""

from __future__ import annotations

import json
import sys

from ..io.outputs import OutputError, prepare_file, write_owned_file
from ..scenario import (
    ScenarioError,
    is_sweep_file,
    json_schema,
    load_scenario,
    scenario_warnings,
)
from ..text import printable
from ..uncertainty.priors import is_judgements_file
from .common import EXIT_BAD_INPUT, error, warn


def validate_command(files: list[str]) -> int:
    """Check each scenario or sweep file and print a line on it; returns the exit code."""
    status = 0
    for f in files:
        if is_judgements_file(f):
            status = _validate_judgements(f) or status
            continue
        try:
            if is_sweep_file(f):
                from ..sweep import load_sweep  # pulls in pandas and SALib's designs

                plan = load_sweep(f)
                print(f"{printable(f)}: ok (sweep {plan.sweep.name}: "
                      f"{plan.sweep.design.method} design, {plan.points} points x {plan.sweep.replications} replications = "
                      f"{len(plan.runs())} runs of {plan.base.name})")
                continue
            sc = load_scenario(f)
        except ScenarioError as exc:
            error(exc.message())
            status = EXIT_BAD_INPUT
            continue
        for w in scenario_warnings(sc):
            warn(w)
        print(f"{printable(f)}: ok ({sc.name}: {len(sc.policies)} policies, "
              f"{sc.run.warmup_years}+{sc.run.years} years)")
    return status


def _validate_judgements(f: str) -> int:
    """Check one judgements file; 0 when it is good, else the bad-input code."""
    from ..uncertainty.priors import PriorError, check_judgements_file

    try:
        summary = check_judgements_file(f)
    except PriorError as exc:
        return error(str(exc))
    except ScenarioError as exc:
        return error(exc.message())
    print(f"{printable(f)}: ok ({summary})")
    return 0


def schema_command(out: str | None, sweep: bool = False, force: bool = False) -> int:
    """Print (or write to ``out``) the JSON Schema of scenario files, or of sweep files if
    ``sweep``; returns the exit code."""
    from ..sweep import sweep_json_schema  # pulls in pandas and SALib's designs

    schema = sweep_json_schema() if sweep else json_schema()
    # "$schema" and "title" first: editors read them, and the title marks the file as
    # treatsim's (so a later --out may replace it)
    first = {k: schema.pop(k) for k in ("$schema", "title") if k in schema}
    text = json.dumps({**first, **schema}, indent=2) + "\n"
    if out:
        try:
            write_owned_file(prepare_file(out, force=force),
                             lambda tmp: tmp.write_text(text, encoding="utf-8"), force)
        except OutputError as exc:
            return error(f"--out: {exc}")
    else:
        sys.stdout.write(text)
    return 0
