"""One M/M/c queue through treatsim, Ciw and a minimal SimPy model, side by side.

    python benchmarks/mmc.py                 # c = 10, lambda = 9 a day, mu = 1 a day
    python benchmarks/mmc.py --days 200      # a quick version for CI logs

Prints customers served per second of simulation (set-up and metric tables left out) for
each engine, the ratios, and each engine's mean wait beside Erlang C as a sanity check
(printed, never asserted). Ciw comes from the ``bench`` extra
(``pip install -e ".[bench]"``); without it that row says so.

In treatsim the queue is the keyworker queue of a scenario with nothing else in it
(:func:`benchmarks.scenarios.mmc_scenario`): each arrival is a whole person, who is also
referred, triaged, treated, relapses and so on, so treatsim does more per customer.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scenarios import erlang_c_wait, mmc_scenario  # noqa: E402
from sim.metrics import people_table  # noqa: E402
from sim.model import simulate  # noqa: E402

LAM, MU, C = 9.0, 1.0, 10  # arrivals a day, services a day per server, servers


def treatsim_run(days: int, seed: int) -> tuple[int, float, float]:
    """(customers, seconds, mean wait in days) of one run through treatsim."""
    years = max(1, round(days / 365.25))
    sc = mmc_scenario(LAM * 365.25, 1.0 / MU, C, warmup_years=0, years=years)
    t0 = time.perf_counter()
    rec = simulate(sc, seed, 0)
    dt = time.perf_counter() - t0
    waits = people_table(rec)["wait_keyworker_days"].dropna()  # after the timing
    return len(waits), dt, float(waits.mean())


def ciw_run(days: int, seed: int) -> tuple[int, float, float] | None:
    """(customers, seconds, mean wait in days) of one run through Ciw; None without Ciw."""
    try:
        import ciw
    except ImportError:
        return None
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(LAM)],
                                 service_distributions=[ciw.dists.Exponential(MU)],
                                 number_of_servers=[C])
    ciw.seed(seed)
    t0 = time.perf_counter()
    q = ciw.Simulation(network)
    q.simulate_until_max_time(days)
    dt = time.perf_counter() - t0
    records = q.get_all_records()
    return len(records), dt, statistics.fmean(r.waiting_time for r in records)


def simpy_run(days: int, seed: int) -> tuple[int, float, float]:
    """(customers, seconds, mean wait in days) of a minimal SimPy M/M/c model."""
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=C)
    waits: list[float] = []

    def customer(env: simpy.Environment):
        arrived = env.now
        with servers.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(MU))

    def arrivals(env: simpy.Environment):
        while True:
            yield env.timeout(rng.expovariate(LAM))
            env.process(customer(env))

    env.process(arrivals(env))
    t0 = time.perf_counter()
    env.run(until=days)
    return len(waits), time.perf_counter() - t0, statistics.fmean(waits)


def main() -> None:
    """Run each engine ``--repeats`` times and print the best rate of each."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=1826, help="simulated days (about 16,000 "
                    "customers at 9 a day; treatsim rounds to whole years)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    theory = erlang_c_wait(LAM, MU, C)
    print(f"M/M/{C}, lambda = {LAM:g} a day, mu = {MU:g} a day, rho = {LAM / (C * MU):.2f}; "
          f"Erlang C mean wait {theory:.3f} days")
    rates: dict[str, float] = {}
    for name, run in (("treatsim", treatsim_run), ("Ciw", ciw_run), ("SimPy", simpy_run)):
        results = [run(args.days, seed) for seed in range(1, args.repeats + 1)]
        if any(r is None for r in results):
            print(f"  {name:9s} not installed (pip install -e \".[bench]\")")
            continue
        best = max(results, key=lambda r: r[0] / r[1])  # type: ignore[index]
        rates[name] = best[0] / best[1]  # type: ignore[index]
        wait = statistics.fmean(r[2] for r in results)  # type: ignore[index]
        print(f"  {name:9s} {rates[name]:>10,.0f} customers/s   ({best[0]:,} customers, "
              f"{best[1]:.2f} s; mean wait {wait:.3f} days)")
    for other in ("Ciw", "SimPy"):
        if "treatsim" in rates and other in rates:
            print(f"  ratio treatsim/{other}: {rates['treatsim'] / rates[other]:.2f}")


if __name__ == "__main__":
    main()
