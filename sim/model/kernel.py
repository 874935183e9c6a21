"""The compiled inner loop over SimPy's event queue: stepping, timeouts and people's lives.

SimPy's environment, events, resources and conditions are used as they are; what runs once
or more per event is done here, in code mypyc compiles, on SimPy's own structures (its
queue of ``(day, priority, number, event)`` entries, its event counter and clock), with
the same entries pushed in the same order:

* :func:`run_until` processes events before a day, as repeated ``Environment.step``;
* :func:`timeout` schedules a :class:`Timer`, SimPy's ``Timeout`` with fixed attributes,
  into the heap or, when it is due after the current chunk, into a :class:`Calendar`
  bucket that enters the heap when its chunk opens;
* :class:`Life` drives a person's generator as ``simpy.Process`` does (started by an
  urgent event, resumed by each event it yields, interrupted by an urgent failed event),
  but is not itself an event: nothing waits for a life to end, so its end is counted
  (so the event count stays that of SimPy) and not scheduled.

So every event is processed on the same day, in the same order, and every record is the
same byte for byte as with SimPy's own loop (the golden-output tests and
``tests/test_kernel.py`` hold this). The layout of those structures is SimPy 4's, which
``pyproject.toml`` requires.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from heapq import heappop, heappush
from itertools import count
from typing import Any, Final

import simpy
from mypy_extensions import mypyc_attr
from simpy.events import NORMAL, PENDING, URGENT, Event, Interrupt

Wait = Any
"""What a life yields to wait: a SimPy event, a condition of events, or a :class:`Timer`
(or :data:`OVER`)."""


class Over:
    """The type of :data:`OVER`."""


OVER: Final = Over()
"""What a life may yield to end there, as if it returned (without the exception with which
a compiled generator returns)."""


class Env(simpy.Environment):
    """SimPy's environment, with its clock, queue and event counter as fixed attributes
    (which compiled code reads directly) and the :class:`Calendar` of far timers (``None``
    until :func:`attach_calendar`). SimPy's own code uses it as any environment."""

    _now: float
    _queue: list[Any]
    _eid: count[int]
    calendar: Calendar | None

    def __init__(self) -> None:
        super().__init__()
        self.calendar = None


def run_until(env: Env, stop: float) -> None:
    """Process every event due before day ``stop``, in SimPy's order (as repeated
    ``env.step()`` while ``env.peek() < stop``)."""
    queue = env._queue  # noqa: SLF001 - SimPy's own calendar
    while queue and queue[0][0] < stop:
        day, _, _, event = heappop(queue)
        env._now = day  # noqa: SLF001
        if isinstance(event, Timer):
            timer: Timer = event
            owner = timer.owner
            others = timer.others
            timer.processed = True
            timer.owner = timer.others = None
            if owner is not None:
                owner.resume(timer)
            if others is not None:
                for callback in others:
                    if isinstance(callback, Life):
                        life: Life = callback
                        life.resume(timer)
                    else:
                        callback(timer)
            continue
        callbacks = event.callbacks
        event.callbacks = None
        for callback in callbacks:
            if isinstance(callback, Life):
                life = callback
                life.resume(event)
            else:
                callback(event)
        if not event._ok and not hasattr(event, "_defused"):  # noqa: SLF001
            raise event._value  # noqa: SLF001 - a failed event nobody handled


