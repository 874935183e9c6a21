"""``treatsim compare``: scenarios on common random numbers, their tables, the HTML
report and a summary of each headline difference from the base."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..execute.limits import estimate_run, sum_estimates
from ..io.outputs import OutputError, OutputTarget, prepare_file, write_owned_file
from ..scenario import Scenario, ScenarioError, load_scenario, scenario_warnings
from ..text import printable
from .common import EXIT_INTERRUPTED, error, output_folder, too_big_refusal, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import Comparison


def compare_command(args: argparse.Namespace) -> int:
    """Compare the scenarios, write the tables (and report) and print the headline
    differences; returns the exit code."""
    from ..analysis.compare import compare  # pulls in pandas and scipy
    from ..io.results import write_comparison

    scenarios, out, report = _compare_inputs(args)
    if isinstance(scenarios, str):
        return error(scenarios)
    t0 = time.perf_counter()

    def progress(name: str, done: int, total: int) -> None:
        if not args.quiet:
            print(f"{name}: {done}/{total} replications", file=sys.stderr, flush=True)

    try:
        cmp = compare(scenarios[0], scenarios[1:], reps=args.reps, seed=args.seed,
                      workers=args.workers, precision=args.precision,
                      max_reps=args.max_reps, progress=progress)
    except ValueError as exc:
        return error(f"{args.base}: {exc}")
    except KeyboardInterrupt:
        print("compare: interrupted before every scenario finished; nothing written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - t0
    try:
        folder = write_comparison(cmp, out, sources=[args.base, *args.alternatives],
                                  seconds=seconds)
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    status = _write_report(cmp, seconds, report, args.force, folder)
    print(_comparison_text(cmp))
    for w in cmp.warnings:
        warn(w)
    if cmp.precision_note:
        print(cmp.precision_note)
    done = f"; report {printable(report)}" if report and status == 0 else ""
    print(f"{cmp.reps} replications per scenario, seed {cmp.seed}, {seconds:.0f} s; "
          f"tables in {printable(folder)}{done}")
    return status


def _compare_inputs(args: argparse.Namespace
                    ) -> tuple[list[Scenario] | str, OutputTarget | None, Path | None]:
    """The scenarios, the checked tables folder and the checked report file; or, in
    place of the scenarios, the message saying what is wrong (nothing has run)."""
    scenarios, problems = [], []
    for f in [args.base, *args.alternatives]:
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as exc:
            problems.append(exc.message())
    if problems:
        return "\n".join(problems), None, None
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        return (f"{args.base}: the scenarios to compare need different names, got "
                f"{', '.join(names)}"), None, None
    reps = args.reps or (args.max_reps if args.precision else scenarios[0].run.replications)
    estimates = [estimate_run(s, reps, args.workers) for s in scenarios]
    total = sum_estimates(estimates)
    refusal = too_big_refusal(args.base, total, args.force)
    if refusal:
        return refusal, None, None
    try:
        out = output_folder(args.out, Path("results") / f"compare-{names[0]}", args.force,
                            total.kept_bytes)
    except OutputError as exc:
        return f"{args.base}: --out: {exc}", None, None
    try:
        report = prepare_file(args.report, force=args.force) if args.report else None
    except OutputError as exc:
        return f"{args.base}: --report: {exc}", None, None
    for sc in scenarios:
        for w in scenario_warnings(sc):
            warn(w)
    return scenarios, out, report


def _write_report(cmp: Comparison, seconds: float, report: Path | None, force: bool,
                  folder: Path) -> int:
    """Render and write the HTML report, if asked for; 0 on success, 1 (with a message
    saying the tables are kept in ``folder``) if it could not be written. ``seconds`` is
    the comparison's wall-clock time in seconds."""
    if report is None:
        return 0
    from ..analysis.report import render  # pulls in matplotlib

    try:
        html = render(cmp, seconds)
        write_owned_file(report, lambda tmp: tmp.write_text(html, encoding="utf-8"), force)
    except (OSError, OutputError) as exc:
        print(f"compare: the report could not be written ({printable(exc)}); the tables "
              f"are kept in {printable(folder)}", file=sys.stderr)
        return 1
    return 0


def _comparison_text(cmp: Comparison) -> str:
    """Headline metrics: each scenario's mean [95% CI] and each difference from the base."""
    from ..metrics import HEADLINE, METRICS  # pulls in pandas
    from ..metrics import format_value as fmt

    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    names = [sc.name for sc in cmp.scenarios]
    base = names[0]
    lines = []
    for metric in HEADLINE:
        unit = METRICS[metric]["unit"]
        lines.append(METRICS[metric]["label"])
        for name in names:
            if (name, metric) not in s.index:
                continue
            r = s.loc[(name, metric)]
            text = (f"  {name:<28} {fmt(r['mean'], unit):>12}  "
                    f"[{fmt(r['ci_low'], unit)} to {fmt(r['ci_high'], unit)}]")
            if name != base and (name, metric) in d.index:
                q = d.loc[(name, metric)]
                clear = q["ci_low"] > 0 or q["ci_high"] < 0
                text += (f"   diff {fmt(q['diff_mean'], unit)} "
                         f"[{fmt(q['ci_low'], unit)} to {fmt(q['ci_high'], unit)}]"
                         f"{' *' if clear else ''}")
            lines.append(text)
    lines.append("* the 95% CI of the paired difference excludes zero")
    return "\n".join(lines)
