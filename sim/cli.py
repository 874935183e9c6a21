"""The ``treatsim`` command: parse, load, run, write. Nothing else lives here.

Exit codes: 0 success, 2 a bad scenario or bad arguments (nothing written),
130 interrupted (finished replications are still written).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .execute.limits import WorkEstimate, estimate_run, estimate_sweep, sum_estimates, too_big
from .io.outputs import (
    OutputError,
    OutputTarget,
    prepare_file,
    prepare_folder,
    printable,
    write_owned_file,
)
from .scenario import MAX_SEED

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .analysis.compare import Comparison
    from .scenario import Scenario

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="treatsim",
        description="Simulate a local adult drug treatment system from a YAML scenario.",
    )
    ap.add_argument("--version", action="version", version=f"treatsim {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run replications of a scenario and write its tables")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--reps", type=_positive, help="replications (default: run.replications)")
    r.add_argument("--seed", type=_seed, help="base seed (default: run.seed)")
    r.add_argument("--workers", type=_positive, default=1,
                   help="processes to run replications on (default 1)")
    r.add_argument("--out", help="output folder (default results/<scenario name>)")
    r.add_argument("--all", action="store_true", help="print every metric, not the headline")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_force(r)

    v = sub.add_parser("validate", help="check scenario and sweep files without running them")
    v.add_argument("files", nargs="+")

    m = sub.add_parser("compare", help="compare scenarios on common random numbers")
    m.add_argument("base", help="the baseline scenario")
    m.add_argument("alternatives", nargs="+", help="what-if scenarios")
    g = m.add_mutually_exclusive_group()
    g.add_argument("--reps", type=_positive, help="replications (default: the base's)")
    g.add_argument("--precision", type=_share,
                   help="add replications until headline 95%% CI half-widths are within "
                        "this share of their means, e.g. 0.05")
    m.add_argument("--max-reps", type=_positive, default=100,
                   help="cap on replications with --precision (default 100)")
    m.add_argument("--seed", type=_seed, help="shared seed (default: the base's)")
    m.add_argument("--workers", type=_positive, default=1)
    m.add_argument("--report", help="write the HTML report to this file")
    m.add_argument("--out", help="folder for the tables (default results/compare-BASE)")
    m.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(m)

    c = sub.add_parser("calibrate", help="fit a baseline's free parameters to cited targets")
    c.add_argument("targets", help="calibration/targets/<area>.yaml")
    c.add_argument("--reps", type=_positive, help="replications per point (default: file)")
    c.add_argument("--workers", type=_positive, default=1, help="processes (default 1)")
    c.add_argument("--max-evaluations", type=_positive, help="search budget (default: file)")
    c.add_argument("--check-reps", type=_positive, default=20,
                   help="replications for the final check of every target (default 20)")
    c.add_argument("--fresh", action="store_true",
                   help="forget cached evaluations (by default a rerun resumes)")
    c.add_argument("--out", help="folder for the fit (default calibration/fitted)")
    c.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(c)

    w = sub.add_parser("sweep", help="run a sweep file: a design of parameter points, "
                       "replications of each, one table row per run")
    w.add_argument("sweep", help="sweep YAML file (scenarios/sweeps/)")
    ex = w.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=_positive, default=1,
                    help="processes on this machine (default 1: run in this process)")
    ex.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run on the Dask cluster with this scheduler (workers need treatsim "
                         "installed)")
    ex.add_argument("--dask-local", type=_positive, metavar="N",
                    help="start a local Dask cluster of N worker processes and run on it")
    w.add_argument("--out", help="sweep folder (default results/sweeps/<sweep name>)")
    w.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out, skipping its finished runs")
    w.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(w)

    a = sub.add_parser("sensitivity", help="Sobol or Morris indices (or a grid's response) "
                       "of a finished sweep, with tables and plots")
    a.add_argument("results", help="the sweep's folder")
    a.add_argument("--metrics", nargs="+", help="metrics to analyse (default: all kept)")
    a.add_argument("--response", nargs="+", metavar="PARAMETER",
                   help="one or two parameters for a grid's response plot")
    a.add_argument("--out", help="folder for tables and plots (default RESULTS/sensitivity)")
    _add_force(a)

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    s.add_argument("--out", help="write to this file instead of standard output")
    s.add_argument("--sweep", action="store_true", help="the schema of sweep files instead")
    _add_force(s)
    return ap


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true",
        help="go ahead where treatsim would refuse: an existing path that it did not write "
             "is moved aside (never deleted), and a run estimated to need more memory than "
             "this machine has, or more than a day, is started")


def _positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _seed(text: str) -> int:
    value = _non_negative(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most 2**63 - 1, got {value}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.05, got {text!r}") \
            from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``treatsim``; returns the process exit code."""
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # a scheduler's SIGTERM stops a run the way Ctrl-C does: finished work is kept
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    if args.command == "validate":
        return _validate(args.files)
    if args.command == "schema":
        return _schema(args.out, args.sweep, args.force)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "sensitivity":
        return _sensitivity(args)
    return _run(args)


