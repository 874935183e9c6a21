"""What the model writes down as it runs: episodes, segments, deaths, costs, transitions.

Every record is a named tuple (or, for the episode that fills in as it goes, a slotted
dataclass) built by keyword; :mod:`sim.metrics` reads them by field name. Times are days
from the scenario's start date, money is pounds. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .outcomes import DETOX


@dataclass(slots=True)
class Episode:
    """One treatment episode: from referral to exit (or to the end of the run).

    Days are from the start date; ``path`` lists the modalities walked, in order.
    """

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
    transfer_in: bool = False
    """Started by a transfer from another provider in the area (not a new presentation)."""

    @property
    def route(self) -> str | None:
        """How the episode ended, as an exit route (``sim.vocab.ExitRoute``): the last
        modality, with detox split into ``detox_inpatient`` and ``detox_community``;
        ``None`` if no treatment started."""
        if not self.path:
            return None
        last = self.path[-1]
        if last == DETOX:
            return "detox_inpatient" if self.inpatient_detox else "detox_community"
        return last


class Segment(NamedTuple):
    """A stretch of one episode in one modality, from ``start_day`` to ``end_day``."""

    pid: int
    episode: int
    modality: str
    start_day: float
    end_day: float
    end_reason: str


class Death(NamedTuple):
    """A death on ``day``: where the person was, and days since they left treatment."""

    day: float
    pid: int
    state: str
    modality: str | None
    days_since_exit: float | None
    substance: str
    place: str = ""
    """Where it happened, for its cause (see ``sim.vocab.DeathPlace``)."""
    drug_related: bool | None = None
    """Drug-related (ONS definition), drawn by the scenario's share for ``place``; ``None``
    when the scenario gives no shares."""


class LedgerEntry(NamedTuple):
    """``amount_gbp`` pounds spent on ``service``, spread evenly over [start_day, end_day]."""

    service: str
    start_day: float
    end_day: float
    amount_gbp: float


class Transition(NamedTuple):
    """A move forced by a closure: person ``pid`` from ``service`` to ``target`` on ``day``."""

    day: float
    pid: int
    service: str
    target: str


class Relapse(NamedTuple):
    """Person ``pid`` relapsed on ``day``, ``days_since_exit`` after a planned exit from
    ``route`` (the last modality: ``ost``, ``psychosocial``, ``hat``, ``detox`` or
    ``rehab``; ``inpatient`` says whether a detox was inpatient); ``returned`` is whether
    they went straight back to treatment."""

    day: float
    pid: int
    days_since_exit: float
    route: str
    inpatient: bool
    returned: bool


class PolicyChange(NamedTuple):
    """A policy applied on ``day``, described by ``note``."""

    day: float
    note: str


@dataclass(slots=True)
class Records:
    """Everything one replication produced, ready for :mod:`sim.metrics`.

    Times are days from the scenario's start date.
    """

    horizon_days: float
    end_day: float
    warmup_years: int
    years: int
    initial_people: int
    incidence: int
    episodes: list[Episode]
    segments: list[Segment]
    deaths: list[Death]
    ledger: list[LedgerEntry]
    snapshots: list[dict[str, Any]]
    during_year: dict[str, list[int]]
    transitions: list[Transition] = field(default_factory=list)
    relapses: list[Relapse] = field(default_factory=list)
    policy_log: list[PolicyChange] = field(default_factory=list)
    rehab_refusals: list[float] = field(default_factory=list)
    events: int = 0
    final_states: dict[str, int] = field(default_factory=dict)
