"""Triage and the wait for a keyworker: from referral to the start of treatment."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from ..vocab import DAYS_PER_YEAR
from .kernel import Wait, clock, timeout
from .outcomes import CUSTODY_WAITING, DIED_WAITING, GAVE_UP_WAITING, TRIAGED_ONLY
from .people import COMMUNITY, CUSTODY, IN_TREATMENT, KEYWORKER_WAIT, Person
from .world import Stage, World


def triage(world: World, person: Person) -> Stage:
    """Assessment (after a wait for a slot), then, unless triaged only, the wait for a
    keyworker place; returns the state it leads to (``IN_TREATMENT`` once a place is
    taken: :func:`~sim.model.treatment.begin_treatment` is the next stage)."""
    env = world.env
    episode = person.episode
    assert episode is not None
    risky = world.parameters.triage.waiting_risks
    ev = world.triage.request()
    if ev is not None:
        if not risky:
            yield ev
        else:
            left = yield from wait_for_place(world, person, ev, 0.0, custody=True)
            if left is not None:
                world.triage.cancel(ev)
                return _left_waiting(world, person, left)
    episode.triage_day = clock(env)
    params = world.parameters.triage
    world.monitor.cost("triage", clock(env), clock(env), params.cost_per_assessment_gbp)
    if person.rng.random() < params.triaged_only:
        episode.triaged_only = True
        episode.exit_reason = TRIAGED_ONLY
        episode.exit_day = clock(env)
        world.set_state(person, COMMUNITY)
        return COMMUNITY
    world.set_state(person, KEYWORKER_WAIT)
    ev = world.keyworkers.acquire()
    if ev is not None:
        abandonment = world.parameters.keyworkers.waiting_abandonment
        per_year = abandonment.per_year * person.factor(abandonment.multipliers)
        left = yield from wait_for_place(world, person, ev, per_year, custody=risky)
        if left is not None:
            world.keyworkers.cancel(ev)
            return _left_waiting(world, person, left)
    world.set_state(person, IN_TREATMENT)
    episode.start_day = clock(env)
    world.mark_treated(person)
    person.set_attr("previously_treated", "true")
    world.mark_in_treatment(person)
    return IN_TREATMENT  # the life goes on to begin_treatment at once


def wait_for_place(world: World, person: Person, ev: simpy.Event, give_up_per_year: float,
                   custody: bool = False) -> Generator[Wait, Any, str | None]:
    """Wait for ``ev`` (a place) while death, giving up (``give_up_per_year``) and, with
    ``custody``, custody at the community rate compete (rates read when the wait starts).

    Returns ``None`` once admitted, else :data:`DIED_WAITING`, :data:`GAVE_UP_WAITING` or
    :data:`CUSTODY_WAITING`.
    """
    rng = person.rng
    params = world.parameters
    death = world.death_rate(person, params.mortality.community.per_100_person_years)
    give_up = give_up_per_year / DAYS_PER_YEAR
    to_custody = 0.0
    if custody:
        rate = params.population.community.custody
        to_custody = rate.per_year * person.factor(rate.multipliers) / DAYS_PER_YEAR
    total = death + give_up + to_custody
    if total <= 0:
        yield ev
        return None
    timer = timeout(world.env, rng.expovariate(total))
    yield ev | timer
    if ev.triggered:
        return None
    u = rng.random() * total
    if u < death:
        return DIED_WAITING
    return GAVE_UP_WAITING if u < death + give_up else CUSTODY_WAITING


def _left_waiting(world: World, person: Person, reason: str) -> int | None:
    """Close the episode of a person who left the waiting list for ``reason``."""
    episode = person.episode
    assert episode is not None
    episode.exit_day = clock(world.env)
    episode.abandoned_wait = True
    episode.exit_reason = reason
    if reason == DIED_WAITING:
        world.die(person)
        return None
    if reason == CUSTODY_WAITING:
        world.set_state(person, CUSTODY)
        return CUSTODY
    world.set_state(person, COMMUNITY)
    return COMMUNITY
