"""The compiled loop over SimPy's queue processes the same events in the same order as
SimPy's own (``Environment.step``, ``Process``, ``Timeout``)."""

from __future__ import annotations

import random

import pytest
import simpy

from sim.model.kernel import OVER, Env, Life, attach_calendar, open_until, run_until, timeout

pytestmark = pytest.mark.unit

END = 1000.0


def _walker(env: simpy.Environment, pid: int, seen: list, wait, interrupted: list,
            whole_days: bool = False):
    """Wait random gaps (some far beyond a bucket, some zero; ``whole_days``: rounded to
    whole days, so that many are due on the same day), noting each day; note an interrupt
    and go on."""
    rng = random.Random(pid)
    while True:
        gap = rng.choice([0.0, rng.expovariate(1 / 3), rng.expovariate(1 / 400)])
        if whole_days:
            gap = float(round(gap))
        try:
            yield wait(env, gap)
        except simpy.Interrupt as stop:
            interrupted.append((env.now, pid, stop.cause))
            continue
        seen.append((env.now, pid))


def _run(kernel: bool, whole_days: bool = False) -> tuple[list, list, int]:
    """Days and ids as each walker wakes, and the events made, through SimPy's own
    environment or the kernel's (with a calendar of 28-day buckets)."""
    env = Env() if kernel else simpy.Environment()
    seen: list = []
    interrupted: list = []
    if kernel:
        attach_calendar(env, 28.0)
        open_until(env, 28.0)
        lives = [Life(env, _walker(env, pid, seen, timeout, interrupted, whole_days))
                 for pid in range(60)]
    else:
        lives = [env.process(_walker(env, pid, seen, lambda e, d: e.timeout(d), interrupted,
                                     whole_days))
                 for pid in range(60)]

    def interrupter(env: simpy.Environment):
        for day in (10.0, 55.5, 300.0):
            yield env.timeout(day - env.now)
            for life in lives[::7]:
                life.interrupt(f"at {day}")

    env.process(interrupter(env))
    if kernel:
        stop = 28.0
        while stop < END:
            open_until(env, stop)
            run_until(env, stop)
            stop += 28.0
        open_until(env, END)
    env.run(until=END)
    return seen, interrupted, next(env._eid)  # noqa: SLF001


def test_the_kernel_processes_the_same_events_in_the_same_order_as_simpy():
    simpy_seen, simpy_interrupted, simpy_events = _run(kernel=False)
    seen, interrupted, events = _run(kernel=True)
    assert len(seen) > 400 and len(interrupted) == 3 * 9
    assert seen == simpy_seen
    assert interrupted == simpy_interrupted
    assert events == simpy_events  # a life's end is counted as SimPy schedules it


def test_events_due_on_the_same_day_come_in_simpys_order_from_buckets_heap_and_queue():
    """Whole-day waits put many timers on one day: some sorted in from a bucket, some
    made within the chunk (the heap), and interrupts in SimPy's queue. They wake in the
    order SimPy's one queue gives (day, then urgent first, then the order made)."""
    simpy_seen, simpy_interrupted, simpy_events = _run(kernel=False, whole_days=True)
    seen, interrupted, events = _run(kernel=True, whole_days=True)
    days = [day for day, _ in seen]
    assert len(days) - len(set(days)) > 250  # most wakes share their day with another
    assert seen == simpy_seen
    assert interrupted == simpy_interrupted
    assert events == simpy_events


def test_a_timer_works_in_simpy_conditions():
    env = Env()
    place = env.event()
    got = []

    def waiter(env: Env):
        timer = timeout(env, 5.0)
        value = yield place | timer
        got.append((env.now, timer in value, place.triggered))

    Life(env, waiter(env))
    env.run()
    assert got == [(5.0, True, False)]


def _shared(kernel: bool) -> list:
    """Three lives wait for one timer (the first directly, one through a condition, one
    directly after the condition); the order in which they wake, through SimPy's own
    environment or the kernel's."""
    env = Env() if kernel else simpy.Environment()
    woke: list = []
    timer = timeout(env, 2.0) if kernel else env.timeout(2.0)

    def direct(env: simpy.Environment, name: str):
        yield timer
        woke.append((env.now, name))

    def either(env: simpy.Environment):
        yield env.event() | timer
        woke.append((env.now, "condition"))

    for life in (direct(env, "first"), either(env), direct(env, "last")):
        if kernel:
            Life(env, life)
        else:
            env.process(life)
    env.run()
    return woke


