"""After a planned exit: relapse, sustained recovery, death or moving away.

Relapse follows a duration distribution through its cumulative hazard, chosen by how
treatment ended (the exit route): the person holds a unit-exponential budget from the exit
and relapses when ``multiplier x dH`` reaches it, the multiplier re-read at each policy
date. Sustained recovery comes by its own hazard, or after ``sustained_recovery_days``
without relapse where a scenario keeps that cliff; once recovered only death and moving
away remain.
"""

from __future__ import annotations

from ..vocab import DAYS_PER_YEAR
from .hazards import EPS, INF, PAST, hazard_crossing, soonest
from .kernel import clock, timeout
from .mortality import death_delay
from .outcomes import SELF_REFERRAL
from .people import COMMUNITY, MOVED_AWAY, RECOVERED, TRIAGE_WAIT, Person
from .world import Stage, World


def after_treatment(world: World, person: Person) -> Stage:
    """From a planned exit today until relapse, sustained recovery, death or moving away;
    returns the next state (:data:`TRIAGE_WAIT` for a relapse straight back to treatment).

    Relapse and return to treatment follow the exit route's own values where the scenario
    gives them. Sustained recovery comes by its own hazard, or (if the scenario keeps one)
    after ``sustained_recovery_days`` without relapse.
    """
    env = world.env
    rng = person.rng
    budget = rng.expovariate(1.0)
    exit_day = clock(env)
    route = person.exit_route
    assert route is not None
    while True:
        params = world.parameters
        now = clock(env)
        relapse = params.relapse
        dist, back = relapse.for_route(route)
        lasting = relapse.sustained_recovery_days
        cliff = INF if lasting is None else exit_day + lasting
        end = min(world.next_boundary(now), cliff)
        t_relapse, used = hazard_crossing(budget, person.factor(relapse.multipliers), dist,
                                          now - exit_day, end - exit_day)
        t_death = death_delay(params.mortality, person, now,
                              params.mortality.after_treatment.per_100_person_years, end,
                              rng.expovariate(1.0))
        moving_rate = moving_per_day(world, person)
        t_move = rng.expovariate(moving_rate) if moving_rate > 0 else INF
        recovery = relapse.recovery
        recovery_rate = recovery.per_year * person.factor(recovery.multipliers) / DAYS_PER_YEAR
        t_recover = rng.expovariate(recovery_rate) if recovery_rate > 0 else INF
        wait = soonest(end - now + PAST, t_relapse, t_death, t_move, t_recover)
        yield timeout(env, wait)
        if wait == t_relapse:
            returned = back > 0 and rng.random() < back
            world.record_relapse(person, exit_day, returned)
            if returned:
                person.set_attr("source", SELF_REFERRAL)
                return TRIAGE_WAIT  # straight back to treatment
            world.set_state(person, COMMUNITY)
            return COMMUNITY
        if wait == t_death:
            world.die(person)
            return None
        if wait == t_move:
            world.set_state(person, MOVED_AWAY)
            return None
        budget -= used
        if wait == t_recover or clock(env) >= cliff - EPS:
            world.set_state(person, RECOVERED)
            return RECOVERED


def moving_per_day(world: World, person: Person) -> float:
    """The hazard (per day) of moving out of the area for ``person``, under the parameters
    in force."""
    moving = world.parameters.population.community.moving_away
    return moving.per_year * person.factor(moving.multipliers) / DAYS_PER_YEAR


def recovered(world: World, person: Person) -> Stage:
    """Sustained recovery (or natural cessation): waits for death or moving away, at the
    rates in force on entry; returns ``None``."""
    rng = person.rng
    params = world.parameters
    death_rate = world.death_rate(person, params.mortality.after_treatment.per_100_person_years)
    moving_rate = moving_per_day(world, person)
    total = death_rate + moving_rate
    if total <= 0:
        return None
    yield timeout(world.env, rng.expovariate(total))
    if rng.random() * total < death_rate:
        world.die(person)
    else:
        world.set_state(person, MOVED_AWAY)
    return None
