"""The compiled event loop: SimPy's queue and a heap of timers, stepped in SimPy's order.

SimPy's events, resources and conditions are used as they are; what runs once or more
per event is done here and in :mod:`sim.model.timers`, in code mypyc compiles:

* :class:`Env` is SimPy's environment whose :meth:`Env.run` and :meth:`Env.step` run
  :func:`run_until`: SimPy's events wait in SimPy's queue (``(day, priority, number,
  event)`` entries) and :class:`~sim.model.timers.Timer` s in a heap of their own, or,
  when due after the current chunk of days, in the :class:`~sim.model.timers.Calendar`'s
  buckets, sorted into its run as their chunk opens; each step takes the earliest of the
  three heads by (day, priority, number), as SimPy's one queue would;
* :func:`timeout` makes a timer (SimPy's ``Timeout``) and :func:`first_on` an urgent one;
* :class:`Life` drives a person's generator as ``simpy.Process`` does (resumed by each
  event it yields, interrupted by an urgent failed event), but is not itself an event:
  nothing waits for a life to end, so its end is counted (so the event count stays that
  of SimPy) and not scheduled.

So every event is processed on the same day, in the same order, and every record is the
same byte for byte as with SimPy's own loop (the golden-output tests and
``tests/test_kernel.py`` hold this). The layout of SimPy's structures is SimPy 4's, which
``pyproject.toml`` requires.
"""

from __future__ import annotations

from collections.abc import Generator
from heapq import heappop, heappush
from typing import Any, Final

import simpy
from simpy.core import EmptySchedule
from simpy.events import NORMAL, PENDING, URGENT, Event, Interrupt

from .hazards import INF
from .timers import WARM_AHEAD, Calendar, Numbers, Timer, before, earlier, pop, push

Wait = Any
"""What a life yields to wait: a SimPy event, a condition of events, or a :class:`Timer`
(or :data:`OVER`)."""

FIRST: Final = -1
"""A priority before SimPy's ``URGENT``: ``(day, FIRST, 0)`` comes before every event
due on ``day``."""


class Over:
    """The type of :data:`OVER`."""


OVER: Final = Over()
"""What a life may yield to end there, as if it returned (without the exception with which
a compiled generator returns)."""


class Env(simpy.Environment):
    """SimPy's environment, run by the compiled loop (:meth:`run`, :meth:`step` and
    :meth:`peek` serve SimPy's queue and the heap of timers together), with its clock,
    queue and event numbers as fixed attributes, and a :class:`Calendar` of far timers
    (``None`` until :func:`attach_calendar`).

    Compiled, an environment must not be weakly referenced where it may be freed by
    reference counting: mypyc's deallocator of a compiled class with a Python base does
    not clear weak references to it (mypyc/mypyc#1102), so the reference would dangle and
    the interpreter crash when it is next touched. Nothing in treatsim weakly references
    one; one freed by the cyclic collector is safe (the collector clears them first)."""

    _now: float
    _queue: list[Any]
    numbers: Numbers
    timers: list[Timer]
    calendar: Calendar | None

    def __init__(self) -> None:
        super().__init__()
        self.numbers = Numbers()
        self._eid = self.numbers  # type: ignore[assignment]  # what SimPy numbers events with
        self.timers = []
        self.calendar = None

    def run(self, until: Any = None) -> Any:
        """Process events until day ``until`` (a number; every event when ``None``), then
        stand at it, as ``simpy.Environment.run`` does (whose stop event takes a number,
        and another when SimPy puts it back in the queue as it stops)."""
        if until is None:
            run_until(self, INF)
            return None
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until (={at}) must be greater than the current time")
        _run_before(self, at, URGENT, _take_number(self))
        _take_number(self)
        self._now = at
        return None

    def step(self) -> None:
        """Process the next event."""
        if not _step(self, INF, FIRST, 0):
            raise EmptySchedule()

    def peek(self) -> float:
        """The day of the next event (infinity when there is none)."""
        day = INF
        timer = _next_timer(self)
        if timer is not None:
            day = timer.day
        if self._queue:
            day = min(day, self._queue[0][0])
        return day


