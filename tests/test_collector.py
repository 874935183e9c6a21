"""The garbage collector kept out of the event loop: same results, memory still bounded."""

from __future__ import annotations

import gc
import threading

import pytest
import simpy
from helpers import small

from sim.model import Model
from sim.model.collector import PausedCollector
from sim.streams import Streams

pytestmark = pytest.mark.unit


def _cycles_every_day(env: simpy.Environment, per_day: int):
    """Make ``per_day`` two-object reference cycles a day and drop them at once."""
    while True:
        for _ in range(per_day):
            a: list = []
            b = [a]
            a.append(b)
        yield env.timeout(1)


def _tracked_at_each_chunk(days: int, per_day: int, tick: bool) -> tuple[list[int], int]:
    """Tracked objects (not frozen) at each 28-day pause of a run making cyclic garbage,
    and the collector's budget (objects) at the start."""
    env = simpy.Environment()
    env.process(_cycles_every_day(env, per_day))
    seen = []
    with PausedCollector(floor=20_000) as collector:
        budget = collector.budget
        for stop in range(28, days, 28):
            env.run(until=stop)
            if tick:
                collector.between_chunks()
            seen.append(len(gc.get_objects()))
    return seen, budget


def test_garbage_made_inside_the_loop_is_collected_so_memory_stays_bounded():
    # 3,000 days x 100 cycles x 2 lists = 600,000 garbage objects over the run
    chunk = 28 * 100 * 2  # garbage objects made in one chunk
    bounded, budget = _tracked_at_each_chunk(days=3000, per_day=100, tick=True)
    leaking, _ = _tracked_at_each_chunk(days=3000, per_day=100, tick=False)
    gc.collect()
    # the bound: what was alive at the start, plus the budget (a collection runs once the
    # objects made since the last one pass it), plus the chunk in which it was passed;
    # without the pauses, garbage grows with the run
    start = bounded[0] - chunk
    assert max(bounded) <= start + budget + chunk
    assert leaking[-1] > start + 500_000
    # the late half of the run is no bigger than the early half
    assert max(bounded[len(bounded) // 2:]) <= max(bounded[: len(bounded) // 2]) + 28 * 400


def test_the_collector_is_restored_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), PausedCollector():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
        raise RuntimeError("boom")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_already_off_stays_off():
    gc.disable()
    try:
        with PausedCollector():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_restore_the_collector_only_when_the_last_leaves():
    inside, leave = threading.Event(), threading.Event()

    def hold():
        with PausedCollector():
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(10)
    with PausedCollector():
        pass
    assert not gc.isenabled()  # the worker is still inside
    leave.set()
    worker.join(10)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_pausing_the_collector_changes_no_record():
    sc = small()
    paused = Model(sc, Streams(5, 1)).run()
    model = Model(sc, Streams(5, 1))
    model.start()
    model.world.env.run(until=model.world.end_day + 1e-6)  # one loop, collector on
    assert model.finish() == paused


class _Node:
    """A container that refers to itself: garbage only the cyclic collector frees."""

    def __init__(self) -> None:
        self.me = self


def _replication(objects: int, left_floor: int):
    """A stand-in replication: ``objects`` self-referring objects made under the paused
    collector and dropped at its end; returns a weak reference to one of them."""
    import weakref

    with PausedCollector(floor=1, left_floor=left_floor) as collector:
        world = [_Node() for _ in range(objects)]
        first = weakref.ref(world[0])
        collector.between_chunks()  # the world survives a chunk's collection: frozen
    return first


def test_what_finished_replications_left_is_collected_once_past_the_floor():
    """Worlds that replications leave are unfrozen into the oldest generation at their end,
    which no automatic collection reaches; the next replication collects them once they
    add up to more than the floor, and not before."""
    kept = _replication(3_000, left_floor=10**9)
    _replication(10, left_floor=10**9)
    assert kept() is not None  # below the floor: left for later
    _replication(10, left_floor=1_000)
    assert kept() is None  # past it: the next replication started by collecting


def test_the_day0_population_is_live_heap_in_the_budget():
    """Objects made between the pause and ``set_up`` (the day-0 population, all alive)
    raise the budget as much as objects the loop keeps would: no collection walks the
    loop's young objects before they outnumber the population."""
    with PausedCollector(floor=10) as collector:
        population = [[] for _ in range(5_000)]
        collector.set_up()
        # CPython's count is net of the few objects freed meanwhile (the comprehension's)
        assert len(population) - 10 <= collector.population <= len(population) + 10
        assert collector.budget == collector.population


def test_a_replication_leaves_its_world_to_be_counted(monkeypatch):
    """The real model counts what its replication leaves: with no floor, a finished
    replication's environment is gone once the next has started (without this a
    Middlesbrough worker grew by 19 MB a replication)."""
    import weakref

    from sim.model import collector

    monkeypatch.setattr(collector, "LEFT_FLOOR", 0)
    sc = small({})
    first = Model(sc, Streams(1, 0))
    first.run()
    env = weakref.ref(first.world.env)
    del first
    Model(sc, Streams(1, 1)).run()
    assert env() is None



def test_a_released_replication_is_freed_without_the_cyclic_collector():
    """What ``simulate`` does after a run: undo the replication's cycles (waiting events,
    lives and the generators they drive), so that reference counting frees its world. With
    the collector off, a full collection once the model is gone finds well under 1% of the
    objects the replication made (without the release, a fifth to two thirds of them, as
    uncompiled or compiled)."""
    sc = small({})
    gc.collect()
    was = gc.isenabled()
    try:
        found = {}
        for release in (False, True):
            model = Model(sc, Streams(3, 0))
            records = model.run()
            gc.disable()
            if release:
                model.release()
            objects = model.collector.made
            del model
            found[release] = gc.collect()
            assert records.episodes  # the records outlive the world
    finally:
        if was:
            gc.enable()
    assert found[True] < 0.01 * objects
    assert found[False] > 20 * max(found[True], 1)
