"""Residential rehabilitation: a placement bought from the year's budget."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from ..vocab import WEEK_DAYS
from .hazards import INF, draw_from
from .kernel import Wait, clock, timeout
from .outcomes import (
    DIED,
    DROPOUT,
    REHAB,
    REHAB_REFUSED,
    TRANSITION,
    ExitTreatment,
    MoveTo,
    StepEnd,
    step_end,
)
from .people import Person
from .steps import fallback, leave
from .world import World


def rehab(world: World, person: Person, funded: bool) -> Generator[Wait, Any, StepEnd]:
    """A residential placement, priced at its drawn duration (days) and bought from the
    year's budget unless a closure plan has ``funded`` it; a refused placement moves the
    person to their maintenance route. Returns how the step ended."""
    rng = person.rng
    params = world.parameters.modalities.rehab
    duration = params.duration.sample(rng)
    cost_gbp = duration / WEEK_DAYS * params.price_per_week_gbp
    if not world.rehab_budget.fund(cost_gbp, force=funded):
        world.monitor.rehab_refusals.append(clock(world.env))
        episode = person.episode
        assert episode is not None
        episode.path[-1] = REHAB_REFUSED
        return MoveTo(fallback(person))
    world.enter_rehab(person)
    world.start_segment(person, REHAB, params.price_per_week_gbp / WEEK_DAYS)
    outcome = draw_from(params.outcome, rng.random())
    if outcome == DROPOUT:
        duration *= rng.random()
    death_rate = world.death_rate(person,
                                  world.parameters.mortality.in_treatment.get(REHAB, 0.0))
    t_death = rng.expovariate(death_rate) if death_rate > 0 else INF
    try:
        if t_death < duration:
            yield timeout(world.env, t_death)
            return leave(world, person, REHAB, ExitTreatment(DIED))
        yield timeout(world.env, duration)
    except simpy.Interrupt as closed:
        return leave(world, person, REHAB, MoveTo(closed.cause),  # type: ignore[arg-type]
                     reason=TRANSITION)
    return leave(world, person, REHAB, step_end(outcome))
