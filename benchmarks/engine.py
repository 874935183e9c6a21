"""Engine speed and memory, printed (never asserted).

    python benchmarks/engine.py            # 10-year replications at 1x, 4x and 16x Hampshire
    python benchmarks/engine.py --small    # a quick version for CI logs
    python benchmarks/engine.py --national # one 10-year national replication only

Prints:
* the cost per event at 1x, 4x and 16x Hampshire scale, before and after the collector is
  kept out of the event loop, side by side from the same process: "before" runs the
  replication as one ``env.run`` with Python's collector on its default settings, "after"
  runs :meth:`Model.run` (set-up frozen, collector paused between chunks). Both give the
  same events and the same records;
* model events per second beside a bare SimPy timeout loop in the same process;
* wall time and peak memory of one replication at Hampshire scale (3,200 people using,
  1,350 in treatment, about 900 new presentations a year), and the metric tables' time;
* with ``--national`` instead: one replication of ``scenarios/england_national.yaml``
  (England at national scale), its wall time, events and peak RSS.
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

from benchmarks.scenarios import hampshire_scale, national  # noqa: E402
from sim.execute.limits import estimate_run  # noqa: E402
from sim.metrics import replication_tables  # noqa: E402
from sim.model import Model, simulate  # noqa: E402
from sim.streams import Streams  # noqa: E402


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


def before(sc) -> tuple[float, int]:
    """Seconds and events of one replication run the old way: one ``env.run``, collector on."""
    model = Model(sc, Streams(1, 0))
    t0 = time.perf_counter()
    model.start()
    model.world.env.run(until=model.world.end_day + 1e-6)
    rec = model.finish()
    return time.perf_counter() - t0, rec.events


def after(sc) -> tuple[float, int]:
    """Seconds and events of one replication through :meth:`Model.run`."""
    t0 = time.perf_counter()
    rec = Model(sc, Streams(1, 0)).run()
    return time.perf_counter() - t0, rec.events


def per_event(years: int, sizes: list[int]) -> None:
    """Print microseconds per event before and after, at each population multiple."""
    print(f"cost per event, {years}-year replication (microseconds; before = collector on)")
    print(f"{'size':>6} {'people':>8} {'events':>11} {'before':>8} {'after':>8} {'ratio':>6}")
    for times in sizes:
        sc = hampshire_scale(years, times)
        people = sc.population.initial.community + sc.population.initial.in_treatment
        gc.collect()
        (t_before, n_before), (t_after, n_after) = before(sc), after(sc)
        assert n_before == n_after, (n_before, n_after)
        b, a = t_before / n_before * 1e6, t_after / n_after * 1e6
        print(f"{times:>5}x {people:>8,} {n_after:>11,} {b:>8.2f} {a:>8.2f} {b / a:>6.2f}",
              flush=True)


def national_run(years: int) -> None:
    """Print the wall time, events and peak RSS of one national replication (run alone in
    this process, so the RSS is the replication's)."""
    sc = national(years)
    people = sc.population.initial.community + sc.population.initial.in_treatment
    gc.collect()
    t0 = time.perf_counter()
    rec = Model(sc, Streams(sc.run.seed, 0)).run()
    wall = time.perf_counter() - t0
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"national ({years}-year replication of scenarios/england_national.yaml, "
          f"{people:,} people at the start): {wall:,.0f} s, {rec.events:,} events "
          f"({wall / rec.events * 1e6:.1f} microseconds each), peak RSS {rss_gib:.2f} GiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="2 years, 1 repeat (for CI logs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="1,4,16", help="population multiples, e.g. 1,4,16")
    ap.add_argument("--national", type=int, nargs="?", const=10, metavar="YEARS",
                    help="only one national replication (default 10 years)")
    args = ap.parse_args()
    if args.national:
        national_run(args.national)
        return
    years, repeats = (2, 1) if args.small else (10, args.repeats)
    per_event(years, [1, 4] if args.small else [int(x) for x in args.sizes.split(",")])
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
    guess = estimate_run(sc, reps=1).seconds
    print(f"work-limit estimate (s):     {guess:12.2f}   (measured / estimate "
          f"{statistics.median(walls) / guess:.2f}; the limits' time constant)")
    print(f"peak Python heap (MiB):      {peak / 2**20:12.1f}")
    print(f"process max RSS (MiB):       {rss_mib:12.1f}")


if __name__ == "__main__":
    main()
