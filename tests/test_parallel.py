"""The process pool: results by index, errors re-raised with the worker's traceback,
and no worker left behind when the caller stops early."""

from __future__ import annotations

import os

import pytest

from sim.parallel import WorkerError, imap_unordered


def _square(x: int) -> int:
    return x * x


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x


def test_every_item_once_by_index():
    got = dict(imap_unordered(_square, range(20), workers=2))
    assert got == {i: i * i for i in range(20)}


def test_a_worker_error_is_raised_with_its_traceback():
    with pytest.raises(WorkerError, match="three is bad"):
        list(imap_unordered(_fails_on_three, range(6), workers=2))


def test_stopping_early_kills_the_workers():
    def whoami(_: int) -> int:
        return os.getpid()

    it = imap_unordered(whoami, range(100), workers=2)
    _, pid = next(it)
    it.close()  # the caller stops: workers are killed and reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
