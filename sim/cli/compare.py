"""``treatsim compare``: scenarios on common random numbers, their tables, the HTML
report and a summary of each headline difference from the base."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..execute.limits import estimate_run, sum_estimates
from ..io.outputs import OutputError, OutputTarget, prepare_file, write_owned_file
from ..scenario import Scenario, ScenarioError, load_scenario, scenario_warnings
from ..text import printable
from . import uncertainty
from .common import EXIT_INTERRUPTED, error, output_folder, too_big_refusal, warn

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import Comparison
    from ..uncertainty.assume import Assumptions
    from ..uncertainty.priors import Prior
    from ..uncertainty.results import Uncertainty


def compare_command(args: argparse.Namespace) -> int:
    """Compare the scenarios, write the tables (and report) and print the headline
    differences; returns the exit code."""
    from ..analysis.compare import compare  # pulls in pandas and scipy
    from ..io.results import write_comparison

    inputs = _compare_inputs(args)
    if isinstance(inputs, str):
        return error(inputs)
    scenarios, out, report, priors, assumed = inputs
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
    cmp.assumptions, cmp.assumption_sentences = dict(assumed.settings), assumed.sentences()
    unc, status = uncertainty.run_keeping(args, cmp, priors)
    uncertainty.attach(cmp, unc)
    seconds = time.perf_counter() - t0
    try:
        folder = write_comparison(cmp, out, sources=[args.base, *args.alternatives],
                                  seconds=seconds, uncertainty=unc)
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    status = _write_report(cmp, seconds, report, args.force, folder, unc,
                           args.report_pdf) or status
    print(_comparison_text(cmp, unc))
    for w in cmp.warnings:
        warn(w)
    if cmp.precision_note:
        print(cmp.precision_note)
    done = f"; report {printable(report)}" if report and status == 0 else ""
    print(f"{cmp.reps} replications per scenario, seed {cmp.seed}, {seconds:.0f} s; "
          f"tables in {printable(folder)}{done}")
    return status


class _Inputs(NamedTuple):
    """What ``compare`` runs on, checked before anything runs."""

    scenarios: list[Scenario]
    out: OutputTarget
    report: Path | None
    priors: list[Prior] | None
    assumed: Assumptions


def _compare_inputs(args: argparse.Namespace) -> _Inputs | str:
    """The scenarios (with the ``--assume`` settings), the checked tables folder, the
    checked report file, the priors still uncertain (None when no uncertainty runs are
    asked for) and the assumptions; or the message saying what is wrong (nothing has
    run)."""
    scenarios, problems = [], []
    for f in [args.base, *args.alternatives]:
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as exc:
            problems.append(exc.message())
    if problems:
        return "\n".join(problems)
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        return (f"{args.base}: the scenarios to compare need different names, got "
                f"{', '.join(names)}")
    loaded = uncertainty.load(args, names) if uncertainty.wanted(args) or args.assume else None
    if isinstance(loaded, str):
        return loaded
    assumed = uncertainty.assume(args, scenarios, loaded)
    if isinstance(assumed, str):
        return assumed
    scenarios, priors, assumptions = assumed
    reps = args.reps or (args.max_reps if args.precision else scenarios[0].run.replications)
    estimates = [estimate_run(s, reps, args.workers) for s in scenarios]
    total = sum_estimates([*estimates, *uncertainty.estimate(args, scenarios, priors or [],
                                                             reps)])
    refusal = too_big_refusal(args.base, total, args.force)
    if refusal:
        return refusal
    try:
        out = output_folder(args.out, Path("results") / f"compare-{names[0]}", args.force,
                            total.kept_bytes)
    except OutputError as exc:
        return f"{args.base}: --out: {exc}"
    report, problem = _report_files(args)
    if problem:
        return problem
    for sc in scenarios:
        for w in scenario_warnings(sc):
            warn(w)
    return _Inputs(scenarios, out, report, priors, assumptions)


def _report_files(args: argparse.Namespace) -> tuple[Path | None, str | None]:
    """The checked ``--report`` file and, if asked for, the checked ``--report-pdf``
    file beside it; or the message saying what is wrong."""
    if args.report_pdf and not args.report:
        return None, f"{args.base}: --report-pdf: needs --report (the HTML it prints)"
    try:
        report = prepare_file(args.report, force=args.force) if args.report else None
    except OutputError as exc:
        return None, f"{args.base}: --report: {exc}"
    if args.report_pdf:
        try:
            prepare_file(args.report_pdf, force=args.force)
        except OutputError as exc:
            return None, f"{args.base}: --report-pdf: {exc}"
    return report, None


def _write_report(cmp: Comparison, seconds: float, report: Path | None, force: bool,
                  folder: Path, unc: Uncertainty | None = None, pdf: str | None = None
                  ) -> int:
    """Render and write the HTML report (and its PDF), if asked for; 0 on success, 1
    (with a message saying the tables are kept in ``folder``) if it could not be
    written. ``seconds`` is the comparison's wall-clock time in seconds."""
    if report is None:
        return 0
    from ..analysis.report import render  # pulls in matplotlib

    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        html = render(cmp, seconds, unc, run=run)
        write_owned_file(report, lambda tmp: tmp.write_text(html, encoding="utf-8"), force)
    except (OSError, OutputError) as exc:
        print(f"compare: the report could not be written ({printable(exc)}); the tables "
              f"are kept in {printable(folder)}", file=sys.stderr)
        return 1
    if pdf:
        from ..analysis.report_pdf import PdfError, write_pdf

        try:
            write_owned_file(Path(pdf), lambda tmp: write_pdf(report, tmp), force)
        except (OSError, OutputError, PdfError) as exc:
            print(f"compare: the PDF could not be printed ({printable(exc)}); the HTML "
                  f"report is {printable(report)}", file=sys.stderr)
            return 1
    return 0


def _comparison_text(cmp: Comparison, unc: Uncertainty | None = None) -> str:
    """Headline metrics: each scenario's mean [95% CI] and each difference from the base
    (percentage points for shares), with the uncertainty interval over parameter sets
    when there are draws; the judgement warnings first."""
    from ..metrics import HEADLINE, METRICS, format_diff, format_interval  # pulls in pandas
    from ..metrics import format_value as fmt

    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    names = [sc.name for sc in cmp.scenarios]
    base = names[0]
    lines = uncertainty.assumed_lines(cmp)
    lines += uncertainty.summary_lines(unc) if unc else []
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
                text += (f"   diff {format_diff(q['diff_mean'], unit)} "
                         f"[{format_interval(q['ci_low'], q['ci_high'], unit)}]"
                         f"{' *' if clear else ''}"
                         + uncertainty.interval_text(unc, name, metric, unit))
            lines.append(text)
    lines.append("* the 95% CI of the paired difference excludes zero")
    if unc is not None and unc.draws:
        lines.append(f"UI: 95% uncertainty interval over {unc.draws} parameter sets from "
                     f"{unc.source} ({unc.reps_per_draw} replications each), with the "
                     "Monte Carlo error")
    return "\n".join(lines)
