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


def test_each_replication_starts_by_collecting_what_the_ones_before_left():
    """A finished replication's world is cyclic garbage that its own end unfreezes but no
    automatic collection reaches (it never passes through the young generations): the
    next replication collects it first, so a worker running many replications keeps one
    world at a time (without this, a Middlesbrough worker grew by 19 MB a replication)."""
    import weakref

    sc = small({})
    first = Model(sc, Streams(1, 0))
    first.run()
    env = weakref.ref(first.world.env)
    del first
    for rep in (1, 2):
        Model(sc, Streams(1, rep)).run()
        assert env() is None
