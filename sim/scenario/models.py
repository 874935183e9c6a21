"""The whole scenario: :class:`Scenario`, its timed :class:`Policy` changes and the
parameters in force over time (:meth:`Scenario.phases`).

The sections are declared in :mod:`.models_population` and :mod:`.models_services`;
every key has its unit: rates are ``per_year``, durations are declared distributions in
days, deaths are ``per_100_person_years``, money is ``_gbp``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..vocab import MODALITIES, SUBSTANCES, TRANSITION_TARGETS, Closable, Substance
from .bounds import NAME_PATTERN, Date, Money
from .fields import Strict, shares
from .models_population import Population, Referral, RunSettings
from .models_services import Exits, Keyworkers, Modalities, Mortality, Relapse, Triage
from .params import PolicyError, apply_policy
from .wording import Lines

__all__ = ["Policy", "Scenario"]


class Policy(Strict):
    """A timed change: set parameters, or open or close a service, on a date."""

    date: Date
    note: str = ""
    set: dict[str, Any] = Field(default_factory=dict)
    close: Closable | None = None
    open: Closable | None = None
    transition: shares(TRANSITION_TARGETS, "transition target") | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if not (self.set or self.close or self.open):
            raise ValueError("a policy needs at least one of set, close or open")
        if self.close and self.open:
            raise ValueError("a policy cannot both open and close a service")
        if self.close and self.transition is None:
            raise ValueError(
                f"closing {self.close} needs a transition plan: shares of its patients "
                f"moving to {', '.join(TRANSITION_TARGETS)}"
            )
        if self.transition is not None and not self.close:
            raise ValueError("transition is only used when closing a service")
        if self.close and self.transition and self.transition.get(self.close, 0) > 0:
            raise ValueError(f"a transition plan cannot move people into {self.close}, which closes")
        return self


class Scenario(Strict):
    """A whole, validated scenario. Build with :func:`load_scenario` or :func:`parse_scenario`."""

    name: str = Field(default="scenario", pattern=NAME_PATTERN,
                      description="letters, digits, _ and - (it names the output folder)")
    description: str = ""
    run: RunSettings
    population: Population
    referral: Referral
    triage: Triage
    keyworkers: Keyworkers
    entry: dict[
        Substance,
        shares(MODALITIES, "modality"),
    ] = Field(description="first modality on starting treatment, by substance group")
    modalities: Modalities
    exits: Exits = Field(default_factory=Exits)
    mortality: Mortality = Field(default_factory=Mortality)
    relapse: Relapse
    extra_costs_per_year_gbp: dict[str, Money] = Field(
        default_factory=dict, max_length=100,
        description="other spending a year by name (e.g. a housing support service), "
        "booked as cost_other_gbp",
    )
    policies: list[Policy] = Field(default_factory=list, max_length=1_000)

    _phases: list[tuple[float, Scenario]] | None = PrivateAttr(default=None)
    _source: tuple[str, Lines] | None = PrivateAttr(default=None)

    @field_validator("entry")
    @classmethod
    def _every_group(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        missing = [s for s in SUBSTANCES if s not in v]
        if missing:
            raise ValueError(f"give an entry route for every substance group; missing {missing}")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        c = self.population.community
        if c.custody_duration is None and (
            c.custody.per_year > 0 or (self.exits.transfer.per_year > 0
                                       and self.exits.transfer_custody_share > 0)
        ):
            raise ValueError(
                "population.community.custody_duration is needed when anyone can enter custody"
            )
        for i, p in enumerate(self.policies):
            if p.date < self.run.start_date:
                raise ValueError(
                    f"policies[{i}].date {p.date} is before run.start_date {self.run.start_date}"
                )
        return self

    # ----------------------------------------------------------------- where it came from

    @property
    def source_lines(self) -> tuple[str, Lines]:
        """(the file as messages name it, key path -> (file, line)) of the YAML this
        scenario was read from; ``(name, {})`` when it was not read from a file."""
        return self._source or (self.name, {})

    def set_source_lines(self, file: str, lines: Lines) -> None:
        """Record the file and the line map this scenario was read from (for warnings)."""
        self._source = (file, dict(lines))

    def __eq__(self, other: object) -> bool:
        """Equal when every field is; the cached :meth:`phases` (which hold the scenario
        itself) are left out."""
        if not isinstance(other, Scenario):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic models are

    # ----------------------------------------------------------------- time helpers

    def day_of(self, date: dt.date) -> float:
        """Days from ``run.start_date`` to ``date``."""
        return float((date - self.run.start_date).days)

    def phases(self) -> list[tuple[float, Scenario]]:
        """The parameters in force over time: ``[(day, scenario), ...]`` from day 0.

        Each policy's ``set``, ``open`` and ``close`` is applied, in date order, to the
        parameters in force before it and the result is validated again, so a policy can
        never produce an invalid scenario.  Raises :class:`PolicyError` otherwise.
        """
        if self._phases is None:
            phases: list[tuple[float, Scenario]] = [(0.0, self)]
            raw = self.model_dump(mode="python", by_alias=True)
            raw["policies"] = []
            order = sorted(range(len(self.policies)), key=lambda i: self.policies[i].date)
            for i in order:
                p = self.policies[i]
                apply_policy(raw, i, p.set, close=p.close, open_=p.open)
                try:
                    nxt = Scenario.model_validate(raw)
                except ValidationError as exc:
                    raise PolicyError(i, exc) from None
                nxt._phases = []
                phases.append((self.day_of(p.date), nxt))
            self._phases = phases
        return self._phases
