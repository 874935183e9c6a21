"""What an event costs in instructions and in memory traffic, counted rather than timed.

    python benchmarks/cache.py                 # Hampshire scale at 1x and 16x, 10 years
    python benchmarks/cache.py --sizes 1,4 --years 2

Runs one replication of the Hampshire-scale scenario at each population multiple under
Valgrind's cache simulator (``valgrind --tool=callgrind --cache-sim=yes``, Debian's
``valgrind`` package), counting only inside the event loop (``kernel.run_until``), and
prints per event: instructions, data reads and writes, first-level data cache misses and
last-level cache misses. The simulated caches are this processor's first-level data cache
and its last (largest) cache, read from ``/sys/devices/system/cpu/cpu0/cache``; Valgrind
simulates those two levels only. The counts do not depend on the machine's load, so
they show what a change does to the work and the memory traffic of an event even where
timings vary by 30%. A replication runs about 50 times slower than natively (a 16x one
about 15 minutes). Needs the compiled model (``run_until`` is a compiled function).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.loop import in_fresh_process  # noqa: E402

LOOP_SYMBOL = "CPyDef_kernel___run_until"
"""The compiled event loop: counting is on while it runs."""
CACHES = Path("/sys/devices/system/cpu/cpu0/cache")
EVENTS = ("Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw")
"""Callgrind's counters read here: instructions, data reads and writes, and the misses of
the first-level data cache and of the last-level cache, by reads and writes."""

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from benchmarks.scenarios import hampshire_scale
from sim.model import BUILD, simulate
rec = simulate(hampshire_scale(int(sys.argv[2]), int(sys.argv[3])), 1, 0)
print(json.dumps([BUILD, rec.events]))
"""
"""One replication (argv: checkout, years, multiple): the build it ran and its events."""


def _bytes(size: str) -> int:
    """Bytes in a sysfs cache size such as ``32K`` or ``32768K``."""
    units = {"K": 1024, "M": 1024 ** 2}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


def cache_option(level: int | None, kind: str) -> str | None:
    """Valgrind's ``size,ways,line`` (bytes, ways, bytes) for this processor's cache of
    ``kind`` (``Data`` or ``Unified``) at ``level`` (None: the highest level of that
    kind), read from sysfs; None if it cannot be read (Valgrind then asks the
    processor)."""
    found = []
    for index in sorted(CACHES.glob("index*")):
        try:
            read = {name: (index / name).read_text().strip()
                    for name in ("level", "type", "size", "ways_of_associativity",
                                 "coherency_line_size")}
        except OSError:
            continue
        if read["type"] == kind and (level is None or int(read["level"]) == level):
            found.append(read)
    if not found:
        return None
    cache = max(found, key=lambda read: int(read["level"]))
    return (f"{_bytes(cache['size'])},{cache['ways_of_associativity']},"
            f"{cache['coherency_line_size']}")


def counts(years: int, times: int, out: Path) -> tuple[str, int, dict[str, int]]:
    """The build, events and callgrind totals of one replication at ``times`` Hampshire."""
    command = ["valgrind", "--tool=callgrind", "--cache-sim=yes",
               f"--toggle-collect={LOOP_SYMBOL}", f"--callgrind-out-file={out}"]
    for flag, level, kind in (("--D1", 1, "Data"), ("--LL", None, "Unified")):
        option = cache_option(level, kind)
        if option:
            command.append(f"{flag}={option}")
    build, events = in_fresh_process(CHILD, years, times, prefix=command)
    return build, events, read_totals(out)


def read_totals(out: Path) -> dict[str, int]:
    """Event name -> count over the whole run, from callgrind's output file ``out``."""
    names: list[str] = []
    totals: list[int] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(x) for x in line.split()[1:]]
    if not names or not totals:
        raise RuntimeError(f"{out} has no 'events:' or 'summary:' line (did Valgrind finish?)")
    # a cost line with fewer counts than events has zeros for the rest (Valgrind's
    # Callgrind Format Specification); read the summary the same way
    totals += [0] * (len(names) - len(totals))
    return dict(zip(names, totals, strict=True))


def main() -> None:
    """Count each size's replication and print its costs per event."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,16", help="population multiples, e.g. 1,16")
    ap.add_argument("--years", type=int, default=10)
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("benchmarks/cache.py needs Valgrind (Debian: apt-get install valgrind)")
    print(f"simulated caches (bytes,ways,line; 'asked' where Valgrind asks the processor): "
          f"first-level data {cache_option(1, 'Data') or 'asked'}, "
          f"last-level {cache_option(None, 'Unified') or 'asked'}")
    print(f"per event, inside the event loop ({args.years}-year replication):")
    print(f"{'size':>6} {'events':>10} " + " ".join(f"{name:>8}" for name in EVENTS))
    with tempfile.TemporaryDirectory() as tmp:
        for times in (int(x) for x in args.sizes.split(",")):
            build, events, total = counts(args.years, times, Path(tmp) / f"{times}.out")
            if not build.startswith("compiled"):
                sys.exit(f"the model ran {build}: install it compiled (pip install -e .)")
            print(f"{times:>5}x {events:>10,} "
                  + " ".join(f"{total[name] / events:>8,.1f}" for name in EVENTS), flush=True)


if __name__ == "__main__":
    main()
