"""The process pool: results by index, errors re-raised with the worker's traceback,
and no worker left behind when the caller stops early."""

from __future__ import annotations

import os
import signal

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


def test_a_killed_worker_is_replaced_and_its_item_rerun(tmp_path):
    def dies_once_on_five(x: int) -> int:
        marker = tmp_path / "killed"
        if x == 5 and not marker.exists():
            marker.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return x * x

    got = list(imap_unordered(dies_once_on_five, range(12), workers=2))
    assert sorted(i for i, _ in got) == list(range(12))  # each once: none lost, none twice
    assert dict(got) == {i: i * i for i in range(12)}


def test_an_item_that_always_kills_its_worker_stops_the_run():
    def always_dies_on_two(x: int) -> int:
        if x == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    with pytest.raises(WorkerError, match="item 2 ended its worker process 2 times"):
        list(imap_unordered(always_dies_on_two, range(6), workers=2, retries=1))
