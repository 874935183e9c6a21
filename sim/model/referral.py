"""Referral: a person using drugs is referred (or refers themselves) to the service."""

from __future__ import annotations

from .kernel import clock
from .people import TRIAGE_WAIT, Person
from .triage import triage
from .world import Stage, World


def referral(world: World, person: Person) -> Stage:
    """Open a new episode today from the person's referral ``source``; returns the stage
    that follows, triage (a plain function handing over the next stage, so that the
    person's life runs triage itself rather than through a generator of its own)."""
    world.open_episode(person, initial=False, source=person.attrs["source"],
                       referral_day=clock(world.env), previously_treated=person.ever_treated)
    world.set_state(person, TRIAGE_WAIT)
    return triage(world, person)
