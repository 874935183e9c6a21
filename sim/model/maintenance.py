"""Maintenance treatment: OST, psychosocial keyworking and HAT.

A stay has a review every 12 weeks (84 days, counted from the start of the stay). In
between, drop-out, death and transfer out compete: drop-out through a cumulative-hazard
budget scaled by attribute and caseload multipliers, death with a raised hazard in the
first days of OST, transfer as a constant hazard. An interval also ends on a policy
date, where the rates are read again from the parameters then in force.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import simpy

from ..vocab import DAYS_PER_YEAR, REVIEW_DAYS
from .hazards import (
    INF,
    CumulativeHazard,
    delay_after_induction,
    draw_from,
    hazard_crossing,
    interp,
)
from .outcomes import (
    COMPLETED,
    CONTINUE,
    CONTINUOUS,
    DIED,
    DROPPED_OUT,
    HAT,
    LONG_ACTING,
    OST,
    PLANNED_EXIT,
    REHAB,
    TRANSFERRED,
    TRANSITION,
    ExitTreatment,
    MoveTo,
    StepEnd,
)
from .people import Person
from .steps import ServiceClosed, leave
from .world import World

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario



class ReviewBranches(NamedTuple):
    """A review's shares, split for drawing: planned exit, the other steps, their total."""

    planned_exit: float
    others: tuple[tuple[str, float], ...]
    others_total: float


def review_hazard(share: float) -> float:
    """The constant hazard (per day) that gives a probability ``share`` of the event within
    one review interval: ``-ln(1 - share) / REVIEW_DAYS``; a share of 1 happens at once."""
    if share <= 0.0:
        return 0.0
    if share >= 1.0:
        return INF
    return -math.log1p(-share) / REVIEW_DAYS


def review_branches(probabilities: Mapping[str, float]) -> ReviewBranches:
    """Split review ``probabilities`` into the planned-exit share and the other steps
    (``continue`` takes whatever is left)."""
    others = tuple((step, share) for step, share in probabilities.items()
                   if step not in (CONTINUE, PLANNED_EXIT) and share > 0)
    return ReviewBranches(probabilities.get(PLANNED_EXIT, 0.0), others,
                          sum(share for _, share in others))


class StayRates(NamedTuple):
    """The rates of one stay under one set of parameters (hazards per day)."""

    spec: Any
    """The modality's parameters (OST, psychosocial or HAT)."""
    dropout: CumulativeHazard
    dropout_factor: float
    """Attribute multiplier of the drop-out hazard (caseload pressure comes on top)."""
    death: float
    induction_days: float
    induction_death: float
    transfer: float
    branches: ReviewBranches


def stay_rates(world: World, person: Person, modality: str, params: Scenario) -> StayRates:
    """The rates of a stay in ``modality`` under ``params`` (the parameters in force).

    :raises ServiceClosed: (to OST) for a HAT stay once HAT has closed.
    """
    spec = getattr(params.modalities, modality)
    if modality == HAT and not params.modalities.hat.open:
        raise ServiceClosed(OST)  # closed without a plan reaching this person
    mortality = params.mortality
    transfer = params.exits.transfer
    return StayRates(
        spec=spec,
        dropout=spec.dropout,
        dropout_factor=person.factor(spec.dropout_multipliers),
        death=world.death_rate(person, mortality.in_treatment.get(modality, 0.0)),
        induction_days=mortality.ost_induction_days if modality == OST else 0.0,
        induction_death=world.death_rate(person, mortality.ost_induction.per_100_person_years),
        transfer=transfer.per_year * person.factor(transfer.multipliers) / DAYS_PER_YEAR,
        branches=review_branches(spec.review.probabilities),
    )


