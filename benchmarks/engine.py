"""Engine speed and memory, printed side by side in one run (never asserted).

    python benchmarks/engine.py                   # everything but the national run
    python benchmarks/engine.py --small           # a quick version for CI logs
    python benchmarks/engine.py --national        # one 10-year national replication only
    python benchmarks/engine.py --memory          # what a 4x Hampshire replication keeps
    python benchmarks/engine.py --against REF     # the commit to race (default below)

Prints:
* one M/M/c queue (c = 10, 9 arrivals a day, 1 service a day per server) through
  treatsim, Ciw and a minimal SimPy model (:mod:`benchmarks.mmc`), as customers per
  second and ratios;
* a 10-year Hampshire-scale replication (3,200 people using, 1,350 in treatment, about
  900 new presentations a year): events, people-years and wall time, here and in another
  commit (``--against``, checked out beside this one with ``git worktree``), run in
  alternating fresh processes on the same scenario file; the ratio of the medians;
* the same replication at 1x, 4x and 16x (people, incidence and every capacity
  multiplied), each timed in a fresh process after an untimed 1-year replication of the
  same size: wall time, events and microseconds per event, and the growth exponent of
  wall time fitted over the multiples (1 is linear), to the bests and within each round
  (with their median); then, for reference, the cost per
  event and growth exponent of as many bare lives (an exponential wait again and again)
  in SimPy, in treatsim's compiled loop and in a plain heap of handlers
  (:func:`benchmarks.loop.scaling`);
* with ``--national`` instead: one 10-year replication of
  ``scenarios/england_national.yaml``, its wall time, events and peak RSS, run alone in
  this process so that the RSS is the replication's;
* with ``--memory`` instead: what one 10-year replication at 4x Hampshire's size keeps
  when it ends, in bytes per person alive: every Python allocation (``tracemalloc``), the
  part of it that is the records alone (after the model is let go), and the objects
  Python's cyclic collector tracks.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.loop import in_fresh_process, slope  # noqa: E402
from benchmarks.loop import scaling as loop_scaling  # noqa: E402
from benchmarks.mmc import ciw_run, simpy_run, treatsim_run  # noqa: E402
from benchmarks.scenarios import (  # noqa: E402
    HAMPSHIRE_COMMUNITY,
    HAMPSHIRE_IN_TREATMENT,
    hampshire_data,
    hampshire_scale,
    national,
)
from sim.model import Model, simulate  # noqa: E402
from sim.native import PURE_VARIABLE, build_of  # noqa: E402
from sim.streams import Streams  # noqa: E402

PURE = "this checkout, pure Python"
"""The race's name for this checkout run from its sources."""

START = "2d2c2cd"
"""The commit the engine work started from: the Hampshire replication races it."""

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from sim.model import simulate
from sim.scenario import load_scenario
sc = load_scenario(sys.argv[2])
out = []
for rep in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    rec = simulate(sc, 1, rep)
    out.append([time.perf_counter() - t0, rec.events])