@mypyc_attr(free_list_len=1)  # compiled: a freed timer is kept for the next, not returned to the allocator
class Timer:
    """An event ``delay`` days after it was made, which nothing can fail: SimPy's
    ``Timeout`` with fixed attributes (read directly by the compiled loop), usable in
    SimPy's conditions (``ev | timer``) like any event.

    Nearly always one life waits for a timer and nothing else: that life is kept as its
    :attr:`owner`, and a list of callbacks is made only when something else waits too
    (or SimPy's code asks for :attr:`callbacks`), so that a timer is one object to make
    and for the cyclic collector to walk, not two.

    :param env: the environment.
    :param delay: days from now (not negative).
    """

    def __init__(self, env: Env, delay: float) -> None:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.owner: Life | None = None  # the first to wait, when it is a life
        self.others: list[Any] | None = None  # every waiter, in order, once it is a list
        self.processed = False
        self._ok = True
        self._value: Any = None
        self._delay = delay

    @property
    def callbacks(self) -> list[Any] | None:
        """What waits for the timer, in order (SimPy's ``Event.callbacks``; ``None`` once
        it has been processed). The list is made here if need be, with the owner first,
        so that SimPy's code can add to it."""
        if self.processed:
            return None
        others = self.others
        if others is None:
            others = self.others = [] if self.owner is None else [self.owner]
            self.owner = None
        return others

    @callbacks.setter
    def callbacks(self, value: list[Any] | None) -> None:
        """Set what waits for the timer (``None``: it has been processed)."""
        self.owner = None
        self.others = value
        self.processed = value is None

    def wait(self, life: Life) -> None:
        """Add ``life`` to what waits for the timer (which has not been processed)."""
        if self.owner is None and self.others is None:
            self.owner = life
        else:
            callbacks = self.callbacks
            assert callbacks is not None
            callbacks.append(life)

    def __repr__(self) -> str:
        return f"<Timer({self._delay}) object at {id(self):#x}>"


class Calendar:
    """Timers due on or after :attr:`horizon` wait outside SimPy's heap, in buckets of
    ``width`` days, until :meth:`open_until` lets their bucket's days in.

    A heap costs time in proportion to the logarithm of its size, and a large one misses
    the processor's cache; most of a person's timers are months or years away. The
    entries are SimPy's own, numbered when made, and every entry due before the day the
    loop runs to is in the heap by then, so the events come out in the same order.

    :param width: days in a bucket (the loop's chunk, so that a bucket opens whole).
    """

    def __init__(self, width: float) -> None:
        self.width = width
        self.horizon = math.inf  # timers due from this day on go to a bucket
        self.far: dict[int, list[Any]] = {}  # bucket number (day // width) -> entries
        self.opened = 0  # buckets before this one are in the heap

    def open_until(self, env: Env, stop: float) -> None:
        """Move every waiting entry due before day ``stop`` into the heap (whole buckets),
        and send timers made from now on that are due on or after ``stop`` to buckets."""
        queue = env._queue  # noqa: SLF001
        far = self.far
        while self.opened * self.width < stop and far:
            for entry in far.pop(self.opened, ()):
                heappush(queue, entry)
            self.opened += 1
        self.horizon = stop

    def entries(self) -> list[Any]:
        """Every entry still waiting in a bucket (in no particular order)."""
        return [entry for bucket in self.far.values() for entry in bucket]

    def clear(self) -> None:
        """Forget every waiting entry."""
        self.far.clear()


def attach_calendar(env: Env, width: float) -> Calendar:
    """Give ``env`` a :class:`Calendar` of buckets ``width`` days wide (its horizon
    infinite until :meth:`Calendar.open_until` is called); returns it."""
    calendar = Calendar(width)
    env.calendar = calendar
    return calendar


