"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest
from helpers import scenario

from sim.scenario import Scenario


@pytest.fixture
def example() -> Scenario:
    """The example scenario."""
    return scenario()
