"""The model of one replication: the world, every person's life, the system processes.

Every person's life is one generator (:meth:`Model.life`, driven through the person,
who is a :class:`~sim.model.kernel.Life`) that walks the states drawn in ARCHITECTURE.md,
one stage at a time (:mod:`~sim.model.community`, :mod:`~sim.model.referral`, ...); each
stage returns the next state. Nothing polls: a person waits for exactly one event at a
time, the first of its competing hazards.

Hazards and time-varying parameters
-----------------------------------
* Constant hazards (referral, death, custody, transfer, ...) are exponential and
  memoryless, so a wait is cut at the next policy date and drawn again with the
  parameters then in force: policies take effect exactly on their date.
* Durations with a shape (drop-out, relapse) use the distribution's cumulative hazard
  ``H``: after treatment a person draws one unit-exponential budget ``E`` and relapses
  when the accumulated ``multiplier x dH`` reaches it, the multiplier re-read at each
  policy date. In treatment, the caseload multipliers hold over each 12-weekly review
  interval (read at its start) and the first event is found by thinning
  (:mod:`~sim.model.stay`), with no event at the reviews themselves.
* A death rate that steps down through the post-exit and post-release windows is one
  draw through all of them (:meth:`~sim.model.world.World.death_delay`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Final

from ..scenario import Scenario
from ..streams import Streams
from ..vocab import DAYS_PER_YEAR, OCU
from .after_treatment import after_treatment, recovered
from .collector import PausedCollector
from .community import community, custody
from .draws import exponential
from .hazards import INF, PAST
from .kernel import (
    OVER,
    Env,
    Life,
    Wait,
    attach_calendar,
    clock,
    first_on,
    forget_waiting,
    open_until,
    run_until,
    timeout,
)
from .people import (
    AFTER_TREATMENT,
    COMMUNITY,
    CUSTODY,
    DEAD,
    IN_TREATMENT,
    MOVED_AWAY,
    RECOVERED,
    STATE_NAMES,
    TRIAGE_WAIT,
    Person,
)
from .policies import apply_policy
from .records import Records
from .referral import referral
from .snapshot import snapshot
from .treatment import begin_treatment, carried_in
from .world import Stage, World

STAGES: Final[dict[int, Callable[[World, Person], Stage]]] = {
    COMMUNITY: community,
    TRIAGE_WAIT: referral,
    IN_TREATMENT: begin_treatment,
    AFTER_TREATMENT: after_treatment,
    CUSTODY: custody,
    RECOVERED: recovered,
}
"""The stage a person in each non-absorbing state goes through next (a generator, or a
plain function that does what comes first and hands over the generator that follows, so
that a life runs it directly rather than through one generator more per event)."""

Process = Generator[Wait, Any, None]

CHUNK_DAYS: Final = 28.0
"""Simulated days between the pauses in which the garbage collector may run (days)."""


class Model:
    """One replication of a scenario.

    :param scenario: the validated scenario.
    :param streams: the replication's random streams.
    """

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        self.world = World(scenario, streams)
        self.phases = scenario.phases()
        self.policies = sorted(scenario.policies, key=lambda policy: policy.date)
        self.collector = PausedCollector()  # the one that runs the replication (see run)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Create the day-0 population and the system processes (call once)."""
        env = self.world.env
        self._populate()
        for process in (self._incidence, self._policies, self._snapshots, self._hat_medicine):
            Life(env, process())

    def run(self) -> Records:
        """Run the replication to the end of follow-up and return its records."""
        env = self.world.env
        # SimPy stops *before* events at ``until``: go a hair past so the snapshot
        # due on the last day is taken
        until = self.world.end_day + 1e-6
        attach_calendar(env, CHUNK_DAYS)
        with PausedCollector() as collector:
            self.collector = collector
            open_until(env, CHUNK_DAYS)
            self.start()
            collector.set_up()
            stop = CHUNK_DAYS
            while stop < until:
                open_until(env, stop)
                run_until(env, stop)
                collector.between_chunks()
                stop += CHUNK_DAYS
            open_until(env, until)
            env.run(until=until)
            return self.finish()  # still paused: the records made here trigger no collection

    def finish(self) -> Records:
        """Close open segments and costs at the current day and return the records."""
        world = self.world
        now = clock(world.env)
        world.accrue_fixed_costs()
        world.close_open_segments(now)
        return world.monitor.records(
            horizon_days=world.run.horizon_days, end_day=now,
            warmup_years=world.run.warmup_years, years=world.run.years,
            events=_event_count(world.env),
        )

    def release(self) -> None:
        """Undo the reference cycles of a finished replication (the events waiting in the
        queue, each life where it waits), so that its world is freed as soon as the last
        reference to the model goes, without Python's cyclic collector walking it; the
        collector then counts only a residue of it as left (:meth:`PausedCollector.released`)."""
        world = self.world
        forget_waiting(world.env)  # a life and its event hold each other
        for person in world.people:
            person.stop()  # a life waiting for a place, not in the queue
        self.collector.released()

    # ------------------------------------------------------------------ people

    def _populate(self) -> None:
        """Create the day-0 community and treatment populations."""
        world = self.world
        initial = world.parameters.population.initial
        for _ in range(initial.community):
            person = world.new_person()
            if person.rng.random() < initial.previously_treated_share:
                person.set_attr("previously_treated", "true")
                person.ever_treated = True
            world.enter(person, COMMUNITY)
            world.mark_using(person)
            person.start_now(self.life(person, COMMUNITY))
        for _ in range(initial.in_treatment):
            person = world.new_person(initial.substance)
            person.set_attr("previously_treated", "true")
            elapsed_days = initial.time_in_treatment.sample(person.rng)
            world.enter(person, IN_TREATMENT)
            person.start_now(self.life(person, IN_TREATMENT, carried_in_days=elapsed_days))

    def life(self, person: Person, state: int | None,
             carried_in_days: float | None = None) -> Process:
        """Walk ``person`` through stages from ``state`` until their life in the model ends
        (then end its :class:`Life` by yielding :data:`OVER`); ``carried_in_days``: they
        are in treatment on day 0, that many days into their episode.

        Each stage runs inside this one generator (``yield from``), so an event passes
        through this generator and the stage's own (and the treatment modality's), not
        through one generator for each step that led to it."""
        if carried_in_days is not None:
            state = yield from carried_in(self.world, person, carried_in_days)
        while state is not None:
            state = yield from STAGES[state](self.world, person)
        person.retire()
        yield OVER

    # ------------------------------------------------------------------ system processes

    def _incidence(self) -> Process:
        """New people with problem drug use, at the rate in force (per year)."""
        world = self.world
        rng = world.streams.get("incidence")
        env = world.env
        while True:
            rate = world.parameters.population.incidence_per_year / DAYS_PER_YEAR
            now = clock(env)
            boundary = world.next_boundary(now)
            if rate <= 0:
                if boundary == INF:
                    return
                yield timeout(env, boundary - now + PAST)
                continue
            gap = exponential(rng.random(), rate)
            if now + gap >= boundary:
                yield timeout(env, boundary - now + PAST)
                continue
            yield timeout(env, gap)
            person = world.new_person()
            world.monitor.incidence += 1
            world.enter(person, COMMUNITY)
            world.mark_using(person)
            person.start_now(self.life(person, COMMUNITY))

    def _policies(self) -> Process:
        """Apply each policy on its date, before anything else happens that day."""
        env = self.world.env
        for (day, parameters), policy in zip(self.phases[1:], self.policies, strict=True):
            if day > clock(env):
                yield first_on(env, day - clock(env))
            apply_policy(self.world, parameters, policy)

    def _hat_medicine(self) -> Process:
        """HAT medicine is bought for every place in blocks (of days), filled or not."""
        world = self.world
        env = world.env
        while True:
            hat = world.parameters.modalities.hat
            if hat.open and hat.places > 0:
                now = clock(env)
                world.monitor.cost(
                    "hat_medicine", now, now,
                    hat.places * hat.medicine_block_days * hat.medicine_cost_per_place_per_day_gbp,
                )
            yield timeout(env, hat.medicine_block_days)

    def _snapshots(self) -> Process:
        """Record the state of the system at the end of every month; roll the year."""
        world = self.world
        env = world.env
        month = 0
        while True:
            month += 1
            day = month * DAYS_PER_YEAR / 12
            if day > world.end_day + 1e-9:
                return
            yield timeout(env, day - clock(env))
            world.monitor.snapshots.append(snapshot(world, day))
            world.keyworkers.forget_history()  # reviews look back at most 84 days
            world.accrue_fixed_costs()
            if month % 12 == 0:
                world.new_year()

    # ------------------------------------------------------------------ checks

    def audit(self) -> list[str]:
        """Consistency checks (used by tests): counters match people, nobody is lost."""
        world = self.world
        problems = []
        tally = [0] * len(STATE_NAMES)
        for person in world.people:
            tally[person.state] += 1
        if tally != world.monitor.counts:
            problems.append(f"state counters {world.monitor.counts} != people {tally}")
        if len(world.people) != world.monitor.initial_people + world.monitor.incidence:
            problems.append("people created != initial + incidence")
        for person in world.people:
            if person.state in (DEAD, MOVED_AWAY):
                continue
            if not person.is_alive and person.state not in (COMMUNITY, RECOVERED):
                problems.append(f"person {person.pid} in {STATE_NAMES[person.state]} "
                                f"has no life running")
        using = [person for person in world.people if person.using]
        if len(using) != world.using_count:
            problems.append(f"using {world.using_count} != people {len(using)}")
        in_treatment = [person for person in world.people if person.in_treatment]
        if len(in_treatment) != world.in_treatment_count:
            problems.append(f"in treatment {world.in_treatment_count} != people "
                            f"{len(in_treatment)}")
        naive = [person for person in using if not person.ever_treated]
        counted = [len(naive), sum(person.substance in OCU for person in naive)]
        if counted != world.naive_using:
            problems.append(f"treatment-naive counters {world.naive_using} != people {counted}")
        ocu = sum(person.substance in OCU for person in using)
        if ocu != world.using_ocu:
            problems.append(f"opiate and crack users {world.using_ocu} != people {ocu}")
        for modality, count in world.in_modality.items():
            held = sum(person.modality == modality for person in in_treatment)
            if held != count:
                problems.append(f"in {modality}: counter {count} != people {held}")
        treated = sum(1 for person in world.people if person.state == IN_TREATMENT)
        if treated != world.keyworkers.count:
            problems.append(f"keyworker caseload {world.keyworkers.count} != in treatment "
                            f"{treated}")
        return problems


def _event_count(env: Env) -> int:
    """Events scheduled so far (every scheduled event takes a number)."""
    return env.numbers.next


def simulate(scenario: Scenario, seed: int, replication: int) -> Records:
    """Run replication ``replication`` of ``scenario`` with base seed ``seed``."""
    model = Model(scenario, Streams(seed, replication))
    records = model.run()
    model.release()
    return records