def run_until(env: Env, stop: float) -> None:
    """Process every event due before day ``stop``, in SimPy's order (as repeated
    ``env.step()`` while ``env.peek() < stop``)."""
    _run_before(env, stop, FIRST, 0)


def _run_before(env: Env, day: float, priority: int, number: int) -> None:
    """Process every event that comes before ``(day, priority, number)``."""
    while _step(env, day, priority, number):
        pass


def _step(env: Env, day: float, priority: int, number: int) -> bool:
    """Process the next event if it comes before ``(day, priority, number)``; whether
    there was one."""
    timer = _next_timer(env)
    queue = env._queue  # noqa: SLF001 - SimPy's own queue
    if timer is not None and (not queue or _first(timer, queue[0])):
        if not before(timer.day, timer.priority, timer.number, day, priority, number):
            return False
        _take_timer(env, timer)
        env._now = timer.day  # noqa: SLF001
        _fire(timer)
        return True
    if not queue:
        return False
    entry = queue[0]
    if not before(entry[0], entry[1], entry[2], day, priority, number):
        return False
    heappop(queue)
    env._now = entry[0]  # noqa: SLF001
    event = entry[3]
    callbacks = event.callbacks
    event.callbacks = None
    _call(callbacks, event)
    if not event._ok and not hasattr(event, "_defused"):  # noqa: SLF001
        raise event._value  # noqa: SLF001 - a failed event nobody handled
    return True


def _next_timer(env: Env) -> Timer | None:
    """The earliest waiting timer, at the head of the heap or of the calendar's run
    (``None`` if there is none)."""
    timers = env.timers
    calendar = env.calendar
    if calendar is not None:
        run = calendar.run
        if run:
            head = run[-1]
            if not timers or earlier(head, timers[0]):
                return head
    return timers[0] if timers else None


def _take_timer(env: Env, timer: Timer) -> None:
    """Take ``timer`` (what :func:`_next_timer` gave) out of the run or the heap; every
    :data:`~sim.model.timers.WARM_AHEAD` timers taken from the run, read the lives of the
    next ones ahead (:meth:`Calendar.warm_ahead`)."""
    calendar = env.calendar
    if calendar is not None and calendar.run and calendar.run[-1] is timer:
        calendar.run.pop()
        calendar.until_warm -= 1
        if calendar.until_warm <= 0:
            calendar.until_warm = WARM_AHEAD
            calendar.warm_ahead()
    else:
        pop(env.timers)


def _first(timer: Timer, entry: tuple[float, int, int, Any]) -> bool:
    """Whether ``timer`` comes before SimPy's queue ``entry``."""
    return before(timer.day, timer.priority, timer.number, entry[0], entry[1], entry[2])


def _fire(timer: Timer) -> None:
    """Resume what waits for ``timer`` (its owner first, then the rest in order)."""
    owner = timer.owner
    others = timer.others
    timer.processed = True
    timer.owner = timer.others = None
    if owner is not None:
        owner.resume(timer)
    if others is not None:
        _call(others, timer)


def _call(callbacks: list[Any], event: Any) -> None:
    """Call each of ``callbacks`` with ``event``, in order (a life directly, by its
    compiled :meth:`Life.resume`)."""
    for callback in callbacks:
        if isinstance(callback, Life):
            life: Life = callback
            life.resume(event)
        else:
            callback(event)


def attach_calendar(env: Env, width: float) -> Calendar:
    """Give ``env`` a :class:`Calendar` of buckets ``width`` days wide (its horizon
    infinite until :func:`open_until` is called); returns it."""
    calendar = Calendar(width)
    env.calendar = calendar
    return calendar


def open_until(env: Env, stop: float) -> None:
    """Let every timer of ``env``'s calendar due before day ``stop`` into its run."""
    assert env.calendar is not None
    env.calendar.open_until(stop)