print(json.dumps(out))
"""
"""Times replications of a scenario file with the engine of the checkout in argv[1]."""


def people_years(rec) -> float:
    """Person-years lived in the model (every state but dead and moved away), from the
    monthly snapshots."""
    alive = sum(snap[name] for snap in rec.snapshots
                for name in ("community", "triage_wait", "keyworker_wait", "in_treatment",
                             "after_treatment", "custody", "recovered"))
    return alive / 12.0


def mmc(days: int, repeats: int) -> None:
    """Print customers per second of the M/M/c queue in each engine (best of ``repeats``)."""
    print(f"M/M/10 queue, lambda = 9 a day, mu = 1 a day, {days} days (best of {repeats})")
    rates: dict[str, float] = {}
    for name, run in (("treatsim", treatsim_run), ("Ciw", ciw_run), ("SimPy", simpy_run)):
        results = [run(days, seed) for seed in range(1, repeats + 1)]
        if any(r is None for r in results):
            print(f"  {name:9s} not installed (pip install -e \".[bench]\")")
            continue
        rates[name] = max(r[0] / r[1] for r in results)  # type: ignore[index]
        print(f"  {name:9s} {rates[name]:>10,.0f} customers/s")
    for other in ("Ciw", "SimPy"):
        if "treatsim" in rates and other in rates:
            print(f"  treatsim / {other}: {rates['treatsim'] / rates[other]:.2f}")


def race(ref: str, years: int, rounds: int) -> None:
    """Print a Hampshire-scale replication's wall time at ``ref``, here, and here from the
    pure-Python sources (``TREATSIM_PURE_PYTHON``), in alternating fresh processes
    (``rounds`` each, two replications a process)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scenario = folder / "hampshire_scale.yaml"
        scenario.write_text(yaml.safe_dump(hampshire_data(years), sort_keys=False))
        other = folder / "other"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                               str(other), ref], capture_output=True, text=True)
        if made.returncode != 0:  # a shallow clone, say
            print(f"cannot check out {ref} beside this checkout: {made.stderr.strip()}")
            return
        try:
            times: dict[str, list[float]] = {ref: [], "this checkout": [], PURE: []}
            plain = {k: v for k, v in os.environ.items() if k != PURE_VARIABLE}
            for _ in range(rounds):
                for name, checkout, env in ((ref, other, plain), ("this checkout", ROOT, plain),
                                            (PURE, ROOT, {**plain, PURE_VARIABLE: "1"})):
                    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout),
                                          str(scenario), "2"], check=True, env=env,
                                         capture_output=True, text=True, cwd=checkout)
                    runs = json.loads(out.stdout.strip().splitlines()[-1])
                    times[name] += [seconds for seconds, _ in runs]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(other)], check=False, capture_output=True)
    rec = simulate(hampshire_scale(years), 1, 0)
    print(f"Hampshire scale, {years}-year replication: {rec.events:,} events, "
          f"{people_years(rec):,.0f} people-years")
    for name, walls in times.items():
        print(f"  {name:30s} median {statistics.median(walls):6.2f} s, best "
              f"{min(walls):6.2f} s  ({len(walls)} replications)")
    for name in ("this checkout", PURE):
        ratio = statistics.median(times[ref]) / statistics.median(times[name])
        best = min(times[ref]) / min(times[name])
        print(f"  speed-up of {name} over {ref}: {ratio:.2f}x (ratio of medians), "
              f"{best:.2f}x (ratio of bests)")