def maintenance(world: World, person: Person, modality: str, elapsed_days: float,
                forced: str | None) -> Generator[simpy.Event, Any, StepEnd]:
    """A stay in OST, psychosocial or HAT, ``elapsed_days`` into it (people carried in on
    day 0); ``forced`` is an OST formulation a transition chose. Returns how it ended."""
    _start_segment(world, person, modality, forced)
    stay = Stay(world, person, modality, elapsed_days)
    timeout = world.env.timeout
    try:
        while True:
            wait = stay.plan()
            try:
                yield timeout(wait)
            except simpy.Interrupt as stop:
                raise ServiceClosed(stop.cause) from None
            end = stay.after_wait(wait)
            if end is not None:
                return end
    except ServiceClosed as closed:
        return leave(world, person, modality, MoveTo(closed.target), reason=TRANSITION)


def _start_segment(world: World, person: Person, modality: str, forced: str | None) -> None:
    """Draw the OST setting and formulation (unless ``forced``) and open the segment."""
    rng = person.rng
    spec = getattr(world.parameters.modalities, modality)
    gbp_per_day = getattr(spec, "cost_per_day_gbp", 0.0)
    if modality == OST:
        setting = draw_from(spec.setting, rng.random())
        formulation = forced or draw_from(spec.formulation, rng.random())
        person.set_attr("ost_setting", setting)
        person.set_attr("ost_formulation", formulation)
        episode = person.episode
        assert episode is not None
        episode.ost_setting, episode.ost_formulation = setting, formulation
        if formulation == LONG_ACTING:
            gbp_per_day = spec.long_acting_cost_per_day_gbp
    world.start_segment(person, modality, gbp_per_day)


