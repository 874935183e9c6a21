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
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import __version__

if TYPE_CHECKING:  # pragma: no cover
    from .compare import Comparison

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
    r.add_argument("--seed", type=_non_negative, help="base seed (default: run.seed)")
    r.add_argument("--workers", type=_positive, default=1,
                   help="processes to run replications on (default 1)")
    r.add_argument("--out", help="output folder (default results/<scenario name>)")
    r.add_argument("--all", action="store_true", help="print every metric, not the headline")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="check scenario files without running them")
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
    m.add_argument("--seed", type=_non_negative, help="shared seed (default: the base's)")
    m.add_argument("--workers", type=_positive, default=1)
    m.add_argument("--report", help="write the HTML report to this file")
    m.add_argument("--out", help="folder for the tables (default results/compare-BASE)")
    m.add_argument("--quiet", action="store_true", help="no progress")

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

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    s.add_argument("--out", help="write to this file instead of standard output")
    return ap


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
        return _schema(args.out)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "compare":
        return _compare(args)
    return _run(args)


def _error(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_BAD_INPUT


def _validate(files: list[str]) -> int:
    from .scenario import ScenarioError, load_scenario

    status = 0
    for f in files:
        try:
            sc = load_scenario(f)
        except ScenarioError as exc:
            _error(exc.message())
            status = EXIT_BAD_INPUT
            continue
        print(f"{f}: ok ({sc.name}: {len(sc.policies)} policies, "
              f"{sc.run.warmup_years}+{sc.run.years} years)")
    return status


def _schema(out: str | None) -> int:
    from .scenario import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _run(args: argparse.Namespace) -> int:
    from .runner import run
    from .scenario import ScenarioError, load_scenario
    from .store import write_results

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _error(exc.message())
    reps = args.reps or scenario.run.replications
    out = Path(args.out) if args.out else Path("results") / scenario.name
    bar = None
    if not args.quiet and sys.stderr.isatty() or os.environ.get("TREATSIM_PROGRESS"):
        from tqdm import tqdm

        bar = tqdm(total=reps, desc=scenario.name, unit="rep", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)
        elif not args.quiet:
            print(f"{scenario.name}: {done}/{total} replications", file=sys.stderr)

    results = run(scenario, reps=reps, seed=args.seed, workers=args.workers, progress=progress)
    if bar is not None:
        bar.close()
    results.meta["workers"] = args.workers
    write_results(results, out, source=args.scenario)
    print(_summary_text(results.summary, everything=args.all))
    state = "" if results.complete else f" (interrupted: {len(results.reps)} of {reps} reps)"
    print(f"\n{len(results.reps)} replications in {results.seconds:.1f} s, "
          f"seed {results.seed}; tables in {out}{state}")
    return 0 if results.complete else EXIT_INTERRUPTED


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

    from .calibrate import calibrate, check_fit, load_targets, write_fit
    from .scenario import ScenarioError

    try:
        load_targets(args.targets)
    except ScenarioError as exc:
        return _error(exc.message())
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
    paths = write_fit(fit, rows, fit["out_dir"])
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

    from .compare import compare
    from .scenario import ScenarioError, load_scenario
    from .store import write_comparison

    scenarios, problems = [], []
    for f in [args.base, *args.alternatives]:
        try:
            scenarios.append(load_scenario(f))
        except ScenarioError as exc:
            problems.append(exc.message())
    if problems:
        return _error("\n".join(problems))
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        return _error(f"{args.base}: the scenarios to compare need different names, got "
                      f"{', '.join(names)}")
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
    out = Path(args.out) if args.out else Path("results") / f"compare-{scenarios[0].name}"
    write_comparison(cmp, out, sources=[args.base, *args.alternatives], seconds=seconds)
    if args.report:
        from .report import render

        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        tmp = report.with_name(f".{report.name}.tmp")
        tmp.write_text(render(cmp, seconds), encoding="utf-8")
        os.replace(tmp, report)
    print(_comparison_text(cmp))
    for w in cmp.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if cmp.precision_note:
        print(cmp.precision_note)
    done = f"; report {args.report}" if args.report else ""
    print(f"{cmp.reps} replications per scenario, seed {cmp.seed}, {seconds:.0f} s; "
          f"tables in {out}{done}")
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
