"""A small process pool that can be stopped at any moment without deadlock.

Each worker is a process with its own pipe to the parent; the parent hands out one item
at a time and collects results as they finish. There is no shared queue and so no shared
lock: a worker killed at any point (Ctrl-C, SIGTERM to the process group, the parent
stopping early) cannot leave a lock held, which is how ``multiprocessing.Pool`` and
``concurrent.futures`` can hang when interrupted.

The guarantees, under every start method (``fork``, ``spawn``, ``forkserver``):

* Results are those of a serial run: each item is computed once, by the same function,
  and yielded with its index.
* Ctrl-C and SIGTERM are the parent's: workers ignore them (and hold them back while
  starting up, so a Ctrl-C during spawn's slow start cannot interrupt one half-way);
  the parent, which handles them, kills its workers.
* A worker that dies mid-item (killed, out of memory) is replaced and its item rerun.
* Workers never outlive the parent, however it ends (even ``kill -9``): a worker holds
  only its own end of its pipe (a forked worker closes the parent's ends it inherited,
  so it sees end-of-file when the parent is gone); on Linux the kernel kills it when the
  parent dies (``PR_SET_PDEATHSIG``); and everywhere a thread in the worker checks every
  0.2 s that its parent is still there (a changed parent pid on POSIX, the parent's
  process handle on Windows) and ends the worker at once if not. A pool still open
  when the parent exits normally is killed, not waited for.

The start method is ``fork`` where the OS has it (fast: nothing is pickled but items and
results), except macOS, whose system libraries are not fork-safe, and Windows, which has
no fork: there it is ``spawn``, which needs ``func`` and the items to pickle (a
module-level function, or a ``functools.partial`` of one; not a closure). Choose with
the ``start_method`` argument or the ``TREATSIM_START_METHOD`` environment variable.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from typing import Any

__all__ = ["START_METHOD_ENV", "Pool", "WorkerError", "default_start_method", "imap_unordered",
           "resolve_start_method"]

START_METHOD_ENV = "TREATSIM_START_METHOD"
"""Environment variable naming the start method (``fork``, ``spawn`` or ``forkserver``)."""

_WATCH_SECONDS = 0.2  # how often a worker checks that its parent is still there
_ORPHANED = 70  # a worker's exit code when it ends because its parent has gone
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PDEATHSIG = sys.platform.startswith("linux")  # tests turn it off to try the portable check
_HELD = {signal.SIGINT, signal.SIGTERM}  # the parent's signals, which workers ignore
_PARENT_ENDS: set[Connection] = set()  # this process's ends of its workers' pipes


class WorkerError(RuntimeError):
    """An item raised an exception in a worker (the message carries its traceback), or
    ended its worker too often; ``index`` is the item's."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def default_start_method() -> str:
    """``fork`` where the OS has it and it is safe (not macOS), else ``spawn``."""
    if "fork" in mp.get_all_start_methods() and sys.platform != "darwin":
        return "fork"
    return "spawn"


def resolve_start_method(requested: str | None = None) -> str:
    """The start method to use: ``requested``, else ``$TREATSIM_START_METHOD``, else the
    default; raises ``ValueError`` naming the choices if this OS does not have it."""
    method = requested or os.environ.get(START_METHOD_ENV, "").strip().lower()
    method = method or default_start_method()
    if method not in mp.get_all_start_methods():
        raise ValueError(f"start method {method!r} is not available here; choose one of "
                         f"{', '.join(mp.get_all_start_methods())}")
    return method


# --------------------------------------------------------------------------- the worker


def _serve(conn: Connection, func: Callable[[Any], Any], parent_pid: int | None,
           pdeathsig: bool) -> None:
    _become_worker(parent_pid, pdeathsig)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        index, item = msg
        try:
            reply = (index, True, func(item))
        except Exception:  # noqa: BLE001 - reported to the parent, which re-raises
            reply = (index, False, traceback.format_exc())
        try:
            data = ForkingPickler.dumps(reply)
        except Exception:  # noqa: BLE001 - a result that does not pickle is an error too
            data = ForkingPickler.dumps((index, False, traceback.format_exc()))
        try:
            conn.send_bytes(data)
        except OSError:  # a broken pipe: the parent is gone
            return


def _become_worker(parent_pid: int | None, pdeathsig: bool) -> None:
    """Ignore the parent's signals, let go of the parent's pipe ends, and arrange to end
    when the parent does."""
    for signum in _HELD:
        signal.signal(signum, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # held back by the parent while this started
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)
    for end in list(_PARENT_ENDS):  # copies made by fork (spawn inherits none)
        end.close()
    _PARENT_ENDS.clear()
    if pdeathsig:
        _die_with_parent()
    if not _parent_alive(parent_pid):  # it died before the line above took effect
        os._exit(_ORPHANED)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent",
                     daemon=True).start()


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent (thread) ends."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0))
    except (OSError, AttributeError):  # no prctl: the watching thread still ends us
        pass


def _parent_alive(parent_pid: int | None) -> bool:
    """Whether the parent is still there. ``parent_pid`` is the pid a worker's parent has
    (None under forkserver, whose workers are the fork server's children)."""
    if parent_pid is not None and os.getppid() != parent_pid:
        return False  # POSIX re-parents an orphan (to init or a subreaper)
    # Windows keeps the pid; ask the parent's process handle (spawn) or the pipe that only
    # the parent holds (spawn on POSIX, forkserver). Under fork, siblings hold copies of
    # that pipe, so it may say "alive" late, never "dead" early.
    parent = mp.parent_process()
    return parent is None or parent.is_alive()


def _watch_parent(parent_pid: int | None) -> None:
    while _parent_alive(parent_pid):
        time.sleep(_WATCH_SECONDS)
    os._exit(_ORPHANED)


