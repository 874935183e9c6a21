"""The parameter-uncertainty part of ``treatsim compare``: which extra runs the options
ask for, their work estimate, running them, and their lines of the printed summary."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from typing import TYPE_CHECKING

from ..execute.limits import WorkEstimate, estimate_run
from ..scenario import Scenario
from ..text import printable
from .common import warn

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import Comparison
    from ..uncertainty.assume import Assumptions
    from ..uncertainty.priors import Prior
    from ..uncertainty.results import Uncertainty


def wanted(args: argparse.Namespace) -> bool:
    """Whether the options ask for any uncertainty runs (there must be alternatives)."""
    return bool(args.alternatives) and bool(args.draws or args.drivers or not args.no_checks)


def load(args: argparse.Namespace, names: list[str]) -> list[Prior] | str:
    """The priors of ``--evidence`` (default the checkout's evidence file) and of the
    compared scenarios' judgements files, or the message saying why they cannot be read."""
    from ..uncertainty.priors import EVIDENCE, PriorError, scenario_priors

    try:
        return scenario_priors([args.base, *args.alternatives], names,
                               args.evidence or EVIDENCE)
    except PriorError as exc:
        return f"{args.base}: {exc}"


def assume(args: argparse.Namespace, scenarios: list[Scenario], priors: list[Prior] | None
           ) -> tuple[list[Scenario], list[Prior] | None, Assumptions] | str:
    """The scenarios with the ``--assume`` settings applied, the priors still uncertain
    (the assumed ones left out; None when no uncertainty runs are asked for) and the
    assumptions; or the message saying which ``--assume`` is wrong (nothing has run)."""
    from ..uncertainty.assume import (
        AssumeError,
        Assumptions,
        apply_assumptions,
        parse_assumptions,
    )

    if not args.assume or priors is None:
        return scenarios, priors if wanted(args) else None, Assumptions()
    try:
        assumed = parse_assumptions(args.assume, priors)
        moved, changed = apply_assumptions(scenarios, priors, assumed)
    except AssumeError as exc:
        return f"{args.base}: {exc}"
    if not changed:
        warn(f"--assume: no compared scenario uses the central value of "
             f"{', '.join(assumed.settings)}, so the assumption changes nothing")
    return moved, assumed.fixed(priors) if wanted(args) else None, assumed


def assumed_lines(cmp: Comparison) -> list[str]:
    """'ASSUMED: … at the low end of its range', one a ``--assume``, for the top of the
    printed summary."""
    return [f"ASSUMED: {printable(s)}" for s in cmp.assumption_sentences]


def settings_count(args: argparse.Namespace, priors: list[Prior]) -> int:
    """How many one-at-a-time settings the checks (or the tornado) will run, with the
    central one."""
    from ..uncertainty.analysis import one_at_a_time

    if args.no_checks and not args.drivers:
        return 0
    return 1 + len(one_at_a_time(priors, judgements_only=not args.drivers))


def estimate(args: argparse.Namespace, scenarios: list[Scenario], priors: list[Prior],
             reps: int) -> list[WorkEstimate]:
    """The extra work of the uncertainty runs, per scenario (their runs keep no tables)."""
    if not wanted(args):
        return []
    extra = settings_count(args, priors) * (args.check_reps or reps)
    if args.draws:
        extra += (args.draws + 1) * args.draw_reps
    out = []
    for sc in scenarios:
        e = estimate_run(sc, extra, args.workers)
        out.append(dataclasses.replace(e, peak_bytes=e.peak_bytes - e.kept_bytes,
                                       kept_bytes=0.0))
    return out


def run(args: argparse.Namespace, cmp: Comparison, priors: list[Prior]) -> Uncertainty:
    """Run what the options ask for on ``cmp``'s seed and replications."""
    from ..execute.executors import Executor
    from ..uncertainty.analysis import analyse

    posterior = None
    if args.draws:
        from ..analysis.posterior import load_posterior

        posterior = load_posterior(cmp.base)
    source = "the priors in the evidence file and the scenarios' judgements files"
    if posterior is not None:
        source = (f"the {cmp.base} calibration posterior ({len(posterior)} parameter sets) "
                  "and the priors in the evidence and judgements files")

    def progress(label: str, done: int, total: int) -> None:
        if not args.quiet:
            print(f"{label}: {done}/{total} runs", file=sys.stderr, flush=True)

    return analyse(cmp, priors, Executor(workers=args.workers, scheduler=args.scheduler,
                                         dask_local=args.dask_local),
                   draws=args.draws, draw_reps=args.draw_reps, checks=not args.no_checks,
                   drivers=args.drivers, check_reps=args.check_reps, posterior=posterior,
                   source=source, progress=progress)


def run_keeping(args: argparse.Namespace, cmp: Comparison, priors: list[Prior] | None
                ) -> tuple[Uncertainty | None, int]:
    """:func:`run`, and the exit status it leaves: 0, or 130 (interrupted) or 1 (a run
    failed) with a message; the finished comparison is written either way."""
    from ..uncertainty.runs import UncertaintyRunFailed

    if priors is None:
        return None, 0
    try:
        return run(args, cmp, priors), 0
    except KeyboardInterrupt:
        print("compare: interrupted during the uncertainty runs; the comparison is written "
              "without them", file=sys.stderr)
        return None, 130
    except UncertaintyRunFailed as exc:
        print(f"compare: {printable(exc)}\nthe comparison is written without the "
              "uncertainty runs", file=sys.stderr)
        return None, 1


def summary_lines(unc: Uncertainty) -> list[str]:
    """The judgement warnings, for the top of the printed summary."""
    return [f"NOTE: {printable(w)}" for w in unc.warnings]


def interval_text(unc: Uncertainty | None, alt: str, metric: str, unit: str) -> str:
    """'; UI [a to b], better in 87% of draws' for one difference ('' without draws)."""
    from ..metrics import format_interval

    if unc is None or unc.intervals.empty:
        return ""
    rows = unc.intervals[(unc.intervals["scenario"] == alt) & (unc.intervals["metric"] == metric)]
    if rows.empty:
        return ""
    r = rows.iloc[0]
    text = f"; UI [{format_interval(r['ui_low'], r['ui_high'], unit)}]"
    if not math.isnan(r["p_better"]):
        text += f", better in {100 * r['p_better']:.0f}% of draws"
    return text


def attach(cmp: Comparison, unc: Uncertainty | None) -> None:
    """Put the uncertainty intervals beside the Monte Carlo ones in ``cmp.comparison``:
    ``ui_low``, ``ui_high`` and ``p_better`` (NaN where nothing was drawn)."""
    import pandas as pd

    d = cmp.comparison
    if d.empty:
        return
    cols = ["ui_low", "ui_high", "p_better"]
    if unc is None or unc.intervals.empty:
        for c in cols:
            d[c] = float("nan")
        return
    merged = d.drop(columns=[c for c in cols if c in d]).merge(
        unc.intervals[["scenario", "metric", *cols]], on=["scenario", "metric"], how="left")
    cmp.comparison = pd.DataFrame(merged)
