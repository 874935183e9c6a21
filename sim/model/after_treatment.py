"""After a planned exit: relapse, sustained recovery, death or moving away.

Relapse follows a duration distribution through its cumulative hazard: the person holds a
unit-exponential budget from the exit and relapses when ``multiplier x dH`` reaches it,
the multiplier re-read at each policy date. Without relapse for ``sustained_recovery_days``
they count as recovered, where only death and moving away remain.
"""

from __future__ import annotations

from ..vocab import DAYS_PER_YEAR
from .hazards import EPS, INF, hazard_crossing
from .outcomes import SELF_REFERRAL
from .people import COMMUNITY, MOVED_AWAY, RECOVERED, TRIAGE_WAIT, Person
from .world import Stage, World


def after_treatment(world: World, person: Person) -> Stage:
    """From a planned exit today until relapse, recovery, death or moving away; returns
    the next state (:data:`TRIAGE_WAIT` for a relapse straight back to treatment)."""
    env = world.env
    rng = person.rng
    budget = rng.expovariate(1.0)
    exit_day = env.now
    while True:
        params = world.parameters
        now = env.now
        relapse = params.relapse
        end = min(world.next_boundary(now), exit_day + relapse.sustained_recovery_days)
        base, until = world.post_exit_rate(
            person, now, params.mortality.after_treatment.per_100_person_years)
        end = min(end, until)
        t_relapse, used = hazard_crossing(budget, person.factor(relapse.multipliers),
                                          relapse.time_to_relapse, now - exit_day,
                                          end - exit_day)
        death_rate = world.death_rate(person, base)
        t_death = rng.expovariate(death_rate) if death_rate > 0 else INF
        moving = params.population.community.moving_away
        moving_rate = moving.per_year * person.factor(moving.multipliers) / DAYS_PER_YEAR
        t_move = rng.expovariate(moving_rate) if moving_rate > 0 else INF
        wait = min(end - now, t_relapse, t_death, t_move)
        yield env.timeout(wait)
        if wait == t_relapse:
            back = relapse.return_to_treatment
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
        if env.now >= exit_day + relapse.sustained_recovery_days - EPS:
            world.set_state(person, RECOVERED)
            return RECOVERED


def recovered(world: World, person: Person) -> Stage:
    """Sustained recovery (or natural cessation): waits for death or moving away, at the
    rates in force on entry; returns ``None``."""
    rng = person.rng
    params = world.parameters
    death_rate = world.death_rate(person, params.mortality.after_treatment.per_100_person_years)
    moving = params.population.community.moving_away
    moving_rate = moving.per_year * person.factor(moving.multipliers) / DAYS_PER_YEAR
    total = death_rate + moving_rate
    if total <= 0:
        return None
    yield world.env.timeout(rng.expovariate(total))
    if rng.random() * total < death_rate:
        world.die(person)
    else:
        world.set_state(person, MOVED_AWAY)
    return None