def timeout(env: Env, delay: float) -> Wait:
    """An event ``delay`` days from now, numbered and ordered as ``env.timeout(delay)``
    (into the environment's :class:`Calendar` if it has one and the day is beyond its
    horizon)."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    timer = Timer(env, env._now + delay, NORMAL, _take_number(env), delay)  # noqa: SLF001
    calendar = env.calendar
    if calendar is None:
        push(env.timers, timer)
    else:
        calendar.add(env.timers, timer)
    return timer


def first_on(env: Env, delay: float) -> Timer:
    """A timer ``delay`` days from now that comes before every ordinary event due the same
    day (SimPy's ``Initialize``, and a policy that must be in force before anyone reads
    the parameters that day); always in the heap."""
    timer = Timer(env, env._now + delay, URGENT, _take_number(env), delay)  # noqa: SLF001
    push(env.timers, timer)
    return timer


def _take_number(env: Env) -> int:
    """The next event number (as ``next(env.numbers)``, without the boxed integer)."""
    numbers = env.numbers
    number = numbers.next
    numbers.next = number + 1
    return number


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
    heappush(env._queue, (env._now, NORMAL, _take_number(env), event))  # noqa: SLF001


def _interruption(env: Env, cause: Any, callback: Any) -> None:
    """Schedule, now and before ordinary events due now, a failed event carrying
    ``simpy.Interrupt(cause)`` that calls ``callback`` (SimPy's ``Interruption``)."""
    event = Event.__new__(Event)
    event.env = env
    event.callbacks = [callback]
    event._ok = False  # noqa: SLF001
    event._value = Interrupt(cause)  # noqa: SLF001
    event._defused = True  # noqa: SLF001
    heappush(env._queue, (env._now, URGENT, _take_number(env), event))  # noqa: SLF001


def forget_waiting(env: Env) -> None:
    """Forget every event still waiting (a finished replication's), undoing the cycles
    between them and what waits for them."""
    calendar = env.calendar
    for timer in env.timers + (calendar.timers() if calendar is not None else []):
        timer.callbacks = None
    for entry in env._queue:  # noqa: SLF001
        entry[3].callbacks = None
    env.timers.clear()
    env._queue.clear()  # noqa: SLF001
    if calendar is not None:
        calendar.clear()


class Life:
    """A life: a generator of events, resumed with each one's value when it is processed
    (or sent its exception when it failed). A person is one (a subclass), so that the
    loop resumes the person, not an object of its own for their life.

    :param env: the environment (``None``: one that is never run).
    :param generator: the life (``None``: given later, to :meth:`start_now`).
    :param deferred: start it when an urgent event made now is processed (as SimPy
        starts a process); otherwise it waits for :meth:`start_now`.
    """

    __slots__ = ("env", "generator", "target")

    def __init__(self, env: Env | None, generator: Generator[Any, Any, Any] | None = None,
                 deferred: bool = True) -> None:
        self.env = env
        self.generator: Generator[Any, Any, Any] | None = generator
        self.target: Any = None
        if generator is not None and deferred:
            assert env is not None
            start = first_on(env, 0.0)
            start.wait(self)
            self.target = start

    def start_now(self, generator: Generator[Any, Any, Any] | None = None) -> None:
        """Run the life (``generator``, for one made without it) until its first wait, now,
        instead of from an urgent event (whose number it takes, so that the events made
        are counted as SimPy counts them)."""
        env = self.env
        assert env is not None
        if generator is not None:
            self.generator = generator
        _take_number(env)
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
                env = self.env
                assert env is not None
                _take_number(env)  # the end SimPy would schedule
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

    def warm_fields(self) -> float:
        """Read the fields the life's next event will read, ahead of it (a plain life:
        nothing; a person reads theirs); the number means nothing."""
        return 0.0

    def warm_objects(self) -> float:
        """Read the objects the life's fields point to that its next event will read,
        ahead of it (a plain life: nothing); the number means nothing."""
        return 0.0

    def stop(self) -> None:
        """End the life where it waits, without resuming it (the replication is over)."""
        self.generator = self.target = None

    def interrupt(self, cause: Any = None) -> None:
        """Throw ``simpy.Interrupt(cause)`` into the life at its wait, now, before the
        ordinary events due now (as ``simpy.Process.interrupt``)."""
        env = self.env
        if self.generator is None or env is None:
            raise RuntimeError(f"{self} has terminated and cannot be interrupted.")
        _interruption(env, cause, self._interrupted)

    def _interrupted(self, event: Any) -> None:
        if self.generator is None:
            return  # the life ended before the interrupt was processed
        self.target.callbacks.remove(self)
        self.resume(event)