def timeout(env: Env, delay: float) -> Wait:
    """An event ``delay`` days from now, scheduled as ``env.timeout(delay)`` schedules its
    own (into the environment's :class:`Calendar` if it has one and the day is beyond its
    horizon)."""
    timer = Timer(env, delay)
    day = env._now + delay  # noqa: SLF001
    entry = (day, NORMAL, next(env._eid), timer)  # noqa: SLF001
    calendar = env.calendar
    if calendar is not None and calendar.horizon <= day < math.inf:
        calendar.far.setdefault(int(day // calendar.width), []).append(entry)
    else:
        heappush(env._queue, entry)  # noqa: SLF001
    return timer


def first_on(env: Env, delay: float) -> Timer:
    """A timer ``delay`` days from now that comes before every ordinary event due the same
    day (SimPy's ``Initialize``, and a policy that must be in force before anyone reads
    the parameters that day); always in the heap."""
    timer = Timer(env, delay)
    heappush(env._queue, (env._now + delay, URGENT, next(env._eid), timer))  # noqa: SLF001
    return timer


def clock(env: Env) -> float:
    """The current day (``env.now``, without calling SimPy's property)."""
    return env._now  # noqa: SLF001


def pending(env: Env) -> simpy.Event:
    """A new event that has not happened (what ``env.event()`` makes)."""
    event = Event.__new__(Event)
    event.env = env
    event.callbacks = []
    event._value = PENDING  # noqa: SLF001 - as Event.__init__ sets it
    return event


def succeed(event: simpy.Event) -> None:
    """Trigger ``event`` now with no value (as ``event.succeed()``)."""
    if event._value is not PENDING:  # noqa: SLF001
        raise RuntimeError(f"{event} has already been triggered")
    event._ok = True  # noqa: SLF001
    event._value = None  # noqa: SLF001
    env: Env = event.env  # type: ignore[assignment]  # the model's events are made in an Env
    heappush(env._queue, (env._now, NORMAL, next(env._eid), event))  # noqa: SLF001


def _interruption(env: Env, cause: Any, callback: Any) -> None:
    """Schedule, now and before ordinary events due now, a failed event carrying
    ``simpy.Interrupt(cause)`` that calls ``callback`` (SimPy's ``Interruption``)."""
    event = Event.__new__(Event)
    event.env = env
    event.callbacks = [callback]
    event._ok = False  # noqa: SLF001
    event._value = Interrupt(cause)  # noqa: SLF001
    event._defused = True  # noqa: SLF001
    heappush(env._queue, (env._now, URGENT, next(env._eid), event))  # noqa: SLF001


class Life:
    """A person's life: a generator of events, resumed with each one's value when it is
    processed (or sent its exception when it failed).

    :param env: the environment.
    :param generator: the life.
    :param deferred: start it when an urgent event made now is processed (as SimPy
        starts a process); otherwise it waits for :meth:`start_now`.
    """

    def __init__(self, env: Env, generator: Generator[Any, Any, Any],
                 deferred: bool = True) -> None:
        self.env = env
        self.generator: Generator[Any, Any, Any] | None = generator
        self.target: Any = None
        if deferred:
            start = first_on(env, 0.0)
            start.wait(self)
            self.target = start

    def start_now(self) -> None:
        """Run the life until its first wait, now, instead of from an urgent event (whose
        number it takes, so that the events made are counted as SimPy counts them)."""
        next(self.env._eid)  # noqa: SLF001
        self.resume(None)

    def __call__(self, event: Any) -> None:
        """Resume the life with ``event`` (what SimPy's own loop calls; the compiled loop
        calls :meth:`resume` directly)."""
        self.resume(event)

    @property
    def is_alive(self) -> bool:
        """Whether the life has not ended yet."""
        return self.generator is not None

    def resume(self, event: Any) -> None:
        """Send ``event``'s value (or throw its exception) into the life, until it yields
        an event that has not happened yet, or ends (``None``: start it)."""
        generator = self.generator
        assert generator is not None
        while True:
            try:
                if event is None or isinstance(event, Timer):
                    event = generator.send(None)  # a timer's value
                elif event._ok:  # noqa: SLF001
                    event = generator.send(event._value)  # noqa: SLF001
                else:
                    event._defused = True  # noqa: SLF001
                    event = generator.throw(event._value)  # noqa: SLF001
            except StopIteration:
                event = OVER
            if event is OVER:
                self.generator = self.target = None
                next(self.env._eid)  # noqa: SLF001 - the end SimPy would schedule
                return
            if isinstance(event, Timer):
                timer: Timer = event
                if timer.processed:
                    continue
                timer.wait(self)
                self.target = timer
                return
            waiting = event.callbacks
            if waiting is not None:
                waiting.append(self)  # the loop calls it (compiled: directly, as resume)
                self.target = event
                return

    def stop(self) -> None:
        """End the life where it waits, without resuming it (the replication is over)."""
        self.generator = self.target = None

    def interrupt(self, cause: Any = None) -> None:
        """Throw ``simpy.Interrupt(cause)`` into the life at its wait, now, before the
        ordinary events due now (as ``simpy.Process.interrupt``)."""
        if self.generator is None:
            raise RuntimeError(f"{self} has terminated and cannot be interrupted.")
        _interruption(self.env, cause, self._interrupted)

    def _interrupted(self, event: Any) -> None:
        if self.generator is None:
            return  # the life ended before the interrupt was processed
        self.target.callbacks.remove(self)
        self.resume(event)

