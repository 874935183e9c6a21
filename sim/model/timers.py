"""Timers: the events of a life's waits, kept in a heap of their own and a calendar.

Nearly every event of a replication is a wait of a fixed number of days. A
:class:`Timer` is that event with fixed attributes: the day it is due, its priority and
its number (SimPy's order: earlier day, then urgent before normal, then the order made),
and what waits for it. Timers wait in a binary heap ordered by those three, made and
compared by compiled code, so that a timer is one object to make, sort and free, where
SimPy's own queue takes a tuple, a float and an integer besides; timers due after the
current chunk of days wait in a :class:`Calendar` bucket until their chunk opens, and are
then sorted into the calendar's run.
:mod:`sim.model.kernel` runs this heap beside SimPy's queue in SimPy's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from mypy_extensions import mypyc_attr

from .hazards import INF

WARM_AHEAD: Final = 64
"""Timers of the calendar's run whose lives are read ahead together
(:meth:`Calendar.warm_ahead`)."""

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import Life


class Numbers:
    """The numbers that order events made on the same day (SimPy's ``count()``): handed
    out in order, by ``next()`` to SimPy's code and through :attr:`next` to compiled
    code."""

    def __init__(self) -> None:
        self.next = 0

    def __iter__(self) -> Numbers:
        """Itself (an iterator)."""
        return self

    def __next__(self) -> Any:  # Any: mypyc's iterator slot returns an object, not an int
        """The next number."""
        number = self.next
        self.next = number + 1
        return number


@mypyc_attr(free_list_len=1)  # compiled: a freed timer is kept for the next, not returned to the allocator
class Timer:
    """An event due on ``day`` (SimPy's ``Timeout``, which nothing can fail), usable in
    SimPy's conditions (``ev | timer``) like any event.

    Nearly always one life waits for a timer and nothing else: that life is kept as its
    :attr:`owner`, and a list of callbacks is made only when something else waits too
    (or SimPy's code asks for :attr:`callbacks`).

    :param env: the environment.
    :param day: the day it is due.
    :param priority: SimPy's priority (``URGENT`` before ``NORMAL`` on the same day).
    :param number: its number, from the environment's :class:`Numbers`.
    :param delay: days from when it was made (for its ``repr``).
    """

    def __init__(self, env: Any, day: float, priority: int, number: int,
                 delay: float) -> None:
        self.env = env
        self.day = day
        self.priority = priority
        self.number = number
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


def before(day: float, priority: int, number: int, other_day: float, other_priority: int,
           other_number: int) -> bool:
    """Whether an event due ``(day, priority, number)`` comes before one due at the other
    three (SimPy's order: day, then priority, then number)."""
    if day != other_day:
        return day < other_day
    if priority != other_priority:
        return priority < other_priority
    return number < other_number


def earlier(a: Timer, b: Timer) -> bool:
    """Whether timer ``a`` comes before timer ``b``."""
    return before(a.day, a.priority, a.number, b.day, b.priority, b.number)


def push(heap: list[Timer], timer: Timer) -> None:
    """Put ``timer`` into ``heap`` (a binary heap, the earliest first)."""
    heap.append(timer)
    pos = len(heap) - 1
    while pos > 0:
        up = (pos - 1) >> 1
        parent = heap[up]
        if not earlier(timer, parent):
            break
        heap[pos] = parent
        pos = up
    heap[pos] = timer


def pop(heap: list[Timer]) -> Timer:
    """Take the earliest timer out of ``heap`` (not empty)."""
    last = heap.pop()
    size = len(heap)
    if size == 0:
        return last
    first = heap[0]
    pos = 0
    child = 1
    while child < size:
        right = child + 1
        if right < size and earlier(heap[right], heap[child]):
            child = right
        below = heap[child]
        if not earlier(below, last):
            break
        heap[pos] = below
        pos = child
        child = 2 * pos + 1
    heap[pos] = last
    return first


class Calendar:
    """Timers due on or after :attr:`horizon` wait outside the heap, in buckets of
    ``width`` days, until :meth:`open_until` lets their bucket's days in: sorted once, as
    the calendar's :attr:`run`, from which the loop takes them in order.

    A heap costs time in proportion to the logarithm of its size, and a large one misses
    the processor's cache; most of a person's timers are months or years away, and most
    timers (about four in five in a Hampshire-scale run) reach the loop through a bucket.
    Sorting a bucket as it opens (a float key per timer, compared by the sort's fast path)
    costs a fraction of taking its timers one by one out of a heap that holds them all
    (at 4x Hampshire a bucket brings about 860 timers; the heap held 446 on average when a
    timer was taken from it, and holds 37 now). Every timer due before the day the loop
    runs to is in the heap or the run by then, so the events come out in the same order.

    Bucketed timers are all ordinary ones (``NORMAL``; urgent ones go straight to the
    heap), added in the order they were made: sorted by day with a stable sort, those due
    on the same day stay in number order, which is SimPy's.

    :param width: days in a bucket (the loop's chunk, so that a bucket opens whole).
    """

    def __init__(self, width: float) -> None:
        self.width = width
        self.horizon = INF  # timers due from this day on go to a bucket
        self.far: dict[int, list[Timer]] = {}  # bucket number (day // width) -> timers
        self.opened = 0  # buckets before this one have been opened
        self.run: list[Timer] = []
        """The opened buckets' timers not yet taken, in order, the earliest last (taken
        by ``pop()``)."""
        self.until_warm = 0  # timers to take from the run before the next ones are warmed
        self.warmth = 0.0  # what warming them read (kept, so the reads are not dropped)

    def add(self, heap: list[Timer], timer: Timer) -> None:
        """Put ``timer`` (an ordinary one) into its bucket, or into ``heap`` if it is due
        before the horizon."""
        day = timer.day
        if self.horizon <= day < INF:
            self.far.setdefault(int(day // self.width), []).append(timer)
        else:
            push(heap, timer)

    def open_until(self, stop: float) -> None:
        """Sort every bucketed timer due before day ``stop`` (whole buckets) into the
        :attr:`run`, and send timers made from now on that are due on or after ``stop`` to
        buckets."""
        far = self.far
        opened: list[Timer] = []
        while self.opened * self.width < stop and far:
            opened.extend(far.pop(self.opened, ()))
            self.opened += 1
        if opened:
            run = self.run
            run.reverse()  # the timers left, earliest first, before the new ones
            run.extend(opened)
            run.sort(key=_day)  # stable: the same day keeps the order made
            run.reverse()
            self.until_warm = 0  # warm the new head at the next take
        self.horizon = stop

    def warm_ahead(self) -> None:
        """Read what the next :data:`WARM_AHEAD` timers of the run and their lives hold,
        so that the fetches from memory of many lives overlap, where each event would
        wait for its own in turn (at 16x Hampshire most of what an event reads has left
        the processor's cache since the person's last event). In three passes, each of
        reads that do not wait for one another: the timers (and the lives' first lines),
        the lives' fields (:meth:`~sim.model.kernel.Life.warm_fields`), and the objects
        they point to (:meth:`~sim.model.kernel.Life.warm_objects`)."""
        run = self.run
        lives: list[Life] = []
        for i in range(len(run) - 1, max(len(run) - 1 - WARM_AHEAD, -1), -1):
            owner = run[i].owner
            if owner is not None:
                lives.append(owner)
        total = 0.0
        for life in lives:
            total += life.warm_fields()
        for life in lives:
            total += life.warm_objects()
        self.warmth = total

    def timers(self) -> list[Timer]:
        """Every timer still waiting in a bucket or the run (in no particular order)."""
        return self.run + [timer for bucket in self.far.values() for timer in bucket]

    def clear(self) -> None:
        """Forget every waiting timer."""
        self.far.clear()
        self.run.clear()


def _day(timer: Timer) -> float:
    """The day ``timer`` is due (the run's sort key)."""
    return timer.day
