"""``treatsim run``: replications of one scenario, written as tables, with a summary of
the headline metrics."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ..execute.limits import estimate_run
from ..io.outputs import OutputError
from ..scenario import ScenarioError, load_scenario, scenario_warnings
from ..text import printable
from .common import EXIT_INTERRUPTED, error, output_folder, too_big_refusal, warn

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def run_command(args: argparse.Namespace) -> int:
    """Run a scenario's replications, write its tables and print the summary; returns the
    exit code."""
    from ..execute.runner import run  # pulls in pandas and the model
    from ..io.results import write_results

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return error(exc.message())
    reps = args.reps or scenario.run.replications
    estimate = estimate_run(scenario, reps, args.workers)
    refusal = too_big_refusal(args.scenario, estimate, args.force)
    if refusal:
        return error(refusal)
    try:
        out = output_folder(args.out, Path("results") / scenario.name, args.force,
                            estimate.kept_bytes)
    except OutputError as exc:
        return error(f"{args.scenario}: --out: {exc}")
    for w in scenario_warnings(scenario):
        warn(w)
    progress, close = _rep_progress(scenario.name, reps, args.quiet)
    try:
        results = run(scenario, reps=reps, seed=args.seed, workers=args.workers,
                      progress=progress)
    except KeyboardInterrupt:
        close()
        print(f"{scenario.name}: interrupted before any replication finished; nothing "
              f"written", file=sys.stderr)
        return EXIT_INTERRUPTED
    close()
    results.meta["workers"] = args.workers
    try:
        folder = write_results(results, out, source=args.scenario)
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    print(_summary_text(results.summary, everything=args.all))
    state = "" if results.complete else f" (interrupted: {len(results.reps)} of {reps} reps)"
    print(f"\n{len(results.reps)} replications in {results.seconds:.1f} s, "
          f"seed {results.seed}; tables in {printable(folder)}{state}")
    return 0 if results.complete else EXIT_INTERRUPTED


def _rep_progress(name: str, reps: int, quiet: bool
                  ) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress callback for replications (a bar on a terminal, else a line each) and
    the function that closes it."""
    bar = None
    if not quiet and sys.stderr.isatty() or os.environ.get("TREATSIM_PROGRESS"):
        bar = tqdm(total=reps, desc=name, unit="rep", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
        elif not quiet:
            print(f"{name}: {done}/{total} replications", file=sys.stderr)

    return progress, (bar.close if bar is not None else lambda: None)


def _summary_text(summary: pd.DataFrame, everything: bool = False) -> str:
    """A readable table: metric, mean, 95% CI."""
    from ..metrics import HEADLINE  # pulls in pandas
    from ..metrics import format_value as fmt

    df = summary if everything else summary[summary["metric"].isin(HEADLINE)]
    if not everything:
        df = df.set_index("metric").loc[[m for m in HEADLINE if m in set(df["metric"])]]
        df = df.reset_index()
    width = max([len(str(s)) for s in df["label"]] + [6])
    lines = [f"{'metric':<{width}}  {'mean':>12}  95% CI"]
    for _, row in df.iterrows():
        ci = (f"{fmt(row['ci_low'], row['unit'])} to {fmt(row['ci_high'], row['unit'])}"
              if not math.isnan(row["ci_low"]) else "- (one replication)")
        lines.append(f"{row['label']:<{width}}  {fmt(row['mean'], row['unit']):>12}  {ci}")
    return "\n".join(lines)
