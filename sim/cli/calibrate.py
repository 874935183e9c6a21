"""``treatsim calibrate``: fit a baseline's free parameters to cited targets, check the
fit on every target and print it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..io.outputs import OutputError, prepare_file
from ..scenario import ScenarioError
from ..text import printable
from .common import EXIT_INTERRUPTED, error


def calibrate_command(args: argparse.Namespace) -> int:
    """Search for the fit (resuming from the cache), check it, write it and print it;
    returns the exit code."""
    from ..analysis.calibrate import (  # pulls in pandas and the model
        calibrate,
        check_fit,
        default_out_dir,
        fit_paths,
        load_targets,
        write_fit,
    )

    try:
        targets, _, _ = load_targets(args.targets)
    except ScenarioError as exc:
        return error(exc.message())
    out_dir = Path(args.out) if args.out else default_out_dir(Path(args.targets))
    try:
        for path in fit_paths(targets.area, out_dir).values():
            prepare_file(path, force=args.force, create_parents=True)
    except OutputError as exc:
        return error(f"{args.targets}: --out: {exc}")
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
    _print_fit(fit, rows, paths)
    return 0


def _print_fit(fit: dict[str, Any], rows: list[dict[str, Any]],
               paths: dict[str, Path]) -> None:
    """The fitted values, each target against its simulated value, and the files written."""
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
