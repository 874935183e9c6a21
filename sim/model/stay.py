"""One stay in a maintenance modality (OST, psychosocial or HAT), without an event at
every review.

A stay has a review every 12 weeks (84 days on the stay's own clock), and the caseload
per keyworker at the start of each review interval scales that interval's drop-out and
planned-exit hazards; a policy date also starts a new interval. Most reviews change
nothing, so no review is an event of its own. Instead each way a stay can end is drawn
as a *candidate* from a hazard that dominates the true one whatever the caseload turns
out to be (the largest pressure multiplier, the largest review-number factor still
ahead) and is accepted, when its time comes, with the ratio of the true hazard to the
dominating one: thinning (Lewis and Shedler 1979), which leaves the distribution of the
first accepted time exactly that of the true hazard. The caseload at the start of the
candidate's interval is read back from the keyworkers' history. Reviews are thinned the
same way: the count of reviews before the next one that might move the person is
geometric. Death and transfer out have constant hazards between policy dates and are
drawn once per stretch between them.

A *stretch* runs from the start of the stay, or from a policy date, to the next policy
date: the parameters, and so the rates, are constant within one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ..scenario.models_services import Pressure
from ..vocab import DAYS_PER_YEAR, REVIEW_DAYS
from .hazards import INF, PAST, CumulativeHazard, delay_after_induction, interp, soonest
from .kernel import clock
from .outcomes import (
    COMPLETED,
    CONTINUE,
    CONTINUOUS,
    DIED,
    DROPPED_OUT,
    HAT,
    OST,
    PLANNED_EXIT,
    REHAB,
    TRANSFERRED,
    ExitTreatment,
    MoveTo,
    StepEnd,
)
from .people import Person
from .steps import ServiceClosed, leave
from .world import World

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario


def review_hazard(share: float) -> float:
    """The constant hazard (per day) that gives a probability ``share`` of the event within
    one review interval: ``-ln(1 - share) / REVIEW_DAYS``; a share of 1 happens at once."""
    if share <= 0.0:
        return 0.0
    if share >= 1.0:
        return INF
    return -math.log1p(-share) / REVIEW_DAYS


class ReviewBranches(NamedTuple):
    """A review's shares, split for drawing: planned exit, the other steps, their total."""

    planned_exit: float
    others: tuple[tuple[str, float], ...]
    others_total: float


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
    dropout_max: float
    """The largest caseload-pressure multiplier of drop-out (no unit)."""
    planned_factor: float
    """Attribute multiplier of the planned-exit share."""
    completion_max: float
    """The largest caseload-pressure multiplier of completion (no unit)."""
    pressure: Pressure
    death: float
    induction_days: float
    induction_death: float
    transfer: float
    branches: ReviewBranches


def stay_rates(world: World, person: Person, modality: str, params: Scenario) -> StayRates:
    """The rates of a stay in ``modality`` under ``params`` (the parameters in force), the
    same for everyone with the same attributes: kept per attribute profile until the
    parameters change.

    :raises ServiceClosed: (to OST) for a HAT stay once HAT has closed.
    """
    if modality == HAT and not params.modalities.hat.open:
        raise ServiceClosed(OST)  # closed without a plan reaching this person
    rates = world.cached_rates(modality, person)
    if rates is None:
        rates = world.keep_rates(modality, person, _stay_rates(world, person, modality, params))
    return rates  # type: ignore[no-any-return]


def _stay_rates(world: World, person: Person, modality: str, params: Scenario) -> StayRates:
    spec = getattr(params.modalities, modality)
    mortality = params.mortality
    transfer = params.exits.transfer
    pressure = params.keyworkers.pressure
    return StayRates(
        spec=spec,
        dropout=spec.dropout,
        dropout_factor=person.factor(spec.dropout_multipliers),
        dropout_max=max(pressure.dropout_multiplier),
        planned_factor=person.factor(spec.review.planned_exit_multipliers),
        completion_max=max(pressure.completion_multiplier),
        pressure=pressure,
        death=world.death_rate(person, mortality.in_treatment.get(modality, 0.0)),  # type: ignore[call-overload]
        induction_days=mortality.ost_induction_days if modality == OST else 0.0,
        induction_death=world.death_rate(person, mortality.ost_induction.per_100_person_years),
        transfer=transfer.per_year * person.factor(transfer.multipliers) / DAYS_PER_YEAR,
        branches=review_branches(spec.review.probabilities),
    )


def factor_ahead(by_review: list[float], review_no: int) -> float:
    """The largest review-number factor of review ``review_no`` (1, 2, ...) or any later
    one: reviews past the end of ``by_review`` have a factor of 1."""
    ahead = by_review[review_no - 1:]
    return max(max(ahead), 1.0) if ahead else 1.0


def review_no_at(day: float) -> int:
    """The review (1, 2, ...) that ends the interval holding stay day ``day``."""
    return math.floor(day / REVIEW_DAYS) + 1


