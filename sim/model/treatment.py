"""A treatment episode once it has started: the walk through modalities, and the exit.

Each step is a stage of its own (:mod:`~sim.model.maintenance`, :mod:`~sim.model.detox`,
:mod:`~sim.model.rehab`); this module walks from one to the next until one ends the
episode, then sends the person where the exit reason leads.
"""

from __future__ import annotations

from typing import Final

from .detox import detox
from .hazards import draw_from
from .kernel import clock
from .maintenance import maintenance
from .outcomes import (
    COMPLETED,
    DETOX,
    DIED,
    DROPPED_OUT,
    FUNDED,
    HAT,
    LONG_ACTING,
    MAINTENANCE,
    OST,
    OST_LONG_ACTING,
    PLANNED_EXIT,
    REHAB,
    REHAB_FUNDED,
    TRANSFERRED,
    UNKNOWN_SOURCE,
    ExitTreatment,
    MoveTo,
)
from .people import AFTER_TREATMENT, COMMUNITY, CUSTODY, IN_TREATMENT, MOVED_AWAY, Person
from .records import Episode
from .rehab import rehab
from .steps import available, entry_modality, fallback
from .world import Stage, World

FORCED_BY: Final[dict[str, tuple[str, str]]] = {
    OST_LONG_ACTING: (OST, LONG_ACTING),
    REHAB_FUNDED: (REHAB, FUNDED),
}
"""Transition targets that are a modality with a choice already made: target ->
(modality, what is forced on it)."""


def treatment(world: World, person: Person, modality: str, elapsed_days: float) -> Stage:
    """Walk modalities from ``modality`` (``elapsed_days`` into it) until an exit; returns
    the state after treatment."""
    episode = person.episode
    assert episode is not None
    forced: str | None = None  # an OST formulation, or FUNDED for a rehab placement
    while True:
        episode.path.append(modality)
        if modality in MAINTENANCE:
            end = yield from maintenance(world, person, modality, elapsed_days, forced)
        elif modality == DETOX:
            end = yield from detox(world, person)
        else:
            end = yield from rehab(world, person, funded=forced == FUNDED)
        elapsed_days = 0.0
        forced = None
        if isinstance(end, MoveTo) and end.step == PLANNED_EXIT:  # a closure plan's exit
            end = ExitTreatment(COMPLETED)
        if isinstance(end, MoveTo):
            step = end.step
            if step in FORCED_BY:
                step, forced = FORCED_BY[step]
            modality = available(world, person, step)
            if modality != step:
                forced = None  # what was forced belongs to the modality that refused them
            continue
        if end.reason == TRANSFERRED and transfers_within(world, person):
            episode = transfer_within(world, person)
            modality = available(world, person, modality)  # with another provider
            continue
        return exit_treatment(world, person, end.reason)


def exit_treatment(world: World, person: Person, reason: str) -> int | None:
    """Close the episode for ``reason`` and return the state it leads to (``None`` when
    the person dies or moves away)."""
    now = clock(world.env)
    episode = person.episode
    assert episode is not None
    episode.exit_day = now
    if reason == DROPPED_OUT:
        reason = unplanned_kind(world)
    episode.exit_reason = reason
    world.keyworkers.release()
    world.leave_treatment(person)
    if "ost_setting" in person.attrs:
        person.set_attr("ost_setting", None)
        person.set_attr("ost_formulation", None)
    if reason == DIED:
        world.die(person, episode.path[-1] if episode.path else None)
        return None
    person.exit_day = now
    person.exit_route = episode.route
    if reason == COMPLETED:
        world.set_state(person, AFTER_TREATMENT)
        return AFTER_TREATMENT
    if reason == TRANSFERRED:
        if person.rng.random() < world.parameters.exits.transfer_custody_share:
            world.set_state(person, CUSTODY)
            return CUSTODY
        world.set_state(person, MOVED_AWAY)
        return None
    world.set_state(person, COMMUNITY)
    return COMMUNITY


def begin_treatment(world: World, person: Person) -> Stage:
    """The stage of a person who has just taken a keyworker place: their entry modality
    is drawn now and their treatment begins (returned, not run: the person's life runs
    it as its next stage)."""
    return treatment(world, person, entry_modality(world, person), 0.0)


def carried_in(world: World, person: Person, elapsed_days: float) -> Stage:
    """A person already in treatment on day 0, ``elapsed_days`` into their episode: their
    episode opened and their modality drawn now; returns their treatment (the stage
    their life runs first)."""
    world.open_episode(person, initial=True, source=UNKNOWN_SOURCE, referral_day=-elapsed_days,
                       previously_treated=True, triage_day=-elapsed_days,
                       start_day=-elapsed_days)
    world.mark_treated(person)
    person.state = IN_TREATMENT
    world.mark_using(person)
    world.keyworkers.force_acquire()
    world.mark_in_treatment(person)
    shares = world.parameters.entry[person.substance]  # type: ignore[index]
    modality = draw_from(shares, person.rng.random())
    if modality in (DETOX, REHAB):  # carried in part-way: on maintenance instead
        modality = fallback(person)
    if modality == HAT and not world.admit_to_hat(person):
        modality = OST
    return treatment(world, person, modality, elapsed_days)


def transfers_within(world: World, person: Person) -> bool:
    """Whether a transfer of ``person`` now goes to another provider in the area (one
    draw from the person's stream, only where the scenario gives a share)."""
    share = world.parameters.exits.transfer_within_share
    return share > 0 and person.rng.random() < share


def transfer_within(world: World, person: Person) -> Episode:
    """End the episode of ``person`` as transferred and start a new one today with another
    provider in the area (same modality, keyworker place kept); returns it."""
    now = clock(world.env)
    old = person.episode
    assert old is not None
    old.exit_day, old.exit_reason = now, TRANSFERRED
    episode = world.open_episode(person, initial=False, source=old.source, referral_day=now,
                                 previously_treated=True, start_day=now)
    episode.transfer_in = True
    return episode


def unplanned_kind(world: World) -> str:
    """How an unplanned exit now is recorded (``exits.unplanned``), drawn from a stream of
    its own (``world.exit_kinds``): no other draw moves."""
    shares = world.parameters.exits.unplanned
    if len(shares) == 1:
        return next(iter(shares))
    return draw_from(shares, world.exit_kinds.random())
