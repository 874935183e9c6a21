"""Using in the community (not in treatment), and custody.

In the community, referral by each source, natural cessation, custody, moving away and
death compete as exponential clocks. The wait is cut at the next policy date (and at the
end of a post-exit or post-release window) and drawn again with the rates then in force.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..scenario import SOURCES
from ..vocab import DAYS_PER_YEAR
from .hazards import EPS, INF, PAST, pick, soonest
from .kernel import clock, timeout
from .mortality import death_delay
from .people import COMMUNITY, CUSTODY, MOVED_AWAY, RECOVERED, TRIAGE_WAIT, Person
from .world import Stage, World

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Scenario

CESSATION: Final = len(SOURCES)
"""Index of the first non-referral clock, after one referral clock per source."""
MOVING_AWAY: Final = CESSATION + 1
TO_CUSTODY: Final = CESSATION + 2
COMMUNITY_RATES: Final = "community"
"""The kind of rates kept per attribute profile for the community clocks."""
PRISON: Final = SOURCES.index("prison_release")
"""Index of the referral clock after release from custody (running only in its window)."""


def community(world: World, person: Person) -> Stage:
    """Wait for the first community event; returns the next state (:data:`TRIAGE_WAIT`
    for a referral, with the person's ``source`` set; ``None`` when the life ends).

    Death is drawn on its own, through the post-exit and post-release windows in one
    draw; the other clocks are constant until the next policy date or the end of a
    release window, where everything is drawn again."""
    env = world.env
    rng = person.rng
    while True:
        now = clock(env)
        rates, total, boundary = community_rates(world, person, now)  # per year; day
        gap = rng.expovariate(total / DAYS_PER_YEAR) if total > 0 else INF
        base = world.parameters.mortality.community.per_100_person_years
        t_death = death_delay(world.parameters.mortality, person, now, base, boundary,
                              rng.expovariate(1.0))
        wait = soonest(gap, t_death, boundary - now + PAST)
        if wait == INF:
            return None  # nothing can ever happen to this person
        yield timeout(env, wait)
        if wait == t_death:
            world.die(person)
            return None
        if wait != gap:
            continue  # a policy date or the end of a release window
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
        world.set_state(person, CUSTODY)
        return CUSTODY


def community_rates(world: World, person: Person,
                    now: float) -> tuple[tuple[float, ...], float, float]:
    """The community clocks of ``person`` on day ``now`` (events per year: one referral
    rate per source, then cessation, moving away and custody), their total, and the day
    until which they hold (the next policy date, or the end of a release window)."""
    params = world.parameters
    kept = world.cached_rates(COMMUNITY_RATES, person)
    if kept is None:
        kept = world.keep_rates(COMMUNITY_RATES, person, _profile_rates(params, person))
    rates, total, prison = kept
    boundary = world.next_boundary(now)
    if person.release_day is not None:
        until = person.release_day + params.referral.prison_release.window_days
        if now < until - EPS:
            rates = (*rates[:PRISON], prison, *rates[PRISON + 1:])
            total = sum(rates)
            boundary = min(boundary, until)
    return rates, total, boundary


def _profile_rates(params: Scenario, person: Person) -> tuple[tuple[float, ...], float, float]:
    """The community rates of ``person`` under ``params`` outside a release window (events
    per year: referral by self, GP, criminal justice and after release (0), cessation,
    moving away, custody), their total, and the referral rate after release."""
    referral = params.referral
    community = params.population.community
    factor = person.factor
    rates = [rate.per_year * factor(rate.multipliers) for rate in (
        referral.self_, referral.gp, referral.criminal_justice, referral.prison_release,
        community.cessation, community.moving_away, community.custody)]
    prison, rates[PRISON] = rates[PRISON], 0.0
    return tuple(rates), sum(rates), prison


def custody(world: World, person: Person) -> Stage:
    """A spell in custody of a drawn duration (days), with the custody death rate in force
    on entry competing; returns :data:`COMMUNITY` on release (``None`` on death)."""
    params = world.parameters
    duration = params.population.community.custody_duration
    assert duration is not None  # the scenario requires one when anyone can enter custody
    stay = duration.sample(person.rng)
    rate = world.death_rate(person, params.mortality.custody.per_100_person_years)
    if rate > 0:
        t_death = person.rng.expovariate(rate)
        if t_death < stay:
            yield timeout(world.env, t_death)
            world.die(person)
            return None
    yield timeout(world.env, stay)
    person.release_day = clock(world.env)
    world.set_state(person, COMMUNITY)
    return COMMUNITY
