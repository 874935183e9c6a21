"""Keep Python's cyclic garbage collector out of the event loop, with memory still bounded.

CPython's collector walks every container object it tracks, and a replication keeps tens
of thousands of them alive (people, their lives, pending events, records). With the
collector on, its cost per event grows with the population, so run time grows faster than
the number of events. The model itself makes almost no cyclic garbage (reference counting
frees nearly everything), so the collector is paused while events run:

* what finished replications leave behind (their worlds are cyclic garbage, unfrozen at
  their end into the oldest generation, which no automatic collection reaches: without
  this a worker grew by a replication's world each time) is counted, and once it passes
  :data:`LEFT_FLOOR` objects the next replication starts with one full collection. A
  replication run by :func:`sim.model.simulate` undoes its cycles when it ends, so
  reference counting frees its world and only :data:`RESIDUAL` of it is counted. So
  memory stays within about that much of the live heap, and a process that holds much
  else (a test run, a page server) walks its own heap once per that many objects, not
  once per replication;
* the objects built before the loop (the scenario, the world, the day-0 population) are
  frozen, so no collection walks them while the run lasts; the population is made with
  the collector paused (at 16x Hampshire's size it set off 734 collections) and frozen
  without being walked (:meth:`PausedCollector.set_up`; walking it took 1.3 s at
  national scale);
* the loop runs in short chunks of simulated time; between chunks, the objects made since
  the last collection are collected (the youngest generation only) once they outnumber
  the live heap the run has built (the day-0 population and what the loop has kept so
  far; at least :data:`FLOOR` of them), and the survivors are frozen in turn. While
  collections find no garbage, the budget doubles, up to :data:`GROWTH_MAX` times that
  heap (the model makes almost none: at 16x Hampshire, collections walked 0.4 s of
  objects and found nothing, and at 1x one found 10 objects); one that finds garbage sets
  it back. The counts are CPython's own running counts, so neither a collection nor a
  count walks the whole heap. Garbage can therefore never exceed about the size of the
  live heap (four times it while collections find none), each object is walked by at
  most one collection, and the collections cost time in proportion to what the run keeps
  (a national run, whose budget started at the 3.8 million objects of its day-0
  population rather than at the floor, collected once in 3.6 s where it had collected
  three times in 6.0 s, and ran in 52 to 56 s rather than 67);
* the end of the replication (its closing records) runs paused too, so that it does not
  set off a full collection over everything the run made;
* the collector is restored on leaving, even after an error. Pausing is counted, so
  replications running in several threads of one process restore it only when the last
  one leaves.

Nothing here changes a random draw or the order of events: results are identical with the
collector on or off.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

FLOOR = 200_000
"""Fewest new tracked objects (net of those freed) that trigger a collection between chunks."""
GROWTH_MAX = 4
"""Most the budget may grow to, as a multiple of the objects kept, while collections find
no garbage (it doubles after each that finds none, and drops back to 1 after one that
finds some)."""
LEFT_FLOOR = 500_000
"""Tracked objects finished replications may leave uncollected before the next replication
starts with a full collection (objects; a Hampshire-scale world is about 130,000)."""

RESIDUAL = 0.01
"""Share of a released replication's objects still counted as left to the collector (a
Hampshire replication leaves about 50 of its 64,000, 0.08%: the environment and the
conditions still waiting, each holding itself through its callbacks)."""

_lock = threading.Lock()
_pausers = 0
_was_enabled = True
_left = 0  # tracked objects made by replications that ended since the last full collection


class PausedCollector:
    """Context manager that pauses the cyclic collector; call :meth:`between_chunks` often.

    :param floor: fewest new tracked objects that trigger a collection (objects).
    """

    def __init__(self, floor: int = FLOOR, left_floor: int | None = None) -> None:
        self.floor = floor
        self.left_floor = LEFT_FLOOR if left_floor is None else left_floor
        self.budget = floor
        self.collections = 0
        self.kept = 0  # tracked objects the loop has made and kept so far (net)
        self.growth = 1  # the budget's multiple of what is kept (see between_chunks)
        self.made = 0  # tracked objects of this replication: set-up, loop and end (net)
        self.population = 0  # tracked objects of the day-0 population (see set_up)

    def __enter__(self) -> PausedCollector:
        global _pausers, _was_enabled, _left
        with _lock:
            first = _pausers == 0
            if first:
                _was_enabled = gc.isenabled()
                gc.disable()
            _pausers += 1
            clear = first and _left > self.left_floor
            if clear:
                _left = 0
        self.made = gc.get_count()[0]  # the set-up, made since the last collection
        if clear:
            gc.collect()  # what finished replications left (see the module's docstring)
        gc.freeze()
        self.kept = 0
        self.population = 0
        self.budget = self.floor
        self.growth = 1
        return self

    def set_up(self) -> None:
        """Freeze what was made since the pause began (the day-0 population, all of it
        alive), without walking it: no collection walks it while the run lasts. It is
        live heap, so the budget grows by it (see :meth:`between_chunks`)."""
        population = gc.get_count()[0]
        self.made += population
        self.population = population
        self.budget = max(self.floor, self.growth * (self.kept + population))
        gc.freeze()

    def between_chunks(self) -> None:
        """Collect the objects made since the last collection if they outnumber the budget,
        and freeze the survivors."""
        made = gc.get_count()[0]  # tracked objects made since the last collection, net
        if made > self.budget:
            found = gc.collect(0)
            self.kept += made - found
            gc.freeze()
            self.collections += 1
            self.growth = 1 if found else min(2 * self.growth, GROWTH_MAX)
            self.budget = max(self.floor, self.growth * (self.kept + self.population))

    def released(self) -> None:
        """Say that the replication's reference cycles were undone after it ended
        (:meth:`sim.model.model.Model.release`): reference counting frees its world, so
        only :data:`RESIDUAL` of what it made is counted as left for the collector."""
        global _left
        with _lock:
            _left -= self.made - int(self.made * RESIDUAL)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        global _pausers, _left
        self.made += self.kept + gc.get_count()[0]
        with _lock:
            _left += self.made
            _pausers -= 1
            if _pausers == 0:
                gc.unfreeze()
                if _was_enabled:
                    gc.enable()