def _error(message: str) -> int:
    print(printable(message), file=sys.stderr)
    return EXIT_BAD_INPUT


def _warn(message: str) -> None:
    print(f"warning: {printable(message)}", file=sys.stderr)


def _output_folder(given: str | None, default: Path, force: bool,
                   need_bytes: float = 0.0) -> OutputTarget:
    """The checked results folder: ``--out`` as given (its parent must exist), or the
    default under ``results/`` (made if missing). Raises :class:`OutputError`."""
    if given:
        return prepare_folder(Path(given), force=force, need_bytes=need_bytes)
    return prepare_folder(default, force=force, need_bytes=need_bytes, create_parents=True)


def _too_big(source: str, estimate: WorkEstimate, force: bool) -> str | None:
    """The refusal message for work that cannot fit in memory or a day, unless ``force``
    (then a warning is printed and the work goes ahead)."""
    problem = too_big(estimate)
    if problem is None:
        return None
    if force:
        _warn(f"{source}: {problem}; going ahead because of --force")
        return None
    return f"{source}: {problem}; add --force to run anyway"


def _validate(files: list[str]) -> int:
    from .scenario import ScenarioError, is_sweep_file, load_scenario, scenario_warnings

    status = 0
    for f in files:
        try:
            if is_sweep_file(f):
                from .sweep import load_sweep

                plan = load_sweep(f)
                print(f"{printable(f)}: ok (sweep {plan.sweep.name}: {plan.sweep.design.method} design, "
                      f"{plan.points} points x {plan.sweep.replications} replications = "
                      f"{len(plan.runs())} runs of {plan.base.name})")
                continue
            sc = load_scenario(f)
        except ScenarioError as exc:
            _error(exc.message())
            status = EXIT_BAD_INPUT
            continue
        for w in scenario_warnings(sc):
            _warn(w)
        print(f"{printable(f)}: ok ({sc.name}: {len(sc.policies)} policies, "
              f"{sc.run.warmup_years}+{sc.run.years} years)")
    return status


def _schema(out: str | None, sweep: bool = False, force: bool = False) -> int:
    from .scenario import json_schema
    from .sweep import sweep_json_schema

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
            return _error(f"--out: {exc}")
    else:
        sys.stdout.write(text)
    return 0


