"""How much work a run or a sweep is, estimated before it starts.

The engine's cost grows with the person-years it simulates: everyone alive is a SimPy
process with pending events and a row of records. A scenario whose fields are each
within their bounds (say 5 million people over 200 years) can still be far too big for
the machine, so ``treatsim run``, ``compare`` and ``sweep`` estimate the memory and the
time first (:func:`estimate_run`, :func:`estimate_sweep`) and refuse what cannot fit in
memory or would take more than a day (:func:`too_big`) unless told ``--force``.

The constants below were measured on the development machine (2 cores, Python 3.11) with
``scenarios/middlesbrough.yaml`` at its own size and scaled by 10 and 40 (population,
incidence and every capacity scaled together; one replication each, in a fresh process):

========  ==============  ==========  ========  ==============  ================
scale     people created  events      seconds   max RSS         person-years/s
========  ==============  ==========  ========  ==============  ================
x1        2,942           18,402      0.46      134 MB          30,800
x10       29,303          177,154     4.73      292 MB          30,000
x40       117,223         704,809     20.1      805 MB          28,300
========  ==============  ==========  ========  ==============  ================

That is about 5.7 KB per person created (the person, their process, episodes and record
rows; RSS above the 134 MB of a bare replication), and 28,000 to 32,000 person-years a
second on one core (``scenarios/england.yaml``: 32,000; England at national scale:
30,500, or 26,700 counting the full garbage collection Python makes after it). The
estimates use a slower rate and round the memory up, so they err towards "too big".
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario
    from ..sweep import SweepPlan

__all__ = ["WorkEstimate", "estimate_run", "estimate_sweep", "sum_estimates", "too_big"]

PERSON_YEARS_PER_SECOND = 25_000.0
"""Person-years one core simulates a second (measured: 26,700 to 32,000 with the model
uncompiled, see above; 42,100 compiled at national scale). The uncompiled figure, so the
estimate holds for either build (:mod:`sim.native`)."""
BYTES_PER_PERSON = 7_000.0
"""Memory of one replication per person created (measured 5.7 KB, rounded up)."""
PROCESS_BYTES = 250e6
"""Memory of a Python process with the engine, the metrics, pandas and pyarrow loaded
(measured 174 MB of RSS; rounded up)."""
TABLE_BYTES_PER_PERSON = 500.0
"""Memory per person per replication of the tables a run keeps until it writes them
(the ``people`` table is 242 bytes a row; concatenating replications copies it once)."""
SWEEP_ROW_BYTES = 2_000.0
"""Memory per finished run of a sweep (one row of kept metrics, and its bookkeeping)."""
DAY_SECONDS = 86_400.0
"""Work estimated to take longer than this is refused (unless forced)."""


@dataclass(frozen=True)
class WorkEstimate:
    """Estimated size of some work: person-years simulated in all, runs (replications),
    peak memory in bytes and wall-clock seconds on the workers asked for.

    ``kept_bytes`` is the part of ``peak_bytes`` held until the end (tables not yet
    written); work that runs one piece after another adds it up (:func:`sum_estimates`).
    """

    person_years: float
    runs: int
    peak_bytes: float
    seconds: float
    kept_bytes: float = 0.0

    def describe(self) -> str:
        """One phrase, e.g. ``about 3.2e9 person-years over 1 run: ~41 GB of memory,
        ~2.3 days``."""
        runs = f"{self.runs:,} run" + ("" if self.runs == 1 else "s")
        return (f"about {_number(self.person_years)} person-years over {runs}: "
                f"~{_bytes(self.peak_bytes)} of memory, ~{_duration(self.seconds)}")


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _years(scenario: Scenario) -> float:
    run = scenario.run
    return run.warmup_years + run.years + run.follow_up_days / 365.0


def _people(initial: float, incidence: float, years: float) -> tuple[float, float]:
    """(people created, person-years) over ``years``: the initial population plus the
    incidence; everyone is counted as alive to the end (an upper bound, as the constants
    were measured the same way)."""
    created = initial + incidence * years
    return created, (initial + incidence * years / 2.0) * years


def _concurrency(workers: int, runs: int) -> int:
    return max(1, min(int(workers), _cores(), max(1, runs)))


def estimate_run(scenario: Scenario, reps: int, workers: int = 1) -> WorkEstimate:
    """Estimate ``reps`` replications of ``scenario`` on ``workers`` processes.

    Memory: this process, plus one replication in it (``workers`` 1) or one process and
    replication per concurrent worker, plus the tables of every replication kept until
    they are written. Time: person-years at :data:`PERSON_YEARS_PER_SECOND` per core.
    """
    init = scenario.population.initial
    created, person_years = _people(init.community + init.in_treatment,
                                    scenario.population.incidence_per_year,
                                    _years(scenario))
    reps = max(1, int(reps))
    parallel = _concurrency(workers, reps)
    one = created * BYTES_PER_PERSON
    working = one if workers <= 1 else parallel * (PROCESS_BYTES + one)
    kept = reps * created * TABLE_BYTES_PER_PERSON
    seconds = person_years * reps / PERSON_YEARS_PER_SECOND / parallel
    return WorkEstimate(person_years=person_years * reps, runs=reps,
                        peak_bytes=PROCESS_BYTES + working + kept, seconds=seconds,
                        kept_bytes=kept)


def estimate_sweep(plan: SweepPlan, workers: int = 1) -> WorkEstimate:
    """Estimate every run of a loaded sweep on ``workers`` processes.

    Swept population sizes count at their mean for the time and at their largest for
    the memory of a run.
    """
    base = plan.base
    init = base.population.initial
    columns = {name: plan.values[:, j] for j, name in enumerate(plan.names)}

    def level(path: str, value: float, pick: str) -> float:
        col = columns.get(path)
        if col is None or col.size == 0:
            return float(value)
        return float(col.max() if pick == "max" else col.mean())

    years = _years(base)
    sizes = {}
    for pick in ("mean", "max"):
        initial = (level("population.initial.community", init.community, pick)
                   + level("population.initial.in_treatment", init.in_treatment, pick))
        incidence = level("population.incidence_per_year", base.population.incidence_per_year,
                          pick)
        sizes[pick] = _people(initial, incidence, years)
    runs = max(1, plan.points * plan.sweep.replications)
    parallel = _concurrency(workers, runs)
    one = sizes["max"][0] * BYTES_PER_PERSON
    working = one if workers <= 1 else parallel * (PROCESS_BYTES + one)
    kept = runs * SWEEP_ROW_BYTES
    person_years = sizes["mean"][1] * runs
    return WorkEstimate(person_years=person_years, runs=runs,
                        peak_bytes=PROCESS_BYTES + working + kept,
                        seconds=person_years / PERSON_YEARS_PER_SECOND / parallel,
                        kept_bytes=kept)


def sum_estimates(estimates: Iterable[WorkEstimate]) -> WorkEstimate:
    """Work done one piece after another (say, the scenarios of a comparison): the
    person-years, runs and seconds add up; the memory is the largest piece's working
    memory plus what every piece keeps until the end."""
    items = list(estimates)
    if not items:
        return WorkEstimate(0.0, 0, 0.0, 0.0)
    kept = sum(e.kept_bytes for e in items)
    working = max(e.peak_bytes - e.kept_bytes for e in items)
    return WorkEstimate(person_years=sum(e.person_years for e in items),
                        runs=sum(e.runs for e in items), peak_bytes=working + kept,
                        seconds=sum(e.seconds for e in items), kept_bytes=kept)


def machine_memory() -> float | None:
    """Total physical memory of this machine in bytes (None if it cannot be read)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
    return float(pages * size) if pages > 0 and size > 0 else None


def too_big(est: WorkEstimate, memory_bytes: float | None = None) -> str | None:
    """Why ``est`` should not be started: it needs more memory than ``memory_bytes``
    (default: this machine's total) or would take more than a day; None if it is fine."""
    memory = machine_memory() if memory_bytes is None else memory_bytes
    reasons = []
    if memory is not None and est.peak_bytes > memory:
        reasons.append(f"more memory than this machine's {_bytes(memory)}")
    if not est.seconds <= DAY_SECONDS:
        reasons.append("more than a day")
    if not reasons:
        return None
    return f"too big to run: {est.describe()}, which is {' and '.join(reasons)}"


def _number(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x >= 1e5:
        return f"{x:.1e}".replace("e+0", "e").replace("e+", "e")
    return f"{x:,.0f}"


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{n / 1e3:.0f} KB"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * DAY_SECONDS:
        return f"{seconds / 3600:.1f} hours"
    if seconds < 730 * DAY_SECONDS:
        return f"{seconds / DAY_SECONDS:.1f} days"
    return f"{seconds / (365.25 * DAY_SECONDS):.1e} years".replace("e+0", "e")
