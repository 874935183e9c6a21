"""``treatsim calibrate``: fit a baseline's free parameters to cited targets, check the
fit on every target and print it; with ``--posterior`` (or ``--posterior-only``, which
leaves the point fit's files alone) also find the posterior by ABC-SMC."""

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

POSTERIOR_FLAGS = ("particles", "generations", "epsilon", "predictive_sets",
                   "predictive_reps")
"""Options that only the posterior uses."""
FIT_FLAGS = ("reps", "max_evaluations", "fresh")
"""Options that only the point fit's search uses."""


def calibrate_command(args: argparse.Namespace) -> int:
    """Search for the fit (resuming from the cache), check it, write it and print it;
    then, if asked, the posterior. Returns the exit code."""
    from ..analysis.calibrate import default_out_dir, fit_paths, load_targets
    from ..analysis.posterior_plot import prepare_posterior_files

    try:
        targets, _, _ = load_targets(args.targets)
    except ScenarioError as exc:
        return error(exc.message())
    problem = _flag_problem(args)
    if problem:
        return error(f"{args.targets}: {problem}")
    out_dir = Path(args.out) if args.out else default_out_dir(Path(args.targets))
    posterior = args.posterior or args.posterior_only
    try:
        if not args.posterior_only:
            for path in fit_paths(targets.area, out_dir).values():
                prepare_file(path, force=args.force, create_parents=True)
        if posterior:
            prepare_posterior_files(targets.area, out_dir, force=args.force)
    except OutputError as exc:
        return error(f"{args.targets}: --out: {exc}")
    point = None
    if not args.posterior_only:
        code, point = _point_fit(args)
        if code:
            return code
    return _posterior(args, out_dir, targets, point) if posterior else 0


def _flag_problem(args: argparse.Namespace) -> str | None:
    """Why the options do not go together, or None."""
    given = [f for f in POSTERIOR_FLAGS if getattr(args, f) is not None]
    if given and not (args.posterior or args.posterior_only):
        return (f"--{given[0].replace('_', '-')} is an option of the posterior; add "
                f"--posterior (after the point fit) or --posterior-only")
    if args.posterior_only:
        fit = [f for f in FIT_FLAGS if getattr(args, f)]
        if fit:
            return (f"--{fit[0].replace('_', '-')} is an option of the point fit's search, "
                    f"which --posterior-only does not run; drop it, or use --posterior")
    return None


def _point_fit(args: argparse.Namespace) -> tuple[int, dict[str, float] | None]:
    """The point fit as ``calibrate`` has always made it: (exit code, parameters)."""
    from ..analysis.calibrate import calibrate, check_fit, write_fit

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
        return EXIT_INTERRUPTED, None
    if fit["replayed"]:
        print(f"calibrate: resumed, {fit['replayed']} evaluations replayed from the cache",
              file=sys.stderr)
    rows = check_fit(fit["scenario"], fit["targets"], fit["parameters"], args.check_reps)
    fit["reps"] = args.check_reps
    try:
        paths = write_fit(fit, rows, fit["out_dir"], force=args.force)
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1, None
    _print_fit(fit, rows, paths)
    return 0, fit["parameters"]


def _posterior(args: argparse.Namespace, out_dir: Path, targets: Any,
               point: dict[str, float] | None) -> int:
    """Find the posterior, write its files and print it; returns the exit code."""
    from ..analysis.posterior import AbcSettings, calibrate_posterior
    from ..analysis.posterior_plot import write_posterior

    t0 = time.perf_counter()

    def progress(t: int, accepted: int, particles: int, simulated: int) -> None:
        if not args.quiet:
            stage = "prior sample" if t < 0 else f"generation {t}"
            print(f"posterior: {stage}, {accepted}/{particles} accepted of {simulated} "
                  f"simulated, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    settings = AbcSettings(particles=args.particles or 200, generations=args.generations or 5,
                           epsilon=args.epsilon or 1.0, seed=targets.seed)
    try:
        post = calibrate_posterior(args.targets, settings, sets=args.predictive_sets or 40,
                                   reps=args.predictive_reps or 3, workers=args.workers,
                                   progress=progress)
    except KeyboardInterrupt:
        print("posterior: stopped; no posterior file was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        paths = write_posterior(post, out_dir, force=args.force,
                                point=point or _saved_point(out_dir, targets.area),
                                command=_command(args, settings, post))
    except OutputError as exc:
        print(printable(exc), file=sys.stderr)
        return 1
    _print_posterior(post, paths, time.perf_counter() - t0)
    return 0


def _saved_point(out_dir: Path, area: str) -> dict[str, float] | None:
    """The parameters of the point fit already in ``out_dir``, if any."""
    import yaml

    try:
        doc = yaml.safe_load((out_dir / f"{area}.yaml").read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in doc["parameters"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError):
        return None


def _command(args: argparse.Namespace, settings: Any, post: dict[str, Any]) -> str:
    """The command that makes this posterior again, every setting spelled out."""
    mode = "--posterior-only" if args.posterior_only else "--posterior"
    return (f"treatsim calibrate {args.targets} {mode} --particles {settings.particles} "
            f"--generations {settings.generations} --epsilon {settings.epsilon:g} "
            f"--predictive-sets {post['sets']} --predictive-reps {post['reps']}")


def _print_posterior(post: dict[str, Any], paths: dict[str, Path], seconds: float) -> None:
    """Each parameter's posterior, each target's predictive and the files written."""
    from ..analysis.posterior_plot import parameter_summary, target_summary

    targets, abc = post["targets"], post["abc"]
    bounds = {fp.path: (fp.low, fp.high) for fp in targets.free_parameters}
    for p in parameter_summary(abc.frame, bounds):
        print(f"posterior {p['path']}: mean {p['mean']:.4g}, 95% interval {p['lo']:.4g} "
              f"to {p['hi']:.4g} (prior {p['low']:.4g} to {p['high']:.4g})")
    rows = target_summary(targets, post["predictive"])
    for held in (False, True):
        part = [r for r in rows if r["held_out"] is held]
        print(f"{'held-out' if held else 'fitted'} targets within (posterior predictive): "
              f"{sum(r['within'] for r in part)}/{len(part)}")
        for r in part:
            print(f"  {'ok ' if r['within'] else 'MISS'} {r['name']:<36} reported "
                  f"{r['reported']:<10.4g} predictive {r['mean']:<10.4g} ({r['lo']:.4g} to "
                  f"{r['hi']:.4g})")
    print(f"posterior: {abc.simulations} simulations in {abc.seconds:.0f} s, predictive "
          f"{post['sets']}x{post['reps']} in {post['predictive_seconds']:.0f} s, "
          f"{seconds:.0f} s in all; wrote {paths['parquet']}, {paths['md']}, {paths['png']}")


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
