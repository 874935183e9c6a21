"""Triage and the wait for a keyworker: from referral to the start of treatment."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from ..vocab import DAYS_PER_YEAR
from .outcomes import DIED_WAITING, GAVE_UP_WAITING, TRIAGED_ONLY
from .people import COMMUNITY, IN_TREATMENT, KEYWORKER_WAIT, Person
from .steps import entry_modality
from .treatment import treatment
from .world import Stage, World


def triage(world: World, person: Person) -> Stage:
    """Assessment (after a wait for a slot), then, unless triaged only, the wait for a
    keyworker place and the start of treatment; returns the state after the episode."""
    env = world.env
    episode = person.episode
    assert episode is not None
    ev = world.triage.request()
    if ev is not None:
        yield ev  # a week or two at most: deaths in this short wait are not modelled
    episode.triage_day = env.now
    params = world.parameters.triage
    world.monitor.cost("triage", env.now, env.now, params.cost_per_assessment_gbp)
    if person.rng.random() < params.triaged_only:
        episode.triaged_only = True
        episode.exit_reason = TRIAGED_ONLY
        episode.exit_day = env.now
        world.set_state(person, COMMUNITY)
        return COMMUNITY
    world.set_state(person, KEYWORKER_WAIT)
    ev = world.keyworkers.acquire()
    if ev is not None:
        abandonment = world.parameters.keyworkers.waiting_abandonment
        per_year = abandonment.per_year * person.factor(abandonment.multipliers)
        left = yield from wait_for_place(world, person, ev, per_year)
        if left is not None:
            world.keyworkers.cancel(ev)
            return _left_waiting(world, person, left)
    world.set_state(person, IN_TREATMENT)
    episode.start_day = env.now
    person.ever_treated = True
    person.set_attr("previously_treated", "true")
    world.mark_in_treatment(person)
    modality = entry_modality(world, person)
    return (yield from treatment(world, person, modality, 0.0))


def wait_for_place(world: World, person: Person, ev: simpy.Event,
                   give_up_per_year: float) -> Generator[simpy.Event, Any, str | None]:
    """Wait for ``ev`` (a place) while death and giving up (``give_up_per_year``) compete.

    Returns ``None`` once admitted, else :data:`DIED_WAITING` or :data:`GAVE_UP_WAITING`.
    """
    rng = person.rng
    death = world.death_rate(person,
                             world.parameters.mortality.community.per_100_person_years)
    give_up = give_up_per_year / DAYS_PER_YEAR
    total = death + give_up
    if total <= 0:
        yield ev
        return None
    timer = world.env.timeout(rng.expovariate(total))
    yield ev | timer
    if ev.triggered:
        return None
    return DIED_WAITING if rng.random() * total < death else GAVE_UP_WAITING


def _left_waiting(world: World, person: Person, reason: str) -> int | None:
    """Close the episode of a person who left the waiting list for ``reason``."""
    episode = person.episode
    assert episode is not None
    episode.exit_day = world.env.now
    episode.abandoned_wait = True
    episode.exit_reason = reason
    if reason == DIED_WAITING:
        world.die(person)
        return None
    world.set_state(person, COMMUNITY)
    return COMMUNITY