def test_lives_sharing_a_timer_wake_in_the_order_they_waited_as_in_simpy():
    assert _shared(kernel=True) == _shared(kernel=False)
    # the condition is an event of its own, processed after the timer's direct waiters
    assert [name for _, name in _shared(kernel=True)] == ["first", "last", "condition"]


def test_a_timer_refuses_a_negative_delay():
    with pytest.raises(ValueError, match="Negative delay"):
        timeout(Env(), -1.0)


def test_a_life_given_its_generator_when_it_starts_runs_like_one_made_with_it():
    """A person is a Life made before their generator (which needs the person): started
    with it, it runs now, takes the start event's number, and ends as any life does."""
    from sim.model.draws import PersonStream
    from sim.model.people import Person

    env = Env()
    person = Person(0, PersonStream((1, 2, 3, 4, 5, 6)), {"substance": "opiate"}, env=env)
    days: list[float] = []

    def walk(env: Env):
        for gap in (1.0, 2.5):
            days.append(env.now)
            yield timeout(env, gap)
        days.append(env.now)
        yield OVER

    assert not person.is_alive and env.numbers.next == 0
    person.start_now(walk(env))
    assert person.is_alive and days == [0.0] and env.numbers.next == 2
    env.run()
    assert days == [0.0, 1.0, 3.5] and not person.is_alive
    assert env.numbers.next == 4  # start, two timers, the end SimPy would schedule


def test_a_life_that_ended_cannot_be_interrupted():
    env = Env()

    def short(env: Env):
        yield timeout(env, 1.0)

    life = Life(env, short(env))
    env.run()
    assert not life.is_alive
    with pytest.raises(RuntimeError, match="terminated"):
        life.interrupt()


def test_step_and_peek_take_the_earlier_of_a_timer_and_a_simpy_event():
    env = Env()
    order: list = []
    timer = timeout(env, 2.0)
    timer.callbacks.append(lambda event: order.append(("timer", env.now)))
    event = env.timeout(1.0)  # SimPy's own, in SimPy's queue
    event.callbacks.append(lambda event: order.append(("simpy", env.now)))
    assert env.peek() == 1.0
    env.step()
    assert order == [("simpy", 1.0)] and env.peek() == 2.0
    env.step()
    assert order == [("simpy", 1.0), ("timer", 2.0)] and env.peek() == float("inf")
    with pytest.raises(simpy.core.EmptySchedule):
        env.step()


def test_the_loop_reads_the_lives_of_the_next_timers_of_the_run_ahead_of_them():
    """Every WARM_AHEAD timers taken from the calendar's run, the lives of the next
    WARM_AHEAD (in the order they will be taken) are read ahead (``Life.warm_fields`` and
    ``Life.warm_objects``)."""
    from sim.model.draws import PersonStream
    from sim.model.kernel import _next_timer, _take_timer
    from sim.model.people import Person
    from sim.model.timers import WARM_AHEAD

    env = Env()
    attach_calendar(env, 28.0)
    open_until(env, 28.0)
    people = []
    for pid in range(3 * WARM_AHEAD):  # made in reverse order of day: the sort must order them
        person = Person(pid, PersonStream((pid + 1, 2, 3, 4, 5, 6)), {"substance": "opiate"},
                        env=env)
        person.segment_start = float(pid * pid)
        timeout(env, 500.0 - pid).wait(person)
        people.append(person)
    open_until(env, 600.0)
    calendar = env.calendar
    assert calendar is not None
    by_day = people[::-1]
    warmed = []
    for taken in range(2 * WARM_AHEAD + 1):
        timer = _next_timer(env)
        assert timer is not None and timer.owner is by_day[taken]
        _take_timer(env, timer)
        warmed.append(calendar.warmth)
    ahead = [sum(p.warm_fields() + p.warm_objects() for p in by_day[k + 1:k + 1 + WARM_AHEAD])
             for k in (0, WARM_AHEAD, 2 * WARM_AHEAD)]
    assert warmed[0] == ahead[0] and warmed[WARM_AHEAD - 1] == ahead[0]
    assert warmed[WARM_AHEAD] == ahead[1] and warmed[2 * WARM_AHEAD] == ahead[2]
    assert len(set(ahead)) == 3
