"""Same model, other engine: each baseline's headline metrics, this checkout against another
commit, over many replications, with a two-sample test per metric.

    python benchmarks/equivalence.py --ref 602b93e            # 50 replications a side
    python benchmarks/equivalence.py --ref 602b93e --reps 10 --areas middlesbrough

A change to the engine that keeps the model's distribution (thinning instead of an event
at every review, say) changes which random numbers are drawn, so single replications
differ; their distribution must not. For every area this runs the *same* scenario file
(the other commit's, so that both engines see the same parameters) through both engines:
the other commit in a ``git worktree`` beside this checkout, each engine in its own
process. Per headline metric (the mean over the reporting years) it prints both means,
Welch's t-test p-value and the Mann-Whitney p-value, then how many of the tests fall
below 1% against the number expected by chance, and the smallest Holm-adjusted p-value.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("rotherham", "middlesbrough", "east_sussex", "gateshead", "hampshire")


def child(checkout: Path, scenario: Path, reps: int) -> None:
    """Print, as JSON, the headline metrics of ``reps`` replications of ``scenario`` run by
    the engine in ``checkout``."""
    sys.path.insert(0, str(checkout))
    from sim.metrics import HEADLINE, key_values, replication_tables
    from sim.model import simulate
    from sim.scenario import load_scenario

    sc = load_scenario(scenario)
    rows = []
    for rep in range(reps):
        rec = simulate(sc, sc.run.seed, rep)
        yearly = replication_tables(rec, sc.name, rep, sc.run.seed)["yearly"]
        rows.append(key_values(yearly, list(HEADLINE)))
    print(json.dumps(rows))


def run_engine(checkout: Path, scenario: Path, reps: int) -> list[dict[str, float]]:
    """The rows of :func:`child`, run in a fresh process."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(checkout),
         str(scenario), str(reps)],
        check=True, capture_output=True, text=True, cwd=checkout,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(before: list[dict[str, float]], after: list[dict[str, float]]) -> list[tuple]:
    """Per metric: (metric, mean before, mean after, Welch p, Mann-Whitney p)."""
    from scipy import stats

    rows = []
    for metric in before[0]:
        a = [r[metric] for r in before if not math.isnan(r[metric])]
        b = [r[metric] for r in after if not math.isnan(r[metric])]
        if len(a) < 3 or len(b) < 3 or (min(a) == max(a) and min(b) == max(b)):
            rows.append((metric, _mean(a), _mean(b), math.nan, math.nan))
            continue
        welch = stats.ttest_ind(a, b, equal_var=False).pvalue
        mann = stats.mannwhitneyu(a, b).pvalue
        rows.append((metric, _mean(a), _mean(b), float(welch), float(mann)))
    return rows


def _mean(x: list[float]) -> float:
    return sum(x) / len(x) if x else math.nan


def holm_min(pvalues: list[float]) -> float:
    """The smallest Holm-adjusted p-value of ``pvalues``."""
    m = len(pvalues)
    return min(1.0, min(pvalues) * m) if m else math.nan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", help="the commit to compare against (checked out beside)")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--areas", default=",".join(AREAS))
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    if not args.ref:
        ap.error("--ref is required")
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other),
                        args.ref], check=True, capture_output=True)
        try:
            report(other, args.ref, args.reps, args.areas.split(","))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(other)], check=False, capture_output=True)


def report(other: Path, ref: str, reps: int, areas: list[str]) -> None:
    """Run every area through both engines and print the tests."""
    welch_p, mann_p = [], []
    print(f"{reps} replications a side; before = {ref}, after = this checkout")
    for area in areas:
        scenario = other / "scenarios" / f"{area}.yaml"
        with ThreadPoolExecutor(2) as pool:
            before_f = pool.submit(run_engine, other, scenario, reps)
            after_f = pool.submit(run_engine, ROOT, scenario, reps)
            before, after = before_f.result(), after_f.result()
        print(f"\n{area}")
        print(f"  {'metric':32s} {'before':>12s} {'after':>12s} {'Welch p':>8s} {'M-W p':>8s}")
        for metric, a, b, pw, pm in compare(before, after):
            print(f"  {metric:32s} {a:12.4g} {b:12.4g} {pw:8.3f} {pm:8.3f}", flush=True)
            if not math.isnan(pw):
                welch_p.append(pw)
                mann_p.append(pm)
    n = len(welch_p)
    print(f"\n{n} tests: Welch p < 0.01 in {sum(p < 0.01 for p in welch_p)}, Mann-Whitney "
          f"p < 0.01 in {sum(p < 0.01 for p in mann_p)}; expected by chance {n * 0.01:.1f}. "
          f"Smallest Holm-adjusted p: Welch {holm_min(welch_p):.3f}, "
          f"Mann-Whitney {holm_min(mann_p):.3f}")


if __name__ == "__main__":
    main()
