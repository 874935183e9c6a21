"""What the model writes down as it runs: episodes, segments, deaths, costs, transitions.

Every record is a named tuple (or, for the episode that fills in as it goes, a class with
fixed attributes) built by keyword; :mod:`sim.metrics` reads them by field name. Times are
days from the scenario's start date, money is pounds. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from mypy_extensions import mypyc_attr

from .outcomes import DETOX

EPISODE_FIELDS: Final = (
    "pid", "episode", "initial", "source", "referral_day", "substance", "sex", "age_band",
    "injecting", "mental_health", "housing_need", "previously_treated", "triage_day",
    "triaged_only", "start_day", "exit_day", "exit_reason", "path", "ost_setting",
    "ost_formulation", "inpatient_detox", "abandoned_wait", "transfer_in",
)
"""An :class:`Episode`'s fields, in order (the columns it gives the ``people`` table)."""


@mypyc_attr(acyclic=True)  # holds no model object: compiled, not tracked by the collector
class Episode:
    """One treatment episode: from referral to exit (or to the end of the run).

    Days are from the start date; ``path`` lists the modalities walked, in order;
    ``transfer_in`` says it was started by a transfer from another provider in the area
    (not a new presentation). Built by keyword; the fields after the person's are filled
    in as the episode goes. A plain class with fixed attributes, so that the compiled
    model makes and fills it without Python calls; equal when every field is.
    """

    def __init__(self, *, pid: int, episode: int, initial: bool, source: str,
                 referral_day: float, substance: str, sex: str, age_band: str,
                 injecting: bool, mental_health: bool, housing_need: bool,
                 previously_treated: bool, triage_day: float | None = None,
                 triaged_only: bool = False, start_day: float | None = None,
                 exit_day: float | None = None, exit_reason: str | None = None,
                 path: list[str] | None = None, ost_setting: str | None = None,
                 ost_formulation: str | None = None, inpatient_detox: bool = False,
                 abandoned_wait: bool = False, transfer_in: bool = False) -> None:
        self.pid = pid
        self.episode = episode
        self.initial = initial
        self.source = source
        self.referral_day = referral_day
        self.substance = substance
        self.sex = sex
        self.age_band = age_band
        self.injecting = injecting
        self.mental_health = mental_health
        self.housing_need = housing_need
        self.previously_treated = previously_treated
        self.triage_day = triage_day
        self.triaged_only = triaged_only
        self.start_day = start_day
        self.exit_day = exit_day
        self.exit_reason = exit_reason
        self.path: list[str] = [] if path is None else path
        self.ost_setting = ost_setting
        self.ost_formulation = ost_formulation
        self.inpatient_detox = inpatient_detox
        self.abandoned_wait = abandoned_wait
        self.transfer_in = transfer_in

    def values(self) -> tuple[Any, ...]:
        """The fields' values, in the order of :data:`EPISODE_FIELDS`."""
        return (self.pid, self.episode, self.initial, self.source, self.referral_day,
                self.substance, self.sex, self.age_band, self.injecting, self.mental_health,
                self.housing_need, self.previously_treated, self.triage_day,
                self.triaged_only, self.start_day, self.exit_day, self.exit_reason,
                self.path, self.ost_setting, self.ost_formulation, self.inpatient_detox,
                self.abandoned_wait, self.transfer_in)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Episode) and self.values() == other.values()

    def __hash__(self) -> int:
        raise TypeError("an Episode is mutable and cannot be hashed")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}"
                           for name, value in zip(EPISODE_FIELDS, self.values(), strict=True))
        return f"Episode({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_episode, (self.values(),))

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


def _episode(values: tuple[Any, ...]) -> Episode:
    """An :class:`Episode` from its :meth:`Episode.values` (what unpickling calls)."""
    return Episode(**dict(zip(EPISODE_FIELDS, values, strict=True)))


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
