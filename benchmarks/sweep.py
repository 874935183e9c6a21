"""Sweep throughput, printed (never asserted).

    python benchmarks/sweep.py            # 24 runs of the Middlesbrough baseline
    python benchmarks/sweep.py --small    # a quick version for CI logs (the example, 2 years)

Runs the same Latin-hypercube sweep (each run written to the store as it finishes) on
one process, on a process pool of 2 and on a local Dask cluster of 2 workers, and prints
runs per second (the best of ``--repeats`` timings; the Dask timing includes starting
its cluster), the parallel efficiency of each 2-worker executor (its rate over twice the
serial rate) and the time the store takes to write a run. It checks that every
executor gave the same table (the sweep is only worth timing if it is right).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.execute.sweep import run_sweep  # noqa: E402
from sim.io.sweep_store import SweepStore, read_runs  # noqa: E402
from sim.sweep import load_sweep  # noqa: E402


def sweep_file(folder: Path, small: bool) -> Path:
    """A Latin-hypercube sweep over three inputs; returns its path."""
    if small:
        base = yaml.safe_load((ROOT / "scenarios" / "example.yaml").read_text())
        base["run"].update({"warmup_years": 1, "years": 2})
        (folder / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
        scenario, samples, staff = "base.yaml", 8, [14, 22]
    else:
        scenario, samples, staff = str(ROOT / "scenarios" / "middlesbrough.yaml"), 12, [8, 14]
    spec = {
        "name": "benchmark", "scenario": scenario,
        "design": {"method": "lhs", "samples": samples},
        "parameters": [
            {"path": "keyworkers.staff", "range": staff},
            {"path": "referral.self.per_year", "range": [0.12, 0.2]},
            {"path": "modalities.ost.review.probabilities.planned_exit",
             "range": [0.015, 0.025]},
        ],
        "replications": 2, "seed": 1,
        "metrics": ["caseload_mean", "successful_completion_rate", "cost_total_gbp"],
    }
    path = folder / "benchmark.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="the example county over 2 years")
    ap.add_argument("--repeats", type=int, default=2, help="timings per executor (best kept)")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plan = load_sweep(sweep_file(folder, args.small))
        runs = len(plan.runs())
        print(f"sweep: {plan.base.name}, {plan.points} points x {plan.sweep.replications} "
              f"replications = {runs} runs, {plan.base.run.warmup_years}+"
              f"{plan.base.run.years} years each")
        rates: dict[str, float] = {}
        tables: dict[str, pd.DataFrame] = {}
        for label, kwargs in (("serial", {}), ("pool 2", {"workers": 2}),
                              ("dask local 2", {"dask_local": 2})):
            walls = []
            for repeat in range(args.repeats):
                out = folder / f"{label.replace(' ', '_')}-{repeat}"
                t0 = time.perf_counter()
                run_sweep(plan, out, **kwargs)
                walls.append(time.perf_counter() - t0)
                tables[label] = read_runs(out)
            rates[label] = runs / min(walls)
            extra = ""
            if label != "serial":
                eff = rates[label] / (2 * rates["serial"])
                extra = f"  parallel efficiency {eff:.0%}"
            print(f"{label:<13} {' '.join(f'{w:5.1f}' for w in walls)} s  best "
                  f"{rates[label]:5.2f} runs/s{extra}")
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster):
            pass
        start = time.perf_counter() - t0
        steady = runs / (runs / rates["dask local 2"] - start)
        print(f"dask: starting and stopping a 2-worker local cluster takes {start:.1f} s; "
              f"without it {steady:.2f} runs/s, efficiency {steady / (2 * rates['serial']):.0%}")
        same = all(t.equals(tables["serial"]) for t in tables.values())
        print(f"identical tables on every executor: {same}")

        store = SweepStore.open(folder / "store_only", plan)
        row = {"scenario_sha256": "0" * 16, "events": 1,
               **dict.fromkeys(plan.sweep.metrics, 1.0)}
        t0 = time.perf_counter()
        for point, rep in plan.runs():
            store.write_run(point, rep, row)
        per_run = (time.perf_counter() - t0) / runs
        print(f"store: {per_run * 1e3:.1f} ms to write one run's Parquet file atomically")


if __name__ == "__main__":
    main()
