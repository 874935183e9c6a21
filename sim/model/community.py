"""Using in the community (not in treatment), and custody.

In the community, referral by each source, natural cessation, custody, moving away and
death compete as exponential clocks. The wait is cut at the next policy date (and at the
end of a post-exit or post-release window) and drawn again with the rates then in force.
"""

from __future__ import annotations

from ..scenario import SOURCES
from ..vocab import DAYS_PER_YEAR
from .hazards import EPS, INF, pick
from .people import COMMUNITY, CUSTODY, MOVED_AWAY, RECOVERED, TRIAGE_WAIT, Person
from .world import Stage, World

CESSATION, MOVING_AWAY, TO_CUSTODY, DEATH = range(len(SOURCES), len(SOURCES) + 4)
"""Indices of the non-referral clocks, after one referral clock per source."""


def community(world: World, person: Person) -> Stage:
    """Wait for the first community event; returns the next state (:data:`TRIAGE_WAIT`
    for a referral, with the person's ``source`` set; ``None`` when the life ends)."""
    env = world.env
    rng = person.rng
    while True:
        now = env.now
        rates, boundary = community_rates(world, person, now)  # per year; day
        total = sum(rates)
        if total <= 0:
            if boundary == INF:
                return None  # nothing can ever happen to this person
            yield env.timeout(boundary - now)
            continue
        gap = rng.expovariate(total / DAYS_PER_YEAR)
        if now + gap >= boundary:
            yield env.timeout(boundary - now)
            continue
        yield env.timeout(gap)
        which = pick(rates, rng.random() * total)
        if which < len(SOURCES):
            person.set_attr("source", SOURCES[which])
            return TRIAGE_WAIT
        if which == CESSATION:
            world.set_state(person, RECOVERED)
            return RECOVERED
        if which == MOVING_AWAY:
            world.set_state(person, MOVED_AWAY)
            return None
        if which == TO_CUSTODY:
            world.set_state(person, CUSTODY)
            return CUSTODY
        world.die(person)
        return None


def community_rates(world: World, person: Person,
                    now: float) -> tuple[tuple[float, ...], float]:
    """The community clocks of ``person`` on day ``now`` (events per year: one referral
    rate per source, then cessation, moving away, custody and death) and the day until
    which they hold."""
    params = world.parameters
    referral = params.referral
    community = params.population.community
    factor = person.factor
    rate_self = referral.self_.per_year * factor(referral.self_.multipliers)
    rate_gp = referral.gp.per_year * factor(referral.gp.multipliers)
    rate_justice = (referral.criminal_justice.per_year
                    * factor(referral.criminal_justice.multipliers))
    boundary = world.next_boundary(now)
    rate_prison = 0.0
    if person.release_day is not None:
        release = referral.prison_release
        until = person.release_day + release.window_days
        if now < until - EPS:
            rate_prison = release.per_year * factor(release.multipliers)
            boundary = min(boundary, until)
    rate_cessation = community.cessation.per_year * factor(community.cessation.multipliers)
    rate_moving = community.moving_away.per_year * factor(community.moving_away.multipliers)
    rate_custody = community.custody.per_year * factor(community.custody.multipliers)
    base, until = world.post_exit_rate(person, now,
                                       params.mortality.community.per_100_person_years)
    boundary = min(boundary, until)
    rate_death = world.death_rate(person, base) * DAYS_PER_YEAR
    return (rate_self, rate_gp, rate_justice, rate_prison, rate_cessation, rate_moving,
            rate_custody, rate_death), boundary


def custody(world: World, person: Person) -> Stage:
    """A spell in custody of a drawn duration (days), with the custody death rate in force
    on entry competing; returns :data:`COMMUNITY` on release (``None`` on death)."""
    params = world.parameters
    stay = params.population.community.custody_duration.sample(person.rng)
    rate = world.death_rate(person, params.mortality.custody.per_100_person_years)
    if rate > 0:
        t_death = person.rng.expovariate(rate)
        if t_death < stay:
            yield world.env.timeout(t_death)
            world.die(person)
            return None
    yield world.env.timeout(stay)
    person.release_day = world.env.now
    world.set_state(person, COMMUNITY)
    return COMMUNITY
