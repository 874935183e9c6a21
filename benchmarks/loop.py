"""What one event costs in each way of running lives, with no model around it.

    python benchmarks/loop.py            # 2,000 lives for 2,000 days, best of 3
    python benchmarks/loop.py --scaling  # 3,200, 12,800 and 51,200 lives for 10 years

Each life waits an exponential gap (mean 3 days, from its own ``random.Random``) again
and again. The same lives run (a) as SimPy processes yielding ``env.timeout``, (b) as
generators driven by treatsim's compiled loop (:mod:`sim.model.kernel`: ``Life``,
``timeout``, ``run_until`` with its calendar, in 28-day chunks, as the model runs), and
(c) as a flat calendar of state handlers: a ``heapq`` of ``(day, number, life)`` and one
function call per event, in plain Python, the structure a person's lifecycle would take
without generators. Prints microseconds per event and the events of each (the same in
all three, but for SimPy's own stop event), with Python's cyclic collector off while
they run, as it is in the model's loop (:mod:`sim.model.collector`). Nothing is asserted.

With ``--scaling``, the lives are as many as the people of the Hampshire-scale scenario
at 1x, 4x and 16x (:func:`benchmarks.engine.scaling`) and each waits 240 days on average
for 10 years, about as many events a life as a person has there: it prints the cost per
event at each size and its growth exponent, the growth that comes from the number of
lives alone (a larger heap, and objects that no longer fit the processor's cache), with
no model around it. Each size runs in a fresh process after an untimed 1-year run of as
many lives.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scenarios import HAMPSHIRE_COMMUNITY, HAMPSHIRE_IN_TREATMENT  # noqa: E402
from sim.model.kernel import (  # noqa: E402
    Env,
    Life,
    attach_calendar,
    open_until,
    run_until,
    timeout,
)
from sim.vocab import DAYS_PER_YEAR  # noqa: E402

CHUNK = 28.0
"""Days in a chunk of the compiled loop (as the model runs it)."""
GAP = 3.0
"""Mean days between a life's events (the default comparison)."""
SCALING_PEOPLE = HAMPSHIRE_COMMUNITY + HAMPSHIRE_IN_TREATMENT
"""People at 1x in the Hampshire-scale scenario (the ``--scaling`` lives at 1x)."""
SCALING_GAP = 240.0
"""Mean days between a life's events with ``--scaling`` (about 15 in 10 years, as a
Hampshire-scale person has)."""


def _walk(env: simpy.Environment, rng: random.Random, wait, gap: float):
    while True:
        yield wait(env, rng.expovariate(1 / gap))


def simpy_lives(lives: int, days: float, gap: float = GAP) -> int:
    """Events processed by SimPy's own processes and loop (``gap``: mean days a wait)."""
    env = simpy.Environment()
    for i in range(lives):  # simpy.Timeout: what env.timeout makes
        env.process(_walk(env, random.Random(i), simpy.Timeout, gap))
    env.run(until=days)
    return next(env._eid)  # noqa: SLF001


def kernel_lives(lives: int, days: float, gap: float = GAP) -> int:
    """Events processed by treatsim's compiled loop (``gap``: mean days a wait)."""
    env = Env()
    attach_calendar(env, CHUNK)
    open_until(env, CHUNK)
    for i in range(lives):
        Life(env, _walk(env, random.Random(i), timeout, gap))
    stop = CHUNK
    while stop <= days:
        open_until(env, stop)
        run_until(env, stop)
        stop += CHUNK
    open_until(env, days)
    run_until(env, days)
    return next(env.numbers)


def flat_lives(lives: int, days: float, gap: float = GAP) -> int:
    """Events processed by a heap of (day, number, life) and one handler per event
    (``gap``: mean days a wait)."""
    queue: list[tuple[float, int, int]] = []
    rngs = [random.Random(i) for i in range(lives)]
    number = 0
    for i in range(lives):  # each life starts now, as the other two start theirs
        queue.append((0.0, number, i))
        number += 1
    heapq.heapify(queue)

    def handler(now: float, life: int) -> None:
        nonlocal number
        heapq.heappush(queue, (now + rngs[life].expovariate(1 / gap), number, life))
        number += 1

    while queue and queue[0][0] < days:
        now, _, life = heapq.heappop(queue)
        handler(now, life)
    return number


