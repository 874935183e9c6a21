"""What the model writes down as it runs: episodes, segments, deaths, costs, transitions.

Every record is a named tuple (or, for the episode that fills in as it goes, a class with
fixed attributes) built by keyword; :mod:`sim.metrics` reads them by field name. The most
numerous, segments and costs, are kept as a :class:`Table`: a column per field, read as
named tuples. Times are days from the scenario's start date, money is pounds. Nothing
here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


class Table:
    """Records of one kind, the named tuple class ``row``, kept as a list per field.

    Reads like a list of ``row`` tuples (``len``, index, slice, iteration, ``==`` with a
    list of them or another table), each tuple made as it is read; :attr:`columns` gives the
    fields' lists, in ``row``'s field order, to build a data frame from without making
    a tuple per record. A tuple per record costs about 90 bytes more than its values in
    columns (at 4x Hampshire's size after 10 years, 136,000 segments and costs, 0.6 KB a
    person alive). The lists are the run's own, not copies: read, do not append.
    """

    def __init__(self, row: type, columns: dict[str, list[Any]]) -> None:
        names: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
        if sorted(columns) != sorted(names):
            raise ValueError(f"a {row.__name__} table needs the columns {names}, "
                             f"not {tuple(columns)}")
        lengths = {len(columns[name]) for name in names}
        if len(lengths) > 1:
            raise ValueError(f"the columns of a {row.__name__} table differ in length")
        self.row = row
        self.columns: dict[str, list[Any]] = {name: columns[name] for name in names}

    def __len__(self) -> int:
        for values in self.columns.values():
            return len(values)
        return 0

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):  # a list of rows, as a list's slice is a list
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.row(*[values[index] for values in self.columns.values()])

    def __iter__(self) -> Iterator[Any]:
        return map(self.row, *self.columns.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Table):
            return self.row is other.row and self.columns == other.columns
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        raise TypeError("a Table is mutable and cannot be hashed")

    def __repr__(self) -> str:
        return f"Table({self.row.__name__}, {len(self)} rows)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Table, (self.row, self.columns))


def table_of(row: type, rows: Iterable[Any]) -> Table:
    """A :class:`Table` of ``row`` tuples holding ``rows`` (tuples of ``row``'s fields)."""
    names: tuple[str, ...] = row._fields  # type: ignore[attr-defined]
    items = list(rows)
    return Table(row, {name: [item[i] for item in items] for i, name in enumerate(names)})


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
    segments: Table
    """The :class:`Segment` records."""
    deaths: list[Death]
    ledger: Table
    """The :class:`LedgerEntry` records (costs)."""
    snapshots: list[dict[str, Any]]
    during_year: dict[str, list[int]]
    transitions: list[Transition] = field(default_factory=list)
    relapses: list[Relapse] = field(default_factory=list)
    policy_log: list[PolicyChange] = field(default_factory=list)
    rehab_refusals: list[float] = field(default_factory=list)
    events: int = 0
    final_states: dict[str, int] = field(default_factory=dict)
