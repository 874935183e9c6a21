"""One executor layer for every batch of independent work: replications of a run or a
comparison, calibration points, and sweep runs.

:func:`map_unordered` runs ``func(shared, item)`` for each item, in this process
(``workers`` 1), on the process pool of :mod:`sim.execute.pool`, or as Dask tasks (a
cluster by ``scheduler`` address, or ``dask_local`` worker processes started here), and
yields ``(index, result)`` as each finishes. ``shared`` (a scenario, say) reaches each
worker once: by fork or pickling for the pool, scattered to every Dask worker once.
Results are the same on every executor, because each item is a pure function of its
inputs; callers sort them by index.
"""

from __future__ import annotations

import logging
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from .pool import Pool, WorkerError

__all__ = ["Executor", "ItemFailed", "batches", "map_unordered"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class ItemFailed(RuntimeError):
    """An item raised (or its worker died twice); ``index`` says which, and the message
    carries the error and, where there is one, its traceback."""

    def __init__(self, index: int | None, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Executor:
    """Where work runs: ``workers`` processes on this machine (1: in this process), or a
    Dask cluster (``scheduler`` address, or ``dask_local`` processes started here)."""

    workers: int = 1
    scheduler: str | None = None
    dask_local: int | None = None

    def describe(self) -> str:
        """``serial``, ``pool N`` or ``dask ADDRESS`` / ``dask local N``."""
        if self.scheduler or self.dask_local:
            return "dask " + (self.scheduler or f"local {self.dask_local}")
        return "serial" if self.workers <= 1 else f"pool {self.workers}"


def map_unordered(func: Callable[[S, T], R], shared: S, items: Sequence[T],
                  executor: Executor | None = None) -> Iterator[tuple[int, R]]:
    """Yield ``(index, func(shared, item))`` for every item as it finishes.

    ``func`` must be a module-level function (it is pickled for spawn and Dask).
    :raises ItemFailed: when an item raises, naming its index; items already yielded
        stand. Ctrl-C (``KeyboardInterrupt``) stops every worker and is raised again.
    """
    with batches(func, shared, executor) as run:
        yield from run(items)


@contextmanager
def batches(func: Callable[[S, T], R], shared: S, executor: Executor | None = None
            ) -> Iterator[Callable[[Sequence[T]], Iterator[tuple[int, R]]]]:
    """For work that comes in batches (the generations of a search): inside the ``with``
    block, ``run(items)`` is :func:`map_unordered` of one batch, on workers started once
    for every batch (the pool's processes; one Dask client, ``shared`` scattered once).
    Leaving the block stops them; so does a batch that raises or is stopped early.
    """
    executor = executor or Executor()
    if executor.scheduler or executor.dask_local:
        client, cluster = _dask_client(executor)
        try:
            yield partial(_dask_batch, client, func, client.scatter(shared, broadcast=True))
        finally:
            with _quiet_dask():
                client.close()
                if cluster is not None:
                    cluster.close()
    elif executor.workers <= 1:
        yield partial(_serial_batch, func, shared)
    else:
        with Pool(partial(func, shared), executor.workers) as pool:
            yield partial(_pool_batch, pool)


def _serial_batch(func: Callable[[S, T], R], shared: S, items: Sequence[T]
                  ) -> Iterator[tuple[int, R]]:
    """Items one after another in this process."""
    for index, item in enumerate(items):
        try:
            result = func(shared, item)
        except Exception as exc:  # noqa: BLE001 - raised again, naming the item
            raise ItemFailed(index, traceback.format_exc()) from exc
        yield index, result


def _pool_batch(pool: Pool, items: Sequence[T]) -> Iterator[tuple[int, Any]]:
    """Items on the pool's processes."""
    try:
        yield from pool.imap_unordered(items)
    except WorkerError as exc:
        raise ItemFailed(exc.index, str(exc)) from exc


def _dask_batch(client: Any, func: Callable[[S, T], R], shared_future: Any,
                items: Sequence[T]) -> Iterator[tuple[int, R]]:
    """Items as Dask tasks. A worker lost mid-task has its task rerun elsewhere by the
    scheduler. Workers need treatsim installed; ``shared`` travels with the tasks."""
    from distributed import as_completed

    futures: list[Any] = []
    try:
        index = {}
        for i, item in enumerate(items):
            future = client.submit(func, shared_future, item, pure=False)
            index[future.key] = i
            futures.append(future)
        # on this client's loop: by default as_completed takes the default client's, which
        # may be another client of this process (and a future bound to a foreign loop fails)
        for future in as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                result = future.result()
            except (KeyboardInterrupt, OSError, TimeoutError):
                raise
            except Exception as exc:  # noqa: BLE001 - raised again, naming the item
                raise ItemFailed(i, f"on the Dask cluster: {type(exc).__name__}: {exc}") \
                    from exc
            yield i, result
            future.release()
    finally:
        with _quiet_dask():
            client.cancel(futures)


def _dask_client(executor: Executor) -> tuple[Any, Any]:
    """A client of the cluster at ``executor.scheduler``, or of a local cluster started
    here (one thread a worker). The local workers ignore SIGINT (inherited from here),
    so Ctrl-C at a terminal stops the work here, which shuts the cluster down in order."""
    from distributed import Client, LocalCluster

    if executor.scheduler:
        return Client(executor.scheduler, timeout="30s"), None
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(n_workers=executor.dask_local, threads_per_worker=1,
                               processes=True, dashboard_address=None, host="127.0.0.1")
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    return Client(cluster), cluster


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Silence the warnings Dask logs when tasks and workers are stopped part-way: they
    say nothing about the results."""
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        quiet.setLevel(level)
