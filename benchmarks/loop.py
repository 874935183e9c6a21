"""What one event costs in each way of running lives, with no model around it.

    python benchmarks/loop.py            # 2,000 lives for 2,000 days, best of 3

Each life waits an exponential gap (mean 3 days, from its own ``random.Random``) again
and again. The same lives run (a) as SimPy processes yielding ``env.timeout``, (b) as
generators driven by treatsim's compiled loop (:mod:`sim.model.kernel`: ``Life``,
``timeout``, ``run_until`` with its calendar, in 28-day chunks, as the model runs), and
(c) as a flat calendar of state handlers: a ``heapq`` of ``(day, number, life)`` and one
function call per event, in plain Python, the structure a person's lifecycle would take
without generators. Prints microseconds per event and the events of each (the same in
all three, but for SimPy's own stop event). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.model.kernel import (  # noqa: E402
    Env,
    Life,
    attach_calendar,
    open_until,
    run_until,
    timeout,
)

CHUNK = 28.0


def _walk(env: simpy.Environment, rng: random.Random, wait):
    while True:
        yield wait(env, rng.expovariate(1 / 3))


def simpy_lives(lives: int, days: float) -> int:
    """Events processed by SimPy's own processes and loop."""
    env = simpy.Environment()
    for i in range(lives):
        env.process(_walk(env, random.Random(i), simpy.Timeout))  # what env.timeout makes
    env.run(until=days)
    return next(env._eid)  # noqa: SLF001


def kernel_lives(lives: int, days: float) -> int:
    """Events processed by treatsim's compiled loop."""
    env = Env()
    attach_calendar(env, CHUNK)
    open_until(env, CHUNK)
    for i in range(lives):
        Life(env, _walk(env, random.Random(i), timeout))
    stop = CHUNK
    while stop <= days:
        open_until(env, stop)
        run_until(env, stop)
        stop += CHUNK
    open_until(env, days)
    run_until(env, days)
    return next(env.numbers)


def flat_lives(lives: int, days: float) -> int:
    """Events processed by a heap of (day, number, life) and one handler per event."""
    queue: list[tuple[float, int, int]] = []
    rngs = [random.Random(i) for i in range(lives)]
    number = 0
    for i in range(lives):  # each life starts now, as the other two start theirs
        queue.append((0.0, number, i))
        number += 1
    heapq.heapify(queue)

    def handler(now: float, life: int) -> None:
        nonlocal number
        heapq.heappush(queue, (now + rngs[life].expovariate(1 / 3), number, life))
        number += 1

    while queue and queue[0][0] < days:
        now, _, life = heapq.heappop(queue)
        handler(now, life)
    return number


def main() -> None:
    """Time each way ``--repeats`` times and print the best cost per event."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lives", type=int, default=2000)
    ap.add_argument("--days", type=float, default=2000.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.lives:,} lives, {args.days:,.0f} days, an exponential wait (mean 3 days) "
          f"each time (best of {args.repeats})")
    for name, run in (("SimPy processes", simpy_lives),
                      ("treatsim's compiled loop (kernel)", kernel_lives),
                      ("flat heap of handlers (Python)", flat_lives)):
        best, events = float("inf"), 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            events = run(args.lives, args.days)
            best = min(best, time.perf_counter() - t0)
        print(f"  {name:36s} {best / events * 1e6:6.2f} microseconds an event "
              f"({events:,} events made)")


if __name__ == "__main__":
    main()
