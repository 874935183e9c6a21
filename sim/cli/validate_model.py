"""``treatsim validate-model``: the calibrated area baselines against published figures
they were not fitted to; prints the table and writes ``validation.csv`` and
``validation.md``. Misses are findings, not errors: the exit code is 0 whatever the
verdicts, 2 for a bad file or argument."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..execute.limits import estimate_run
from ..io.outputs import OutputError
from ..scenario import ScenarioError
from ..text import printable
from .common import EXIT_INTERRUPTED, error, output_folder, too_big_refusal

DEFAULT_OUT = Path("results") / "validation"


def validate_model_command(args: argparse.Namespace) -> int:
    """Run every area's replications, compare each measure with its published figure,
    print the table and write it; returns the exit code."""
    from ..analysis.validation import (  # pulls in numpy, pandas and the model
        AREAS,
        area_scenario,
        extended,
        load_validation,
        local_targets,
        run_validation,
        summary_rows,
    )
    from ..analysis.validation_report import table_markdown, table_text, write_validation
    from ..execute.executors import Executor, ItemFailed

    source = args.validation
    areas = list(dict.fromkeys(a.strip() for a in (args.areas.split(",") if args.areas
                                                     else AREAS) if a.strip()))
    if not areas:
        return error("--areas: give at least one area name or scenario file")
    try:
        vf = load_validation(source)
        scenarios = [area_scenario(a) for a in areas]
    except ScenarioError as exc:
        return error(exc.message())
    for scenario in scenarios:
        longer = extended(scenario, vf.follow_up_days())
        refusal = too_big_refusal(scenario.name, estimate_run(longer, args.reps, args.workers),
                                  args.force)
        if refusal:
            return error(refusal)
    try:
        out = output_folder(args.out, DEFAULT_OUT, args.force)
    except OutputError as exc:
        return error(f"{source}: --out: {exc}")

    def progress(done: int, total: int) -> None:
        if not args.quiet and (done == total or done % max(1, total // 10) == 0):
            print(f"validate-model: {done}/{total} replications", file=sys.stderr, flush=True)

    try:
        run = run_validation(vf, scenarios, args.reps, Executor(workers=args.workers),
                             progress)
    except KeyboardInterrupt:
        print("validate-model: interrupted; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ItemFailed as exc:
        print(printable(f"validate-model: a replication failed: {exc}"), file=sys.stderr)
        return 1
    rows = summary_rows(vf, run, local_targets(Path(source), run.areas))
    try:
        folder = write_validation(rows, table_markdown(vf, rows, run), run, out, str(source))
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    print(table_text(rows))
    print(f"\n{run.reps} replications of {len(run.areas)} area(s) in {run.seconds:.0f} s; "
          f"wrote {printable(folder / 'validation.csv')} and validation.md")
    return 0
