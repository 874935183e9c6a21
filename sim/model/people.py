"""The simulated person: attributes drawn at entry, and where they are now.

A person is a SimPy process (see :mod:`sim.model.pathway`); this module holds the
data it carries. Attributes are stored as strings so that the YAML ``multipliers``
tables (``{injecting: {true: 1.5}}``) can look them up directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

COMMUNITY = 0
TRIAGE_WAIT = 1
KEYWORKER_WAIT = 2
IN_TREATMENT = 3
AFTER_TREATMENT = 4
CUSTODY = 5
RECOVERED = 6
DEAD = 7
MOVED_AWAY = 8

STATE_NAMES = (
    "community",
    "triage_wait",
    "keyworker_wait",
    "in_treatment",
    "after_treatment",
    "custody",
    "recovered",
    "dead",
    "moved_away",
)
"""Where a person can be. Every person is in exactly one of these at every moment."""

DYNAMIC_ATTRIBUTES = frozenset({"previously_treated", "source", "ost_setting",
                                "ost_formulation"})
"""Attributes that change during a life; multipliers keyed on them are never cached."""

OCU = frozenset({"opiate", "opiate_crack", "crack"})
"""Opiate and/or crack users (OCU), the group most prevalence estimates count."""

USING_STATES = frozenset({COMMUNITY, TRIAGE_WAIT, KEYWORKER_WAIT, IN_TREATMENT})
"""States counted in the prevalence of problem drug use."""

ABSORBING = frozenset({DEAD, MOVED_AWAY})


class Person:
    """One person with problem drug use.

    :param pid: the person's id (0, 1, ... in order of entry).
    :param rng: the person's own random stream.
    :param attrs: attribute name -> level (strings).
    """

    __slots__ = (
        "pid", "rng", "attrs", "state", "exit_day", "release_day", "episodes",
        "episode", "modality", "seg_start", "seg_rate_gbp", "process", "tx_year", "use_year",
        "ever_treated", "cache",
    )

    def __init__(self, pid: int, rng: random.Random, attrs: dict[str, str]) -> None:
        self.pid = pid
        self.rng = rng
        self.attrs = attrs
        self.state = COMMUNITY
        self.exit_day: float | None = None  # last exit from treatment
        self.release_day: float | None = None  # last release from custody
        self.episodes = 0
        self.episode: Episode | None = None
        self.modality: str | None = None
        self.seg_start = 0.0
        self.seg_rate_gbp = 0.0  # cost per day of the current modality segment
        self.process: Any = None
        self.tx_year = -1
        self.use_year = -1
        self.ever_treated = False
        self.cache: dict[int, float] = {}  # id(multiplier table) -> factor for this person

    def set_attr(self, name: str, level: str | None) -> None:
        """Change one of the :data:`DYNAMIC_ATTRIBUTES` (``None`` removes it)."""
        if level is None:
            self.attrs.pop(name, None)
        else:
            self.attrs[name] = level

    def factor(self, table: dict[str, dict[str, float]]) -> float:
        """This person's multiplier from ``table``.

        Tables keyed only on fixed attributes are cached (by table identity) for the
        person's life; tables keyed on a dynamic attribute are computed each time.
        """
        if not table:
            return 1.0
        key = id(table)
        value = self.cache.get(key)
        if value is None:
            value = multiplier(table, self.attrs)
            if not DYNAMIC_ATTRIBUTES.isdisjoint(table):
                return value
            self.cache[key] = value
        return value


@dataclass(slots=True)
class Episode:
    """One treatment episode: from referral to exit (or to the end of the run)."""

    pid: int
    episode: int
    initial: bool
    source: str
    referral_day: float
    substance: str
    sex: str
    age_band: str
    injecting: bool
    mental_health: bool
    housing_need: bool
    previously_treated: bool
    triage_day: float | None = None
    triaged_only: bool = False
    start_day: float | None = None
    exit_day: float | None = None
    exit_reason: str | None = None
    path: list[str] = field(default_factory=list)
    ost_setting: str | None = None
    ost_formulation: str | None = None
    inpatient_detox: bool = False
    abandoned_wait: bool = False


def draw_from(shares: dict[str, float], u: float) -> str:
    """The level whose cumulative share first exceeds ``u`` (a uniform draw in [0, 1))."""
    acc = 0.0
    last = ""
    for level, share in shares.items():
        if share <= 0:
            continue
        acc += share
        last = level
        if u < acc:
            return level
    return last


def multiplier(table: dict[str, dict[str, float]], attrs: dict[str, str]) -> float:
    """Product of the factors in ``table`` that apply to a person with ``attrs``."""
    m = 1.0
    for attr, row in table.items():
        level = attrs.get(attr)
        if level is not None:
            m *= row.get(level, 1.0)
    return m
