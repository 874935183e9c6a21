"""Maintenance treatment: OST, psychosocial keyworking and HAT.

A stay has a review every 12 weeks (84 days, counted from the start of the stay). Within
each review interval, drop-out, planned exit (in continuous time), death and transfer
out compete: drop-out by a duration distribution's hazard scaled by attribute and
caseload multipliers, death with a raised hazard in the first days of OST, transfer as a
constant hazard. A review may move the person to another step. An interval also ends on
a policy date, where the rates are read again from the parameters then in force. The
caseload that scales an interval is the one at its start.

:class:`~sim.model.stay.Stay` runs this without an event at every review.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from .hazards import draw_from
from .kernel import Wait, timeout
from .outcomes import LONG_ACTING, OST, TRANSITION, MoveTo, StepEnd
from .people import Person
from .stay import Stay
from .steps import ServiceClosed, leave
from .world import World


def maintenance(world: World, person: Person, modality: str, elapsed_days: float,
                forced: str | None) -> Generator[Wait, Any, StepEnd]:
    """A stay in OST, psychosocial or HAT, ``elapsed_days`` into it (people carried in on
    day 0); ``forced`` is an OST formulation a transition chose. Returns how it ended."""
    _start_segment(world, person, modality, forced)
    stay = Stay(world, person, modality, elapsed_days)
    env = world.env
    try:
        wait = stay.plan()
        while True:
            try:
                yield timeout(env, wait)
            except simpy.Interrupt as stop:
                raise ServiceClosed(stop.cause) from None  # type: ignore[arg-type]
            end = stay.after_wait()
            if end is not None:
                return end
            wait = stay.next_wait()
    except ServiceClosed as closed:
        return leave(world, person, modality, MoveTo(closed.target), reason=TRANSITION)


def _start_segment(world: World, person: Person, modality: str, forced: str | None) -> None:
    """Draw the OST setting and formulation (unless ``forced``) and open the segment."""
    rng = person.rng
    spec = getattr(world.parameters.modalities, modality)
    gbp_per_day = getattr(spec, "cost_per_day_gbp", 0.0)
    if modality == OST:
        setting = draw_from(spec.setting, rng.random())
        formulation = forced or draw_from(spec.formulation, rng.random())
        person.set_attr("ost_setting", setting)
        person.set_attr("ost_formulation", formulation)
        episode = person.episode
        assert episode is not None
        episode.ost_setting, episode.ost_formulation = setting, formulation
        if formulation == LONG_ACTING:
            gbp_per_day = spec.long_acting_cost_per_day_gbp
    world.start_segment(person, modality, gbp_per_day)