SCALE_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks.scenarios import hampshire_scale
from sim.model import simulate
years, times, rep = map(int, sys.argv[2:5])
simulate(hampshire_scale(1, times), 1, rep + 1000)  # warm up (see SCALE_CHILD's note)
sc = hampshire_scale(years, times)
t0 = time.perf_counter()
rec = simulate(sc, 1, rep)
print(json.dumps([time.perf_counter() - t0, rec.events]))
"""
"""Times one replication of the Hampshire-scale scenario (argv: checkout, years, multiple,
replication) after an untimed 1-year one of the same size, which pays what only a
process's first replication pays (imports and caches made on first use) and leaves the
process's memory as a replication of that size leaves it for the next, as in a sweep's
worker: every size is timed alike."""


def scaling(years: int, sizes: list[int], repeats: int) -> None:
    """Print wall time and cost per event at each population multiple (the best of
    ``repeats`` rounds, each running every size in turn, each replication in a fresh
    process after an untimed one of the same size), the growth exponent of wall time fitted
    to the bests, and the exponent fitted within each round (whose sizes ran back to back,
    so that a slow spell of the machine weighs on all of them) with their median."""
    print(f"scaling, {years}-year replication (best of {repeats}, each in a fresh process "
          f"after an untimed 1-year one of its size)")
    rounds = [[tuple(in_fresh_process(SCALE_CHILD, years, times, rep)) for times in sizes]
              for rep in range(repeats)]
    best = [min(run[i] for run in rounds) for i in range(len(sizes))]
    print(f"{'size':>6} {'people':>8} {'events':>11} {'seconds':>8} {'us/event':>9}")
    for times, (wall, events) in zip(sizes, best, strict=True):
        people = times * (HAMPSHIRE_COMMUNITY + HAMPSHIRE_IN_TREATMENT)
        print(f"{times:>5}x {people:>8,} {events:>11,} {wall:>8.2f} {wall / events * 1e6:>9.2f}")
    if len(sizes) > 1:
        walls = [wall for wall, _ in best]
        print(f"  growth exponent of wall time over {sizes[0]}x-{sizes[-1]}x: "
              f"{slope(sizes, walls):.3f}  (1 is linear)")
        within = [slope(sizes, [wall for wall, _ in run]) for run in rounds]
        print("  within each round: " + ", ".join(f"{e:.3f}" for e in within)
              + f"; median {statistics.median(within):.3f}")
        print("as many lives with no model around them (benchmarks/loop.py --scaling):")
        loop_scaling(sizes, repeats, years)


def national_run(years: int) -> None:
    """Print the wall time, events and peak RSS of one national replication."""
    sc = national(years)
    people = sc.population.initial.community + sc.population.initial.in_treatment
    t0 = time.perf_counter()
    rec = simulate(sc, sc.run.seed, 0)
    wall = time.perf_counter() - t0
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0 = time.perf_counter()
    gc.collect()  # one walk over what the run leaves: its records (its world is freed)
    collect = time.perf_counter() - t0
    alive = sum(v for k, v in rec.final_states.items() if k not in ("dead", "moved_away"))
    print(f"national ({years}-year replication of scenarios/england_national.yaml, "
          f"{people:,} people at the start, {alive:,} at the end, "
          f"{people_years(rec):,.0f} people-years): "
          f"{wall:,.0f} s, {rec.events:,} events "
          f"({wall / rec.events * 1e6:.1f} microseconds each), peak RSS {rss_gib:.2f} GiB; "
          f"then a full garbage collection over what it left: {collect:.1f} s")


def _tracked_bytes() -> int:
    """Bytes of the objects Python's cyclic collector tracks (``sys.getsizeof`` each)."""
    return sum(sys.getsizeof(o) for o in gc.get_objects())


def memory_run(times: int, years: int) -> None:
    """Print what one replication at ``times`` Hampshire's size keeps when it ends, in
    bytes per person alive: all allocations, the records alone, and tracked objects."""
    sc = hampshire_scale(years, times)
    gc.collect()
    tracked0 = _tracked_bytes()
    tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0]
    model = Model(sc, Streams(sc.run.seed, 0))
    rec = model.run()
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced0  # the world and the records
    tracked = _tracked_bytes() - tracked0  # its list of objects is gone before the next line
    made = len(model.world.people)
    model.release()
    del model
    gc.collect()
    records = tracemalloc.get_traced_memory()[0] - traced0  # what is left: the records
    tracemalloc.stop()
    alive = sum(v for k, v in rec.final_states.items() if k not in ("dead", "moved_away"))
    print(f"memory ({years}-year replication at {times}x Hampshire, {made:,} people made, "
          f"{alive:,} alive at the end), bytes per person alive: "
          f"{traced / alive:,.0f} of all allocations (world and records), "
          f"{records / alive:,.0f} of them the records; "
          f"{tracked / alive:,.0f} of objects the cyclic collector tracks")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="2 years, 1 repeat (for CI logs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", default="1,4,16", help="population multiples, e.g. 1,4,16")
    ap.add_argument("--against", default=START, help="the commit to race (git ref)")
    ap.add_argument("--national", type=int, nargs="?", const=10, metavar="YEARS",
                    help="only one national replication (default 10 years)")
    ap.add_argument("--memory", action="store_true",
                    help="only the memory a 4x Hampshire replication keeps, per person alive")
    args = ap.parse_args()
    print(f"simulation build here: {build_of('sim.model')}")
    if args.national:
        national_run(args.national)
        return
    if args.memory:
        memory_run(1 if args.small else 4, 2 if args.small else 10)
        return
    years = 2 if args.small else 10
    repeats = 1 if args.small else args.repeats
    mmc(200 if args.small else 1826, repeats)
    race(args.against, years, repeats)
    scaling(years, [1, 4] if args.small else [int(x) for x in args.sizes.split(",")],
            repeats)


if __name__ == "__main__":
    main()