def slope(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of log(ys) on log(xs)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return (sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
            / sum((a - mx) ** 2 for a in lx))


WAYS = (("SimPy processes", simpy_lives),
        ("treatsim's compiled loop (kernel)", kernel_lives),
        ("flat heap of handlers (Python)", flat_lives))
"""Each way of running lives, by name."""


def timed(run: Callable[[int, float, float], int], lives: int, days: float,
          gap: float) -> tuple[float, int]:
    """One run's microseconds an event, and the events it made (``run``: one of
    :data:`WAYS`, given lives, days and the mean gap in days)."""
    gc.collect()  # nothing of an earlier run left for this one to free
    t0 = time.perf_counter()
    events = run(lives, days, gap)
    return (time.perf_counter() - t0) / events * 1e6, events


LIVES_CHILD = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
from benchmarks.loop import WAYS, timed
gc.disable()
run = dict(WAYS)[sys.argv[2]]
lives, days, gap = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
timed(run, lives, 365.0, gap)  # warm up, as benchmarks.engine.SCALE_CHILD does
print(json.dumps(timed(run, lives, days, gap)))
"""
"""Times one way of running lives (argv: checkout, way, lives, days, gap), after an
untimed 1-year run of as many lives."""


def in_fresh_process(code: str, *args: object, prefix: Sequence[str] = ()) -> Any:
    """The JSON that ``code`` prints last, run with this checkout and ``args`` in a new
    Python process (so that no earlier run's freed memory, scattered, is what a smaller
    run is laid out in), under the command ``prefix`` if given (a profiler, say)."""
    out = subprocess.run([*prefix, sys.executable, "-c", code, str(ROOT), *map(str, args)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(sizes: list[int], repeats: int, years: int = 10) -> None:
    """Print each way's cost per event with ``SCALING_PEOPLE`` times each of ``sizes``
    lives for ``years`` (the best of ``repeats`` rounds, each running every size in turn,
    each run in a fresh process after an untimed 1-year one), and the growth exponent of
    its wall time."""
    print(f"lives as the Hampshire-scale people at {', '.join(f'{k}x' for k in sizes)}, "
          f"{years} years, a wait of mean {SCALING_GAP:.0f} days each time (best of {repeats}); "
          f"microseconds an event")
    for name, _ in WAYS:
        best = [(math.inf, 0)] * len(sizes)
        for _ in range(repeats):
            best = [min(b, tuple(in_fresh_process(LIVES_CHILD, name, SCALING_PEOPLE * k,
                                                  years * DAYS_PER_YEAR, SCALING_GAP)))
                    for b, k in zip(best, sizes, strict=True)]
        growth = slope(sizes, [cost * events for cost, events in best])
        print(f"  {name:36s} " + " ".join(f"{cost:6.2f}" for cost, _ in best)
              + f"   growth exponent {growth:.3f} ({best[-1][1]:,} events at "
              f"{sizes[-1]}x)", flush=True)


def main() -> None:
    """Time each way ``--repeats`` times and print the best cost per event."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lives", type=int, default=2000)
    ap.add_argument("--days", type=float, default=2000.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scaling", action="store_true",
                    help="the cost per event at 1x, 4x and 16x Hampshire's people")
    args = ap.parse_args()
    gc.disable()  # as in the model's loop (sim.model.collector)
    if args.scaling:
        scaling([1, 4, 16], args.repeats)
        return
    print(f"{args.lives:,} lives, {args.days:,.0f} days, an exponential wait (mean "
          f"{GAP:.0f} days) each time (best of {args.repeats})")
    for name, run in WAYS:
        cost, events = min(timed(run, args.lives, args.days, GAP) for _ in range(args.repeats))
        print(f"  {name:36s} {cost:6.2f} microseconds an event ({events:,} events made)")


if __name__ == "__main__":
    main()