class Stay:
    """One stay in a maintenance modality: its clock, drop-out budget and rates in force.

    Each review interval is :meth:`plan` (draw the competing events, return the wait in
    days), the wait, then :meth:`after_wait` (act on whichever came first).

    :param elapsed_days: days already spent in the modality when the stay starts.
    """

    __slots__ = ("world", "person", "modality", "budget", "days", "next_review", "end",
                 "params", "rates", "caseload", "used", "t_drop", "t_death", "t_transfer",
                 "t_complete")

    def __init__(self, world: World, person: Person, modality: str,
                 elapsed_days: float) -> None:
        self.world = world
        self.person = person
        self.modality = modality
        # drop-out happens when the multiplied cumulative hazard reaches this budget
        self.budget = person.rng.expovariate(1.0)
        self.days = elapsed_days  # days in this modality at the start of the interval
        self.next_review = (math.floor(elapsed_days / REVIEW_DAYS) + 1) * REVIEW_DAYS
        self.end = self.next_review  # end of the interval: the review or a policy date
        self.params: Scenario | None = None  # the parameters the rates were read from
        self.rates: StayRates | None = None
        self.caseload = 0.0  # people per keyworker at the start of the interval
        self.used = 0.0  # drop-out hazard used by the end of the interval
        self.t_drop = self.t_death = self.t_transfer = INF  # days from the interval start
        self.t_complete = INF  # planned exit, when exits are in continuous time

    def plan(self) -> float:
        """Draw the interval's death and transfer times (two draws) and find drop-out;
        returns the days to wait: to the end of the interval (the next review, or a policy
        date before it) or the first of them.

        :raises ServiceClosed: when the parameters now in force close the service.
        """
        world, person = self.world, self.person
        params = world.parameters
        if params is not self.params:  # first pass, or a policy changed the parameters
            self.rates = stay_rates(world, person, self.modality, params)
            self.params = params
        rates = self.rates
        assert rates is not None
        days, next_review = self.days, self.next_review
        now = world.env.now
        self.end = end = min(next_review, days + world.next_boundary(now) - now)
        self.caseload = caseload = world.keyworkers.count / world.keyworkers.staff
        pressure = params.keyworkers.pressure
        dropout_factor = rates.dropout_factor * interp(caseload, pressure.caseload,
                                                       pressure.dropout_multiplier)
        self.t_drop, self.used = hazard_crossing(self.budget, dropout_factor, rates.dropout,
                                                 days, end)
        expo = person.rng.expovariate
        self.t_death = delay_after_induction(expo(1.0), days, rates.induction_days,
                                             rates.induction_death, rates.death)
        self.t_transfer = expo(rates.transfer) if rates.transfer > 0 else INF
        self.t_complete = INF
        if rates.spec.review.planned_exit_timing == CONTINUOUS:
            review_no = round(next_review / REVIEW_DAYS)
            rate = review_hazard(self.planned_share(rates, caseload, review_no))
            if rate > 0:
                self.t_complete = 0.0 if rate == INF else expo(rate)
        return min(end - days, self.t_drop, self.t_death, self.t_transfer, self.t_complete)

    def after_wait(self, wait: float) -> StepEnd | None:
        """After waiting ``wait`` days: the end of the stay, or ``None`` to go on (after a
        review, or at a policy date the parameters are read again, if that came first)."""
        if wait == self.t_drop:
            return self._leave(ExitTreatment(DROPPED_OUT))
        if wait == self.t_death:
            return self._leave(ExitTreatment(DIED))
        if wait == self.t_transfer:
            return self._leave(ExitTreatment(TRANSFERRED))
        if wait == self.t_complete:
            return self._leave(ExitTreatment(COMPLETED))
        if self.end < self.next_review:  # a policy date: no review, the new rates apply
            self.days = self.end
            self.budget -= self.used
            return None
        rates, params = self.rates, self.params
        assert rates is not None and params is not None
        review_day = self.next_review
        self.days = review_day
        self.budget -= self.used
        self.next_review = review_day + REVIEW_DAYS
        outcome = self.review(rates, self.caseload, round(review_day / REVIEW_DAYS))
        return self._after_review(outcome, params)

    def planned_share(self, rates: StayRates, caseload: float, review_no: int) -> float:
        """The planned-exit share of review ``review_no`` (1, 2, ...) of the stay, scaled by
        attribute, caseload (people per keyworker) and review-number multipliers."""
        spec = rates.spec
        pressure = self.world.parameters.keyworkers.pressure  # in force now
        factor = self.person.factor(spec.review.planned_exit_multipliers) * interp(
            caseload, pressure.caseload, pressure.completion_multiplier)
        by_review = spec.review.planned_exit_by_review
        if review_no <= len(by_review):
            factor *= by_review[review_no - 1]
        return min(1.0, rates.branches.planned_exit * factor)

    def review(self, rates: StayRates, caseload: float, review_no: int) -> str:
        """Draw the outcome of review ``review_no`` (1, 2, ...) of the stay (one uniform).

        The planned-exit share (:meth:`planned_share`; none when planned exits are in
        continuous time) comes first; other steps shrink only if needed, and ``continue``
        takes the rest."""
        person = self.person
        _, others, others_total = rates.branches
        continuous = rates.spec.review.planned_exit_timing == CONTINUOUS
        planned = 0.0 if continuous else self.planned_share(rates, caseload, review_no)
        u = person.rng.random()
        if u < planned:
            return PLANNED_EXIT
        scale = min(1.0, (1.0 - planned) / others_total) if others_total > 0 else 1.0
        cumulative = planned
        for step, share in others:
            cumulative += share * scale
            if u < cumulative:
                return step
        return CONTINUE

    def _after_review(self, outcome: str, params: Scenario) -> StepEnd | None:
        """Act on a review ``outcome``; a step to a service that cannot take the person
        (under ``params``, read before the interval) means staying on."""
        if outcome == CONTINUE:
            return None
        if outcome == PLANNED_EXIT:
            return self._leave(ExitTreatment(COMPLETED))
        if outcome == HAT and not (params.modalities.hat.open and self.world.hat.free() > 0):
            return None
        if outcome == REHAB and not params.modalities.rehab.open:
            return None
        return self._leave(MoveTo(outcome))

    def _leave(self, end: StepEnd) -> StepEnd:
        return leave(self.world, self.person, self.modality, end)
