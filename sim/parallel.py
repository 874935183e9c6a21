"""A small process pool that can be stopped at any moment without deadlock.

Each worker is a forked process with its own pipe to the parent; the parent hands out
one item at a time and collects results as they finish. There is no shared queue and so
no shared lock: a worker killed at any point (Ctrl-C, SIGTERM to the process group, the
parent stopping early) cannot leave a lock held, which is how ``multiprocessing.Pool``
and ``concurrent.futures`` can hang when interrupted.

Workers ignore SIGINT and SIGTERM; the parent, which handles them, kills its workers.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["WorkerError", "imap_unordered"]


class WorkerError(RuntimeError):
    """An item raised an exception in a worker; the message carries its traceback."""


def _serve(conn: Connection, func: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        index, item = msg
        try:
            conn.send((index, True, func(item)))
        except Exception:  # noqa: BLE001 - reported to the parent, which re-raises
            conn.send((index, False, traceback.format_exc()))


def imap_unordered(func: Callable[[Any], Any], items: Iterable[Any], workers: int,
                   retries: int = 1) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, func(item))`` as each item finishes, on ``workers`` processes.

    ``func`` and everything it uses reach the workers by fork (nothing is pickled but
    the items and results). A worker that dies mid-item (killed, out of memory) is
    replaced and its item given to the new worker, up to ``retries`` times per item; an
    item that raises is not retried. If the caller stops early, or anything is raised
    (including ``KeyboardInterrupt``), every worker is killed at once.
    """
    todo = deque(enumerate(items))
    ctx = mp.get_context("fork")
    procs: list[Any] = []
    active: dict[Connection, tuple[Any, tuple[int, Any]]] = {}  # conn -> (process, item)
    failures: dict[int, int] = {}

    def start(job: tuple[int, Any]) -> None:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, func), daemon=True)
        proc.start()
        child.close()
        procs.append(proc)
        parent.send(job)
        active[parent] = (proc, job)

    try:
        for _ in range(min(workers, len(todo))):
            start(todo.popleft())
        while active:
            for conn in wait(list(active)):
                proc, job = active[conn]
                try:
                    index, ok, value = conn.recv()
                except EOFError:  # the worker died part-way through ``job``
                    del active[conn]
                    conn.close()
                    proc.join()
                    failures[job[0]] = failures.get(job[0], 0) + 1
                    if failures[job[0]] > retries:
                        raise WorkerError(
                            f"item {job[0]} ended its worker process {failures[job[0]]} "
                            f"times (exit code {proc.exitcode})") from None
                    start(job)
                    continue
                if not ok:
                    raise WorkerError(value)
                if todo:
                    active[conn] = (proc, todo[0])
                    conn.send(todo.popleft())
                else:
                    conn.send(None)
                    del active[conn]
                yield index, value
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for proc in procs:
            proc.join()
        for conn in active:
            conn.close()