class Stay:
    """The clock, candidates and rates in force of one stay.

    :meth:`plan` starts a stretch and returns the days to the first candidate; after
    that wait, :meth:`after_wait` acts on it (the stay's end, or ``None`` to go on) and
    :meth:`next_wait` gives the next wait. Times are days on the stay's clock (day 0 is
    the start of the stay; people carried in on day 0 start part-way).

    :param elapsed_days: days already spent in the modality when the stay starts.
    """

    __slots__ = ("world", "person", "modality", "params", "rates", "days", "origin",
                 "stretch", "caseload", "end", "due", "h_drop", "t_drop", "t_death",
                 "t_transfer", "t_complete", "complete_bound", "complete_recheck",
                 "t_review", "review_bound")

    def __init__(self, world: World, person: Person, modality: str,
                 elapsed_days: float) -> None:
        self.world = world
        self.person = person
        self.modality = modality
        self.params: Scenario | None = None  # the parameters the rates were read from
        self.rates: StayRates | None = None
        self.days = elapsed_days  # stay day now (of the last event)
        self.origin = 0.0  # model day of stay day 0
        self.stretch = elapsed_days  # stay day the current stretch started
        self.caseload = 0.0  # people per keyworker when the stretch started
        self.end = self.due = INF  # stay days: end of the stretch; the next candidate
        self.h_drop = 0.0  # cumulative hazard (on the dominating scale) of the drop-out candidate
        self.t_drop = self.t_death = self.t_transfer = INF
        self.t_complete = INF  # planned exit, when exits are in continuous time
        self.complete_bound = 0.0  # its dominating hazard (per day)
        self.complete_recheck = False  # t_complete is an interval start, not a candidate
        self.t_review = INF  # the next review that might move the person
        self.review_bound = 0.0  # the probability that bounds every review's

    # ------------------------------------------------------------------ stretches

    def plan(self) -> float:
        """Start a stretch now (the stay's start or a policy date): read the rates in force
        and draw every candidate; returns the days to wait.

        :raises ServiceClosed: when the parameters now in force close the service.
        """
        world, person = self.world, self.person
        params = world.parameters
        if params is not self.params:
            self.rates = stay_rates(world, person, self.modality, params)
            self.params = params
        rates = self.rates
        assert rates is not None
        days = self.days
        now = clock(world.env)
        self.origin = now - days
        self.stretch = days
        self.end = days + (world.next_boundary(now) - now) + PAST
        self.caseload = world.keyworkers.caseload()
        expo = person.rng.expovariate
        self.t_death = days + delay_after_induction(expo(1.0), days, rates.induction_days,
                                                    rates.induction_death, rates.death)
        self.t_transfer = days + expo(rates.transfer) if rates.transfer > 0 else INF
        self.h_drop = rates.dropout.cumhaz(days)
        self.t_drop = self._next_dropout()
        self.t_complete = self._next_completion(days)
        self.t_review = self._next_review((math.floor(days / REVIEW_DAYS) + 1) * REVIEW_DAYS)
        return self._wait()

    def next_wait(self) -> float:
        """The days to the next candidate (a new stretch if a policy date was reached)."""
        if self.days >= self.end:
            return self.plan()
        return self._wait()

    def _wait(self) -> float:
        self.due = due = soonest(self.t_drop, self.t_death, self.t_transfer, self.t_complete,
                                 self.t_review, self.end)
        return due - self.days

    def after_wait(self) -> StepEnd | None:
        """Act on the candidate that came due: the end of the stay, or ``None`` to go on
        (a rejected candidate, a review that changed nothing, or the end of a stretch)."""
        t = self.days = self.due
        if t == self.t_drop:
            if self._keep_dropout(t):
                return self._leave(ExitTreatment(DROPPED_OUT))
            self.t_drop = self._next_dropout()
        elif t == self.t_death:
            return self._leave(ExitTreatment(DIED))
        elif t == self.t_transfer:
            return self._leave(ExitTreatment(TRANSFERRED))
        elif t == self.t_complete:
            if not self.complete_recheck and self._keep_completion(t):
                return self._leave(ExitTreatment(COMPLETED))
            self.t_complete = self._next_completion(t)
        elif t == self.t_review:
            outcome = self._review(t)
            if outcome != CONTINUE:
                end = self._after_review(outcome)
                if end is not None:
                    return end
            self.t_review = self._next_review(t + REVIEW_DAYS)
        return None

    # ------------------------------------------------------------------ caseload

    def _caseload_at(self, day: float) -> float:
        """People per keyworker at the start of the review interval holding stay ``day``."""
        start = math.floor(day / REVIEW_DAYS) * REVIEW_DAYS
        if start <= self.stretch:
            return self.caseload
        return self.world.keyworkers.caseload_at(self.origin + start)

    def planned_share(self, caseload: float, review_no: int) -> float:
        """The planned-exit share of review ``review_no`` (1, 2, ...) of the stay, scaled by
        attribute, caseload (people per keyworker) and review-number multipliers."""
        rates = self.rates
        assert rates is not None
        pressure = rates.pressure
        factor = rates.planned_factor * interp(caseload, pressure.caseload,
                                               pressure.completion_multiplier)
        by_review = rates.spec.review.planned_exit_by_review
        if review_no <= len(by_review):
            factor *= by_review[review_no - 1]
        return min(1.0, rates.branches.planned_exit * factor)

    def _planned_bound(self, review_no: int) -> float:
        """A share no review from ``review_no`` on can exceed, whatever the caseload."""
        rates = self.rates
        assert rates is not None
        return min(1.0, rates.branches.planned_exit * rates.planned_factor
                   * rates.completion_max
                   * factor_ahead(rates.spec.review.planned_exit_by_review, review_no))

    # ------------------------------------------------------------------ drop-out

    def _next_dropout(self) -> float:
        """The next drop-out candidate (stay day) after the last one, at the largest
        pressure multiplier; on the cumulative-hazard scale, so atoms get their due."""
        rates = self.rates
        assert rates is not None
        bound = rates.dropout_factor * rates.dropout_max
        if bound <= 0:
            return INF
        if self.h_drop == INF:  # the distribution's whole hazard is spent: never
            return INF
        self.h_drop += self.person.rng.expovariate(1.0) / bound
        return max(self.days, rates.dropout.inv_cumhaz(self.h_drop))

    def _keep_dropout(self, t: float) -> bool:
        """Whether the drop-out candidate at stay day ``t`` is a drop-out (one draw)."""
        rates = self.rates
        assert rates is not None
        pressure = rates.pressure
        m = interp(self._caseload_at(t), pressure.caseload, pressure.dropout_multiplier)
        return self.person.rng.random() * rates.dropout_max < m

    # ------------------------------------------------------------------ planned exits

    def _next_completion(self, t: float) -> float:
        """The next planned-exit candidate from stay day ``t`` (continuous timing only)."""
        rates = self.rates
        assert rates is not None
        self.complete_recheck = False
        if rates.spec.review.planned_exit_timing != CONTINUOUS:
            return INF
        bound = review_hazard(self._planned_bound(review_no_at(t)))
        self.complete_bound = bound
        if bound <= 0:
            return INF
        expo = self.person.rng.expovariate
        if bound < INF:
            return t + expo(bound)
        # some interval ahead may have a share of 1 (at once): go interval by interval
        review_no = review_no_at(t)
        rate = review_hazard(self.planned_share(self._caseload_at(t), review_no))
        if rate == INF:
            return t
        candidate = t + expo(rate) if rate > 0 else INF
        next_start = review_no * REVIEW_DAYS
        if candidate >= next_start:
            self.complete_recheck = True
            return next_start
        return candidate

    def _keep_completion(self, t: float) -> bool:
        """Whether the planned-exit candidate at stay day ``t`` is a planned exit."""
        bound = self.complete_bound
        if bound == INF:  # drawn at the interval's own rate
            return True
        rate = review_hazard(self.planned_share(self._caseload_at(t), review_no_at(t)))
        return self.person.rng.random() * bound < rate

    # ------------------------------------------------------------------ reviews

    def _next_review(self, first: float) -> float:
        """The first review from stay day ``first`` (a review day) that might move the
        person: reviews before it are skipped in one geometric draw."""
        rates = self.rates
        assert rates is not None
        continuous = rates.spec.review.planned_exit_timing == CONTINUOUS
        planned = 0.0 if continuous else self._planned_bound(round(first / REVIEW_DAYS))
        bound = self.review_bound = min(1.0, planned + rates.branches.others_total)
        if bound <= 0:
            return INF
        if bound >= 1:
            return first
        skipped = math.floor(math.log1p(-self.person.rng.random()) / math.log1p(-bound))
        return first + skipped * REVIEW_DAYS

    def _review(self, day: float) -> str:
        """The outcome of the review on stay ``day``, given that it is a candidate (one
        uniform on ``[0, review_bound)``): the planned-exit share (none when planned exits
        are in continuous time) comes first, other steps shrink only if needed, and
        ``continue`` takes the rest."""
        rates = self.rates
        assert rates is not None
        _, others, others_total = rates.branches
        review_no = round(day / REVIEW_DAYS)
        planned = 0.0
        if rates.spec.review.planned_exit_timing != CONTINUOUS:
            planned = self.planned_share(self._caseload_at(day - REVIEW_DAYS), review_no)
        u = self.person.rng.random() * self.review_bound
        if u < planned:
            return PLANNED_EXIT
        scale = min(1.0, (1.0 - planned) / others_total) if others_total > 0 else 1.0
        cumulative = planned
        for step, share in others:
            cumulative += share * scale
            if u < cumulative:
                return step
        return CONTINUE

    def _after_review(self, outcome: str) -> StepEnd | None:
        """Act on a review ``outcome``; a step to a service that cannot take the person
        (under the stretch's parameters) means staying on."""
        params = self.params
        assert params is not None
        if outcome == PLANNED_EXIT:
            return self._leave(ExitTreatment(COMPLETED))
        if outcome == HAT and not (params.modalities.hat.open and self.world.hat.free() > 0):
            return None
        if outcome == REHAB and not params.modalities.rehab.open:
            return None
        return self._leave(MoveTo(outcome))

    def _leave(self, end: StepEnd) -> StepEnd:
        return leave(self.world, self.person, self.modality, end)