def _run(args: argparse.Namespace) -> int:
    from .execute.runner import run
    from .io.results import write_results
    from .scenario import ScenarioError, load_scenario, scenario_warnings

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _error(exc.message())
    reps = args.reps or scenario.run.replications
    estimate = estimate_run(scenario, reps, args.workers)
    refusal = _too_big(args.scenario, estimate, args.force)
    if refusal:
        return _error(refusal)
    try:
        out = _output_folder(args.out, Path("results") / scenario.name, args.force,
                             estimate.kept_bytes)
    except OutputError as exc:
        return _error(f"{args.scenario}: --out: {exc}")
    for w in scenario_warnings(scenario):
        _warn(w)
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
        from tqdm import tqdm

        bar = tqdm(total=reps, desc=name, unit="rep", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
        elif not quiet:
            print(f"{name}: {done}/{total} replications", file=sys.stderr)

    return progress, (bar.close if bar is not None else lambda: None)


def _fmt(x: float, unit: str) -> str:
    from .metrics import format_value

    return format_value(x, unit)


def _summary_text(summary: pd.DataFrame, everything: bool = False) -> str:
    """A readable table: metric, mean, 95% CI."""
    from .metrics import HEADLINE

    df = summary if everything else summary[summary["metric"].isin(HEADLINE)]
    if not everything:
        df = df.set_index("metric").loc[[m for m in HEADLINE if m in set(df["metric"])]]
        df = df.reset_index()
    width = max([len(str(s)) for s in df["label"]] + [6])
    lines = [f"{'metric':<{width}}  {'mean':>12}  95% CI"]
    for _, row in df.iterrows():
        ci = (f"{_fmt(row['ci_low'], row['unit'])} to {_fmt(row['ci_high'], row['unit'])}"
              if not math.isnan(row["ci_low"]) else "- (one replication)")
        lines.append(f"{row['label']:<{width}}  {_fmt(row['mean'], row['unit']):>12}  {ci}")
    return "\n".join(lines)


def _calibrate(args: argparse.Namespace) -> int:
    import time

    from .analysis.calibrate import (
        calibrate,
        check_fit,
        default_out_dir,
        fit_paths,
        load_targets,
        write_fit,
    )
    from .scenario import ScenarioError

    try:
        targets, _, _ = load_targets(args.targets)
    except ScenarioError as exc:
        return _error(exc.message())
    out_dir = Path(args.out) if args.out else default_out_dir(Path(args.targets))
    try:
        for path in fit_paths(targets.area, out_dir).values():
            prepare_file(path, force=args.force, create_parents=True)
    except OutputError as exc:
        return _error(f"{args.targets}: --out: {exc}")
    t0 = time.perf_counter()

    def progress(done: int, budget: int, best: float) -> None:
        if not args.quiet:
            print(f"calibrate: {done}/{budget} evaluations, best loss {best:.4g}, "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    try:
        fit = calibrate(args.targets, reps=args.reps, workers=args.workers,
                        max_evaluations=args.max_evaluations, fresh=args.fresh,
                        progress=progress, out_dir=args.out)
    except KeyboardInterrupt:
        print("calibrate: stopped; every finished evaluation is cached, run the same "
              "command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    if fit["replayed"]:
        print(f"calibrate: resumed, {fit['replayed']} evaluations replayed from the cache",
              file=sys.stderr)
    rows = check_fit(fit["scenario"], fit["targets"], fit["parameters"], args.check_reps)
    fit["reps"] = args.check_reps
    try:
        paths = write_fit(fit, rows, fit["out_dir"], force=args.force)
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    for name, value in fit["parameters"].items():
        print(f"{name} = {value:.6g}")
    for held in (False, True):
        part = [r for r in rows if r["held_out"] is held]
        print(f"{'held-out' if held else 'fitted'} targets within tolerance: "
              f"{sum(r['within'] for r in part)}/{len(part)}")
        for r in part:
            mark = "ok " if r["within"] else "MISS"
            print(f"  {mark} {r['name']:<36} reported {r['target']:<10.4g} "
                  f"simulated {r['simulated']:<10.4g} ({r['scaled_error']:+.2f} tol)")
    print(f"loss {fit['loss']:.4g} after {fit['evaluations']} evaluations in "
          f"{fit['seconds']:.0f} s; wrote {paths['yaml']}, {paths['md']}, {paths['png']}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    import time

    from .analysis.compare import compare
    from .io.results import write_comparison

    scenarios, out, report = _compare_inputs(args)
    if isinstance(scenarios, str):
        return _error(scenarios)
    t0 = time.perf_counter()

    def progress(name: str, done: int, total: int) -> None:
        if not args.quiet:
            print(f"{name}: {done}/{total} replications", file=sys.stderr, flush=True)

    try:
        cmp = compare(scenarios[0], scenarios[1:], reps=args.reps, seed=args.seed,
                      workers=args.workers, precision=args.precision,
                      max_reps=args.max_reps, progress=progress)
    except ValueError as exc:
        return _error(f"{args.base}: {exc}")
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
        _warn(w)
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
    from .scenario import ScenarioError, load_scenario, scenario_warnings

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
    refusal = _too_big(args.base, total, args.force)
    if refusal:
        return refusal, None, None
    try:
        out = _output_folder(args.out, Path("results") / f"compare-{names[0]}", args.force,
                             total.kept_bytes)
    except OutputError as exc:
        return f"{args.base}: --out: {exc}", None, None
    try:
        report = prepare_file(args.report, force=args.force) if args.report else None
    except OutputError as exc:
        return f"{args.base}: --report: {exc}", None, None
    for sc in scenarios:
        for w in scenario_warnings(sc):
            _warn(w)
    return scenarios, out, report


def _write_report(cmp: Comparison, seconds: float, report: Path | None, force: bool,
                  folder: Path) -> int:
    """Render and write the HTML report, if asked for; 0 on success, 1 (with a message
    saying the tables are kept in ``folder``) if it could not be written."""
    if report is None:
        return 0
    from .analysis.report import render

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
    from .metrics import HEADLINE, METRICS

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
            text = (f"  {name:<28} {_fmt(r['mean'], unit):>12}  "
                    f"[{_fmt(r['ci_low'], unit)} to {_fmt(r['ci_high'], unit)}]")
            if name != base and (name, metric) in d.index:
                q = d.loc[(name, metric)]
                clear = q["ci_low"] > 0 or q["ci_high"] < 0
                text += (f"   diff {_fmt(q['diff_mean'], unit)} "
                         f"[{_fmt(q['ci_low'], unit)} to {_fmt(q['ci_high'], unit)}]"
                         f"{' *' if clear else ''}")
            lines.append(text)
    lines.append("* the 95% CI of the paired difference excludes zero")
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    import time

    from .execute.sweep import RunFailed, run_sweep
    from .io.sweep_store import SweepStoreError
    from .scenario import ScenarioError
    from .sweep import load_sweep

    try:
        plan = load_sweep(args.sweep)
    except ScenarioError as exc:
        return _error(exc.message())
    refusal = _too_big(args.sweep, estimate_sweep(plan, args.workers or 1), args.force)
    if refusal:
        return _error(refusal)
    if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "inproc://",
                                                         "ucx://", "ws://", "wss://")):
        return _error(f"--scheduler: expected an address such as tcp://10.0.0.5:8786, got "
                      f"{args.scheduler!r}")
    out = Path(args.out) if args.out else Path("results") / "sweeps" / plan.sweep.name
    show = _SweepProgress(plan.sweep.name, quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        outcome = run_sweep(plan, out, workers=args.workers, scheduler=args.scheduler,
                            dask_local=args.dask_local, resume=args.resume, progress=show,
                            force=args.force)
    except SweepStoreError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        show.close()
        from .io.sweep_store import finished_runs

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
    rate = outcome.runs_per_second
    if outcome.finished_now == 0:
        print(f"{plan.sweep.name}: nothing to run; all {outcome.total} runs were already "
              f"finished in {printable(out)}")
    else:
        print(f"{plan.sweep.name}: {outcome.total} runs ({plan.points} points x "
              f"{plan.sweep.replications} replications, {plan.sweep.design.method} design); "
              f"{outcome.finished_now} run in {time.perf_counter() - t0:.1f} s "
              f"({rate:.2f} runs/s, {outcome.executor})"
              + (f", {outcome.finished_before} already done" if outcome.finished_before
                 else ""))
    shown = printable(out)
    print(f"table: {shown}/runs (Parquet, one file per run) and {shown}/runs.csv; "
          f"per-point means: {shown}/points.csv")
    return 0


class _SweepProgress:
    """Progress of a sweep on standard error: a bar on a terminal, else a line every 5%
    (or every 30 s), each with runs done and an estimate of the time left."""

    def __init__(self, name: str, quiet: bool) -> None:
        import time

        self.name, self.quiet, self.bar = name, quiet, None
        self.tty = sys.stderr.isatty() or bool(os.environ.get("TREATSIM_PROGRESS"))
        self.last_print = time.monotonic()
        self.last_done = -1

    def __call__(self, done: int, total: int, seconds_left: float) -> None:
        import time

        if self.quiet:
            return
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

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
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _sensitivity(args: argparse.Namespace) -> int:
    from .analysis.sensitivity import SensitivityError, analyse, text_table, write_sensitivity
    from .io.sweep_store import SweepStoreError

    try:
        out = prepare_folder(Path(args.out) if args.out else Path(args.results) / "sensitivity",
                             force=args.force)
        result = analyse(args.results, metrics=args.metrics, response=args.response)
    except (SensitivityError, SweepStoreError, OutputError) as exc:
        return _error(str(exc))
    paths = write_sensitivity(result, out)
    print(text_table(result))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"\nwrote {len(paths)} files to {printable(out.path)}")
    return 0
