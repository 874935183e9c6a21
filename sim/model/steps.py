"""What the treatment stages share: where a person can go next, and leaving a modality.

A treatment episode is a walk through steps (modalities). Each stage ends its step with
an :class:`~sim.model.outcomes.ExitTreatment` or a :class:`~sim.model.outcomes.MoveTo`;
the functions here decide which modality a person can actually enter and close the step
they leave.
"""

from __future__ import annotations

from ..vocab import OPIATE
from .hazards import draw_from
from .outcomes import HAT, OST, PSYCHOSOCIAL, REHAB, ExitTreatment, StepEnd
from .people import Person
from .world import World


class ServiceClosed(Exception):
    """Raised inside a person's treatment when their service closes (or stops taking
    them); ``target`` is the step they move to."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def fallback(person: Person) -> str:
    """The maintenance route for ``person``: OST for opiate users, else psychosocial."""
    return OST if person.substance in OPIATE else PSYCHOSOCIAL


def available(world: World, person: Person, modality: str) -> str:
    """``modality`` if it can take the person now, else the fallback maintenance route.

    HAT needs an open clinic with a free place (taken here); rehab needs the service open.
    The rehab budget is checked when the placement is priced, in
    :func:`sim.model.rehab.rehab` (a closure plan's placements are funded already).
    """
    if modality == HAT and not world.admit_to_hat(person):
        return fallback(person)
    if modality == REHAB and not world.parameters.modalities.rehab.open:
        return fallback(person)
    return modality


def entry_modality(world: World, person: Person) -> str:
    """Draw the first modality of a new treatment start (one uniform draw)."""
    shares = world.parameters.entry[person.substance]  # type: ignore[index]
    return available(world, person, draw_from(shares, person.rng.random()))


def leave(world: World, person: Person, modality: str, end: StepEnd,
          reason: str | None = None) -> StepEnd:
    """End the current segment of ``modality`` (for ``reason``, by default the exit reason
    or the next step) and hand back its place; returns ``end``."""
    if reason is None:
        reason = end.reason if isinstance(end, ExitTreatment) else end.step
    world.end_segment(person, reason)
    world.release_place(person, modality)
    return end
