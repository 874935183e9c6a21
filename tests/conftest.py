"""Fixtures shared by the tests, and the test tiers.

Every test belongs to a tier: ``unit`` or ``model`` (the fast tier, under a minute:
``pytest -m "not slow and not browser"``), ``slow`` or ``browser``. A module marks its tier
with ``pytestmark``; a test that is slower than its module says so with its own marker.
``pytest`` with no options runs every tier.
"""

from __future__ import annotations

import signal

import pytest
from helpers import scenario

from sim.scenario import Scenario


@pytest.fixture
def example() -> Scenario:
    """The example scenario."""
    return scenario()


TIERS = ("unit", "model", "slow", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test without a tier, so the fast tier stays what it says."""
    untiered = [item.nodeid for item in items
                if not any(item.get_closest_marker(tier) for tier in TIERS)]
    if untiered:
        raise pytest.UsageError("tests without a tier marker (unit, model, slow or browser):\n"
                                + "\n".join(untiered))


def pytest_configure(config: pytest.Config) -> None:
    """Let Ctrl-C through to the command-line runs the tests start. Several tests interrupt
    a run with SIGINT, as a terminal would; a process started with SIGINT ignored (a
    shell's background job without job control, ``nohup``) passes that on to every child,
    which would then rightly keep ignoring it. Python's own handler here resets to the
    default in each child."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