# --------------------------------------------------------------------------- the parent


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back in this thread while a worker starts: the worker
    inherits the mask and ignores them before letting them through; here they are
    delivered (not lost) on leaving."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Workers:
    """The worker processes of one pool, and the parent's ends of their pipes."""

    def __init__(self, ctx: Any, func: Callable[[Any], Any]) -> None:
        _POOLS.add(self)
        self.ctx = ctx
        self.func = func
        forkserver = ctx.get_start_method() == "forkserver"
        self.parent_pid = None if forkserver else os.getpid()
        self.procs: list[Any] = []
        self.ends: list[Connection] = []
        self.active: dict[Connection, tuple[Any, tuple[int, Any]]] = {}  # -> (proc, job)

    def start(self, job: tuple[int, Any]) -> None:
        """Start a worker and give it ``job``."""
        parent, child = self.ctx.Pipe()
        _PARENT_ENDS.add(parent)
        self.ends.append(parent)
        proc = self.ctx.Process(target=_serve, daemon=True,
                                args=(child, self.func, self.parent_pid, _PDEATHSIG))
        with _signals_held():
            proc.start()
        child.close()
        self.procs.append(proc)
        self.give(parent, proc, job)

    def give(self, conn: Connection, proc: Any, job: tuple[int, Any]) -> None:
        """Send ``job`` to the worker at ``conn``."""
        self.active[conn] = (proc, job)
        try:
            conn.send(job)
        except OSError:  # it has just died: ``wait`` reports it, and the job is rerun
            pass

    def rest(self, conn: Connection) -> Any:
        """The worker at ``conn`` has no work for now; returns its process."""
        proc, _ = self.active.pop(conn)
        return proc

    def lost(self, conn: Connection) -> Any:
        """Forget the dead worker at ``conn``; returns its process."""
        proc, _ = self.active.pop(conn)
        conn.close()
        _PARENT_ENDS.discard(conn)
        proc.join()
        return proc

    def close(self) -> None:
        """Kill and reap every worker; close every pipe."""
        _POOLS.discard(self)
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join()
            proc.close()
        for conn in self.ends:
            conn.close()
            _PARENT_ENDS.discard(conn)
        self.procs, self.ends = [], []
        self.active.clear()


_POOLS: weakref.WeakSet[_Workers] = weakref.WeakSet()  # pools not yet closed


@atexit.register
def _close_pools() -> None:
    """Kill the workers of any pool still open at exit (a generator never finished).

    This runs before ``multiprocessing``'s own exit handler, which would send daemonic
    workers SIGTERM, which they ignore, and then wait for them for ever."""
    for pool in list(_POOLS):
        pool.close()


def imap_unordered(func: Callable[[Any], Any], items: Iterable[Any], workers: int,
                   retries: int = 1, start_method: str | None = None
                   ) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, func(item))`` as each item finishes, on ``workers`` processes.

    ``start_method`` is ``fork``, ``spawn`` or ``forkserver`` (default: ``fork`` where
    available, not macOS; else ``spawn``; ``$TREATSIM_START_METHOD`` overrides the
    default). Under ``fork``, ``func`` and everything it uses reach the workers by fork
    and only items and results are pickled; otherwise ``func`` must pickle too. A worker
    that dies mid-item is replaced and its item given to the new worker, up to
    ``retries`` times per item; an item that raises is not retried. If the caller stops
    early, or anything is raised (including ``KeyboardInterrupt``), every worker is
    killed at once; if the parent itself is killed, its workers end within a moment
    (on Linux, when the thread that started them ends: iterate in one thread).
    """
    pool = Pool(func, workers, retries, start_method)
    try:
        yield from pool.imap_unordered(items)
    finally:
        pool.close()


class Pool:
    """``workers`` processes running ``func``, kept from one batch of items to the next
    (:meth:`imap_unordered`) until :meth:`close`, so that work done in batches (the
    generations of a search) starts its workers once. Each batch has the guarantees of
    :func:`imap_unordered`; a batch stopped early or raising closes the pool."""

    def __init__(self, func: Callable[[Any], Any], workers: int, retries: int = 1,
                 start_method: str | None = None) -> None:
        self.workers = max(1, workers)
        self.retries = retries
        self._workers = _Workers(mp.get_context(resolve_start_method(start_method)), func)
        self._idle: list[tuple[Connection, Any]] = []  # workers waiting for the next batch

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def imap_unordered(self, items: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, func(item))`` as each item of this batch finishes."""
        todo = deque(enumerate(items))
        pool = self._workers
        failures: dict[int, int] = {}
        finished = False
        try:
            while todo and self._idle:
                conn, proc = self._idle.pop()
                pool.give(conn, proc, todo.popleft())
            while todo and len(pool.active) < self.workers:
                pool.start(todo.popleft())
            while pool.active:
                for conn in wait(list(pool.active)):
                    proc, job = pool.active[conn]
                    try:
                        index, ok, value = conn.recv()
                    except (EOFError, OSError):  # the worker died part-way through ``job``
                        pool.lost(conn)
                        failures[job[0]] = failures.get(job[0], 0) + 1
                        if failures[job[0]] > self.retries:
                            raise WorkerError(
                                f"item {job[0]} ended its worker process {failures[job[0]]} "
                                f"times (exit code {proc.exitcode})", job[0]) from None
                        pool.start(job)
                        continue
                    if not ok:
                        raise WorkerError(value, index)
                    if todo:
                        pool.give(conn, proc, todo.popleft())
                    else:
                        self._idle.append((conn, pool.rest(conn)))
                    yield index, value
            finished = True
        finally:
            if not finished:
                self.close()

    def close(self) -> None:
        """Kill and reap every worker."""
        self._idle.clear()
        self._workers.close()
