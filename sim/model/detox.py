"""Detoxification: in the community, or on an inpatient bed if one frees up in time."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .hazards import INF, draw_from
from .kernel import Wait, timeout
from .outcomes import BED_AVAILABLE, DETOX, DETOX_INPATIENT, DIED, DROPOUT, StepEnd, step_end
from .people import Person
from .world import World

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Detox


def detox(world: World, person: Person) -> Generator[Wait, Any, StepEnd]:
    """A community or inpatient detox; returns how it ended (its outcome is drawn at the
    start, a drop-out leaving after a uniform share of the duration, in days)."""
    rng = person.rng
    episode = person.episode
    assert episode is not None
    params = world.parameters.modalities.detox
    world.start_segment(person, DETOX, params.community_cost_per_day_gbp)
    inpatient = yield from _find_bed(world, person, params)
    if inpatient:
        episode.inpatient_detox = True
        world.end_segment(person, BED_AVAILABLE)
        world.start_segment(person, DETOX_INPATIENT, params.inpatient_cost_per_day_gbp)
    params = world.parameters.modalities.detox  # a policy may have come during the wait
    duration = (params.inpatient_duration if inpatient else params.community_duration
                ).sample(rng)
    outcome = draw_from(params.inpatient_outcome if inpatient else params.community_outcome,
                        rng.random())
    if outcome == DROPOUT:
        duration *= rng.random()
    death_rate = world.death_rate(person,
                                  world.parameters.mortality.in_treatment.get(DETOX, 0.0))
    t_death = rng.expovariate(death_rate) if death_rate > 0 else INF
    if t_death < duration:
        yield timeout(world.env, t_death)
        outcome = DIED
    else:
        yield timeout(world.env, duration)
    world.end_segment(person, outcome)
    if inpatient:
        world.beds.release()
    return step_end(outcome)


def _find_bed(world: World, person: Person, params: Detox) -> Generator[Wait, Any, bool]:
    """For the inpatient share, wait up to ``bed_wait_max_days`` for a bed; True if one
    was taken (it must be released at the end)."""
    if not (params.inpatient_beds > 0 and person.rng.random() < params.inpatient_share):
        return False
    beds = world.beds
    ev = beds.acquire()
    if ev is None:
        return True
    if params.bed_wait_max_days > 0:
        yield ev | timeout(world.env, params.bed_wait_max_days)
        if ev.triggered:
            return True
    beds.cancel(ev)
    return False
