"""``treatsim sweep`` and ``treatsim sensitivity``: the runs of a sweep file, with their
progress, and the sensitivity of a finished sweep."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ..execute.limits import estimate_sweep
from ..io.outputs import OutputError, prepare_folder
from ..scenario import ScenarioError
from ..text import printable
from .common import EXIT_INTERRUPTED, error, too_big_refusal

if TYPE_CHECKING:  # pragma: no cover
    from ..execute.sweep import SweepOutcome
    from ..sweep import SweepPlan

SCHEDULER_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
"""The address schemes ``--scheduler`` accepts."""


def sweep_command(args: argparse.Namespace) -> int:
    """Run (or resume) a sweep, writing each run as it finishes; returns the exit code."""
    from ..execute.sweep import RunFailed, run_sweep  # pulls in pandas and pyarrow
    from ..io.sweep_store import SweepStoreError, finished_runs
    from ..sweep import load_sweep

    try:
        plan = load_sweep(args.sweep)
    except ScenarioError as exc:
        return error(exc.message())
    refusal = too_big_refusal(args.sweep, estimate_sweep(plan, args.workers or 1), args.force)
    if refusal:
        return error(refusal)
    if args.scheduler and not args.scheduler.startswith(SCHEDULER_SCHEMES):
        return error(f"--scheduler: expected an address such as tcp://10.0.0.5:8786, got "
                     f"{args.scheduler!r}")
    out = Path(args.out) if args.out else Path("results") / "sweeps" / plan.sweep.name
    show = _SweepProgress(plan.sweep.name, quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        outcome = run_sweep(plan, out, workers=args.workers, scheduler=args.scheduler,
                            dask_local=args.dask_local, resume=args.resume, progress=show,
                            force=args.force)
    except SweepStoreError as exc:
        return error(str(exc))
    except KeyboardInterrupt:
        show.close()
        done = len(finished_runs(out))
        print(f"sweep: stopped; the {done} finished runs of {len(plan.runs())} are kept in "
              f"{printable(out)}; run the same command with --resume to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except (RunFailed, OSError, TimeoutError) as exc:
        show.close()
        print(f"sweep: stopped by an error; finished runs are kept in {printable(out)} "
              f"(--resume continues)\n{printable(exc)}", file=sys.stderr)
        return 1
    show.close()
    _print_outcome(plan, outcome, out, time.perf_counter() - t0)
    return 0


def _print_outcome(plan: SweepPlan, outcome: SweepOutcome, out: Path,
                   seconds: float) -> None:
    """What the sweep ran (in ``seconds``, wall clock) and where its tables are."""
    rate = outcome.runs_per_second
    if outcome.finished_now == 0:
        print(f"{plan.sweep.name}: nothing to run; all {outcome.total} runs were already "
              f"finished in {printable(out)}")
    else:
        print(f"{plan.sweep.name}: {outcome.total} runs ({plan.points} points x "
              f"{plan.sweep.replications} replications, {plan.sweep.design.method} design); "
              f"{outcome.finished_now} run in {seconds:.1f} s "
              f"({rate:.2f} runs/s, {outcome.executor})"
              + (f", {outcome.finished_before} already done" if outcome.finished_before
                 else ""))
    shown = printable(out)
    print(f"table: {shown}/runs (Parquet, one file per run) and {shown}/runs.csv; "
          f"per-point means: {shown}/points.csv")


class _SweepProgress:
    """Progress of a sweep on standard error: a bar on a terminal, else a line every 5%
    (or every 30 s), each with runs done and an estimate of the time left."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet, self.bar = name, quiet, None
        self.tty = sys.stderr.isatty() or bool(os.environ.get("TREATSIM_PROGRESS"))
        self.last_print = time.monotonic()
        self.last_done = -1

    def __call__(self, done: int, total: int, seconds_left: float) -> None:
        if self.quiet:
            return
        if self.tty:
            if self.bar is None:
                self.bar = tqdm(total=total, initial=done - 1, desc=self.name, unit="run",
                                file=sys.stderr)
            self.bar.update(done - self.bar.n)
            return
        step = max(1, total // 20)
        now = time.monotonic()
        if done == total or done // step != self.last_done // step or \
                now - self.last_print > 30:
            left = "" if math.isnan(seconds_left) else f", about {_duration(seconds_left)} left"
            print(f"{self.name}: {done}/{total} runs ({100 * done / total:.0f}%){left}",
                  file=sys.stderr, flush=True)
            self.last_print = now
        self.last_done = done

    def close(self) -> None:
        """End the bar, if there is one."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _duration(seconds: float) -> str:
    """A time left, given in seconds, as a short text: s, min or h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sensitivity_command(args: argparse.Namespace) -> int:
    """Analyse a finished sweep, write its tables and plots and print the indices;
    returns the exit code."""
    from ..analysis.sensitivity import (  # pulls in pandas, SALib and matplotlib
        SensitivityError,
        analyse,
        text_table,
        write_sensitivity,
    )
    from ..io.sweep_store import SweepStoreError

    try:
        out = prepare_folder(Path(args.out) if args.out else Path(args.results) / "sensitivity",
                             force=args.force)
        result = analyse(args.results, metrics=args.metrics, response=args.response)
    except (SensitivityError, SweepStoreError, OutputError) as exc:
        return error(str(exc))
    paths = write_sensitivity(result, out)
    print(text_table(result))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"\nwrote {len(paths)} files to {printable(out.path)}")
    return 0
