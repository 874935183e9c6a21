"""Engine speed and memory, printed (never asserted).

    python benchmarks/engine.py            # full: 10-year Hampshire-scale replication
    python benchmarks/engine.py --small    # a quick version for CI logs

Prints:
* model events per second beside a bare SimPy timeout loop in the same process, and
  their ratio;
* wall time and peak memory of one 10-year replication at Hampshire scale (3,200 people
  using, 1,350 in treatment, about 900 new presentations a year), for the simulation
  alone and with the metric tables.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scenarios import hampshire_scale  # noqa: E402
from sim.metrics import replication_tables  # noqa: E402
from sim.model import simulate  # noqa: E402


def bare_simpy(events: int, processes: int = 1000) -> float:
    """Events per second of ``processes`` generators that only yield timeouts."""
    env = simpy.Environment()

    def tick(env: simpy.Environment, gap: float):
        while True:
            yield env.timeout(gap)

    for i in range(processes):
        env.process(tick(env, 1.0 + i / processes))
    until = events / processes
    t0 = time.perf_counter()
    env.run(until=until)
    dt = time.perf_counter() - t0
    return next(env._eid) / dt  # noqa: SLF001


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="2 years, 1 repeat (for CI logs)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    years, repeats = (2, 1) if args.small else (10, args.repeats)
    sc = hampshire_scale(years)

    walls, rates = [], []
    for rep in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        rec = simulate(sc, 1, rep)
        wall = time.perf_counter() - t0
        walls.append(wall)
        rates.append(rec.events / wall)
    bare = statistics.median(bare_simpy(rec.events) for _ in range(repeats))
    t0 = time.perf_counter()
    tables = replication_tables(rec, sc.name, 0, 1)
    metrics_s = time.perf_counter() - t0

    tracemalloc.start()
    simulate(sc, 1, 0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    model_rate = statistics.median(rates)
    yearly = tables["yearly"]
    pres = yearly[yearly["metric"] == "new_presentations"]["value"].mean()
    intx = yearly[yearly["metric"] == "in_treatment_during"]["value"].mean()
    print(f"scenario: Hampshire scale, {years} years, {repeats} repeat(s)")
    print(f"  model: {rec.events:,} events; new presentations {pres:,.0f}/year; "
          f"in treatment during year {intx:,.0f}")
    print(f"model events/s (median):     {model_rate:12,.0f}")
    print(f"bare SimPy events/s:         {bare:12,.0f}")
    print(f"ratio model/bare:            {model_rate / bare:12.3f}   (aim >= 0.35)")
    print(f"replication wall time (s):   {statistics.median(walls):12.2f}   (aim < 2 s), "
          f"all: {', '.join(f'{w:.2f}' for w in walls)}")
    print(f"metric tables (s):           {metrics_s:12.2f}")
    print(f"peak Python heap (MiB):      {peak / 2**20:12.1f}")
    print(f"process max RSS (MiB):       {rss_mib:12.1f}")


if __name__ == "__main__":
    main()
