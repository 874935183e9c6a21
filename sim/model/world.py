"""The world of one replication: the clock, the parameters in force, services, census.

The :class:`World` holds what every stage reads and what a policy changes: the SimPy
environment, the one set of parameters in force (:attr:`World.parameters`, swapped by
:meth:`World.apply_parameters`), the services with limited capacity, the people and
who is where, and the monitor the records go to. Stages and policies use its public
methods; nothing outside reaches into its private state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Mapping
from typing import Any, TypeAlias

from ..scenario import Scenario
from ..streams import Streams
from ..vocab import DAYS_PER_YEAR, OCU
from .draws import PersonStream, person_seed
from .hazards import INF, death_rate_per_day, next_boundary
from .kernel import Env, Wait, clock
from .monitor import Monitor
from .mortality import death_place
from .outcomes import CLOSABLE, HAT, ONGOING, REHAB, SEGMENT_MODALITIES
from .people import (
    DEAD,
    STATE_NAMES,
    USING_STATES,
    Person,
    Profiles,
    draw_attributes,
)
from .records import Death, Episode, Relapse
from .services import KeyworkerPool, Pool, RehabBudget, TriageClinic

Stage: TypeAlias = Generator[Wait, Any, int | None]
"""A stage of a life: a SimPy generator that returns the person's next state (``None``
when their life in the model is over)."""


def first_april(start: dt.date) -> float:
    """Days from ``start`` to the first 1 April on or after it (0 if it is one)."""
    year = start.year if start < dt.date(start.year, 4, 1) else start.year + 1
    return float((dt.date(year, 4, 1) - start).days)


class World:
    """The simulated local system of one replication.

    :param scenario: the validated scenario; its parameters are in force from day 0.
    :param streams: the replication's random streams (each person gets their own).
    """

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        self.parameters = scenario
        """The parameters in force now (a policy swaps them)."""
        self.run = scenario.run
        """Dates and horizon of the run, which no policy can change."""
        self.streams = streams
        self.death_causes = streams.get("death_cause")
        """Draws whether a death is drug-related (only where the scenario gives shares)."""
        self.exit_kinds = streams.get("exit_kind")
        """Draws how an unplanned exit is recorded (only where the scenario splits them)."""
        self.policy_days = [day for day, _ in scenario.phases()[1:]]
        self.env = env = Env()
        self.year = 0  # model years completed (years of 365 days from the start date)
        initial = scenario.population.initial
        self.monitor = Monitor(initial.community + initial.in_treatment)
        staffing = scenario.keyworkers
        self.keyworkers = KeyworkerPool(env, staffing.mode, staffing.staff,
                                        staffing.caseload_cap)
        self.triage = TriageClinic(env, scenario.triage.capacity_per_week)
        self.beds = Pool(env, scenario.modalities.detox.inpatient_beds)
        hat = scenario.modalities.hat
        self.hat = Pool(env, hat.places if hat.open else 0)
        self.rehab_places = Pool(env, INF)
        self.rehab_budget = RehabBudget(env, scenario.modalities.rehab.budget_per_year_gbp,
                                        first_april(scenario.run.start_date))
        self.profile_cache: dict[str, dict[int, Any]] = {}
        """Rates under the parameters in force, by kind and attribute profile (cleared by a
        policy)."""
        self.profiles = Profiles()
        """Attribute profiles seen so far, and their multipliers."""
        self.people: list[Person] = []
        self.in_treatment_count = 0
        """People in treatment now (each says so: :attr:`Person.in_treatment`)."""
        self.using_count = 0
        """People using now (each says so: :attr:`Person.using`)."""
        self.in_modality = dict.fromkeys(SEGMENT_MODALITIES, 0)
        """People in each modality's segment now."""
        self.naive_using = [0, 0]
        """People using who were never treated: all, and those using opiates or crack."""
        self.using_ocu = 0
        """People using opiates or crack now."""
        self.occupants: dict[str, set[Person]] = {service: set() for service in CLOSABLE}
        self.end_day = self.run.horizon_days + self.run.follow_up_days
        self._costs_booked_to = 0.0  # day up to which fixed costs are in the ledger

    # ------------------------------------------------------------------ rates by profile

    def cached_rates(self, kind: str, person: Person) -> Any:
        """Rates of ``kind`` kept for everyone with the attributes of ``person`` under the
        parameters in force (``None`` if none are kept: build them, :meth:`keep_rates`)."""
        kept = self.profile_cache.get(kind)
        return None if kept is None else kept.get(person.profile)

    def keep_rates(self, kind: str, person: Person, rates: Any) -> Any:
        """Keep ``rates`` of ``kind`` for everyone with the attributes of ``person`` (after
        :meth:`cached_rates`) until a policy changes the parameters; returns them."""
        self.profile_cache.setdefault(kind, {})[person.profile] = rates
        return rates

    # ------------------------------------------------------------------ time

    def next_boundary(self, now: float) -> float:
        """The first policy date (day) after ``now``: waits are cut there."""
        return next_boundary(self.policy_days, now)

    # ------------------------------------------------------------------ people and census

    def new_person(self, substance_shares: Mapping[str, float] | None = None) -> Person:
        """Create the next person, with attributes drawn from their own stream."""
        pid = len(self.people)
        rng = PersonStream(person_seed(self.streams.person_prefix, pid))
        attrs = draw_attributes(rng, self.parameters.population.attributes, substance_shares)
        person = Person(pid, rng, attrs, self.profiles, self.env)
        self.people.append(person)
        return person

    def enter(self, person: Person, state: int) -> None:
        """Count a newly created person in their first ``state``."""
        self.monitor.counts[state] += 1
        person.state = state

    def set_state(self, person: Person, state: int) -> None:
        """Move ``person`` to ``state``, keeping the counters and the using count right."""
        old = person.state
        self.monitor.move(old, state)
        person.state = state
        if state in USING_STATES:
            if old not in USING_STATES:
                self.mark_using(person)
        elif old in USING_STATES:
            self.stop_using(person)

    def _count_naive(self, person: Person, change: int) -> None:
        naive = self.naive_using
        naive[0] += change
        if person.substance in OCU:
            naive[1] += change

    def mark_treated(self, person: Person) -> None:
        """``person`` starts treatment: never treatment-naive again."""
        if not person.ever_treated:
            person.ever_treated = True
            if person.using:
                self._count_naive(person, -1)

    def mark_using(self, person: Person) -> None:
        """Count ``person`` as using, this year too."""
        if person.using:
            return
        if not person.ever_treated:
            self._count_naive(person, 1)
        person.using = True
        self.using_count += 1
        ocu = person.substance in OCU
        self.using_ocu += ocu
        year = self.year
        if not _counted(person.using_from, person.using_to, year):
            during = self.monitor.during_year
            during["using"][-1] += 1
            during["using_ocu"][-1] += ocu
        person.using_from = year

    def stop_using(self, person: Person) -> None:
        """``person`` is no longer using (in custody, after treatment, recovered, dead or
        gone)."""
        if person.using:
            person.using = False
            self.using_count -= 1
            self.using_ocu -= person.substance in OCU
            person.using_to = self.year
        if not person.ever_treated:
            self._count_naive(person, -1)

    def mark_in_treatment(self, person: Person) -> None:
        """Count ``person`` as in treatment, this year too."""
        if person.in_treatment:
            return
        person.in_treatment = True
        self.in_treatment_count += 1
        year = self.year
        if not _counted(person.treatment_from, person.treatment_to, year):
            self.monitor.during_year["in_treatment"][-1] += 1
        person.treatment_from = year

    def leave_treatment(self, person: Person) -> None:
        """``person``'s episode has ended."""
        if person.in_treatment:
            person.in_treatment = False
            self.in_treatment_count -= 1
        person.treatment_to = self.year

    def new_year(self) -> None:
        """Start the next model year: everyone in treatment or using now counts in it (each
        person's count is settled when they next join, see :func:`_counted`)."""
        self.year += 1
        during = self.monitor.during_year
        during["in_treatment"].append(self.in_treatment_count)
        during["using"].append(self.using_count)
        during["using_ocu"].append(self.using_ocu)

    # ------------------------------------------------------------------ death

    def death_rate(self, person: Person, per_100_person_years: float) -> float:
        """Per-day death hazard from a rate per 100 person-years, with multipliers."""
        if per_100_person_years <= 0:
            return 0.0
        return death_rate_per_day(per_100_person_years,
                                  person.factor(self.parameters.mortality.multipliers))

    def record_relapse(self, person: Person, exit_day: float, returned: bool) -> None:
        """Record that ``person`` relapsed today after the planned exit on ``exit_day``."""
        episode = person.episode
        assert episode is not None and episode.path
        self.monitor.relapses.append(Relapse(
            day=clock(self.env), pid=person.pid, days_since_exit=clock(self.env) - exit_day,
            route=episode.path[-1], inpatient=episode.inpatient_detox, returned=returned,
        ))

    def die(self, person: Person, modality: str | None = None) -> None:
        """Record the death of ``person`` now (in ``modality``, if in treatment), with where
        it happened and, where the scenario gives shares, whether it was drug-related (drawn
        from a stream of its own, so no other draw moves)."""
        now = clock(self.env)
        since = None if person.exit_day is None else now - person.exit_day
        place = death_place(self.parameters.mortality, person, now)
        shares = self.parameters.mortality.drug_related_share
        drug_related = None
        if shares:
            drug_related = self.death_causes.random() < shares.get(place, 0.0)  # type: ignore[call-overload]
        self.monitor.deaths.append(Death(
            day=now, pid=person.pid, state=STATE_NAMES[person.state], modality=modality,
            days_since_exit=since, substance=person.substance, place=place,
            drug_related=drug_related,
        ))
        self.set_state(person, DEAD)

    # ------------------------------------------------------------------ episodes and segments

    def open_episode(self, person: Person, *, initial: bool, source: str, referral_day: float,
                     previously_treated: bool, triage_day: float | None = None,
                     start_day: float | None = None) -> Episode:
        """Start the next episode of ``person`` (referred on ``referral_day``) and record it."""
        attrs = person.attrs
        episode = Episode(
            pid=person.pid, episode=person.episodes, initial=initial, source=source,
            referral_day=referral_day, substance=attrs["substance"], sex=attrs["sex"],
            age_band=attrs["age_band"], injecting=attrs["injecting"] == "true",
            mental_health=attrs["mental_health"] == "true",
            housing_need=attrs["housing_need"] == "true",
            previously_treated=previously_treated, triage_day=triage_day, start_day=start_day,
        )
        person.episodes += 1
        person.episode = episode
        self.monitor.episodes.append(episode)
        return episode

    def start_segment(self, person: Person, modality: str, gbp_per_day: float) -> None:
        """``person`` starts a segment in ``modality`` now, costing ``gbp_per_day`` a day."""
        person.modality = modality
        self.in_modality[modality] += 1
        person.segment_start = clock(self.env)
        person.segment_gbp_per_day = gbp_per_day

    def end_segment(self, person: Person, reason: str) -> None:
        """Record the current segment of ``person`` as ended now for ``reason``; book its cost."""
        self._record_segment(person, clock(self.env), reason)
        self.in_modality[person.modality] -= 1  # type: ignore[index]
        person.modality = None

    def _record_segment(self, person: Person, end_day: float, reason: str) -> None:
        start = person.segment_start
        modality = person.modality
        assert modality is not None and person.episode is not None
        self.monitor.segment(pid=person.pid, episode=person.episode.episode, modality=modality,
                             start_day=start, end_day=end_day, end_reason=reason)
        if person.segment_gbp_per_day:
            self.monitor.cost(modality, start, end_day,
                              person.segment_gbp_per_day * (end_day - start))

    def close_open_segments(self, now: float) -> None:
        """Record every segment still open on day ``now`` as ``ongoing``, in person-id order
        (the order of :attr:`people`), so that the ledger's order, and every float sum
        over it, is the same in every process."""
        for person in self.people:
            if person.in_treatment and person.modality is not None and person.episode is not None:
                self._record_segment(person, now, ONGOING)

    # ------------------------------------------------------------------ places

    def admit_to_hat(self, person: Person) -> bool:
        """Give ``person`` a HAT place if the clinic is open and has one free now."""
        if self.parameters.modalities.hat.open and self.hat.try_acquire():
            self.occupants[HAT].add(person)
            return True
        return False

    def enter_rehab(self, person: Person) -> None:
        """``person`` takes up a (funded) residential rehab place."""
        self.rehab_places.acquire()
        self.occupants[REHAB].add(person)

    def release_place(self, person: Person, modality: str) -> None:
        """``person`` leaves ``modality``: hand back its HAT or rehab place, if it has one."""
        if modality == HAT:
            self.hat.release()
            self.occupants[HAT].discard(person)
        elif modality == REHAB:
            self.rehab_places.release()
            self.occupants[REHAB].discard(person)

    # ------------------------------------------------------------------ costs and policies

    def accrue_fixed_costs(self) -> None:
        """Book staff, HAT fixed and other costs (GBP) from the last booking to now, at the
        rates in force."""
        now = clock(self.env)
        start = self._costs_booked_to
        if now <= start:
            return
        years = (now - start) / DAYS_PER_YEAR
        params = self.parameters
        staffing = params.keyworkers
        self.monitor.cost("keyworkers", start, now,
                          staffing.staff * staffing.cost_per_worker_per_year_gbp * years)
        if params.modalities.hat.open:
            self.monitor.cost("hat_fixed", start, now,
                              params.modalities.hat.fixed_cost_per_year_gbp * years)
        other = sum(params.extra_costs_per_year_gbp.values())
        if other:
            self.monitor.cost("other", start, now, other * years)
        self._costs_booked_to = now

    def apply_parameters(self, new: Scenario) -> None:
        """Put ``new`` parameters in force now: book fixed costs to today at the old rates,
        forget cached multipliers, and resize every service whose capacity they set."""
        self.accrue_fixed_costs()
        self.parameters = new
        self.profile_cache.clear()
        self.profiles.forget_factors()  # the multiplier tables changed
        staffing = new.keyworkers
        self.keyworkers.configure(staffing.mode, staffing.staff, staffing.caseload_cap)
        self.triage.set_capacity(new.triage.capacity_per_week)
        self.beds.set_capacity(new.modalities.detox.inpatient_beds)
        hat = new.modalities.hat
        self.hat.set_capacity(hat.places if hat.open else 0)
        self.rehab_budget.set_budget(new.modalities.rehab.budget_per_year_gbp)


def _counted(since: int, until: int, year: int) -> bool:
    """Whether someone joining a group (using, in treatment) in model year ``year`` already
    counts in it that year, given their last stay in it (from model year ``since`` to
    ``until``): it began this year, or it began before this year and ended in it (they
    were in the group when the year began)."""
    return since == year or since < year <= until
