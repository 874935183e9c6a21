"""The model's vocabulary: modalities, review and step outcomes, exit and segment reasons.

These strings end up in the records (episode paths, exit reasons, segment end reasons)
and so in the output tables: they are named here once, and nothing else in the model
spells them out. :class:`ExitTreatment` and :class:`MoveTo` say how one step of a
treatment episode ended.
"""

from __future__ import annotations

from typing import Final, NamedTuple

# services a policy can close: the model tracks their occupants and moves them when one
# closes (named in sim.vocab, used here by that name)
from ..vocab import CLOSABLE as CLOSABLE
from ..vocab import UNPLANNED_EXITS, Modality

# ---------------------------------------------------------------- modalities (steps)
# typed with sim.vocab's Modality, so a type checker holds them to its words

OST: Final[Modality] = "ost"
PSYCHOSOCIAL: Final[Modality] = "psychosocial"
HAT: Final[Modality] = "hat"
DETOX: Final[Modality] = "detox"
DETOX_INPATIENT: Final = "detox_inpatient"
"""The inpatient part of a detox (a segment of its own, with its own cost)."""
REHAB: Final[Modality] = "rehab"

MAINTENANCE: Final = (OST, PSYCHOSOCIAL, HAT)
"""Modalities with 12-weekly reviews and a drop-out hazard."""
SEGMENT_MODALITIES: Final = (OST, PSYCHOSOCIAL, HAT, DETOX, DETOX_INPATIENT, REHAB)
"""Every modality a segment of treatment can be in (snapshots count each)."""

# ---------------------------------------------------------------- what a step can lead to

CONTINUE: Final = "continue"
"""Review outcome: stay in the modality until the next review."""
CONTINUOUS: Final = "continuous"
"""``planned_exit_timing`` that makes planned exits a hazard in continuous time."""
PLANNED_EXIT: Final = "planned_exit"
"""Review, detox or rehab outcome (and transition target): a planned exit."""
DROPOUT: Final = "dropout"
"""Detox or rehab outcome: leaves early, unplanned."""
OST_LONG_ACTING: Final = "ost_long_acting"
"""Transition target: OST with the long-acting injectable formulation."""
REHAB_FUNDED: Final = "rehab_funded"
"""Transition target: a rehab placement the closure plan has already paid for."""

LONG_ACTING: Final = "long_acting_injectable"
"""OST formulation forced by an ``ost_long_acting`` transition."""
FUNDED: Final = "funded"
"""Forced on a rehab step by a ``rehab_funded`` transition: the budget is not asked."""

# ---------------------------------------------------------------- episode exit reasons

COMPLETED: Final = "completed"
DROPPED_OUT: Final = "dropped_out"
TRANSFERRED: Final = "transferred"
DIED: Final = "died"
"""Exit reason, and the end reason of a segment cut short by death."""
TRIAGED_ONLY: Final = "triaged_only"
DIED_WAITING: Final = "died_waiting"
GAVE_UP_WAITING: Final = "gave_up_waiting"
CUSTODY_WAITING: Final = "custody_waiting"
"""Episode end: taken into custody while waiting for triage or a keyworker."""
UNPLANNED: Final = UNPLANNED_EXITS
"""Episode ends that are unplanned exits (see ``exits.unplanned``): the words are
``sim.vocab``'s, dropped out first."""
WITHDRAWN: Final = UNPLANNED[1]
DECLINED: Final = UNPLANNED[2]
assert UNPLANNED[0] == DROPPED_OUT
EXIT_REASONS: Final = (COMPLETED, DROPPED_OUT, WITHDRAWN, DECLINED, TRANSFERRED, DIED)
"""Ways of leaving treatment once started (the ``exits`` metric counts these)."""

# ---------------------------------------------------------------- segment end reasons

TRANSITION: Final = "transition"
"""A segment ended because its service closed (or stopped taking this person)."""
BED_AVAILABLE: Final = "bed_available"
"""A community detox segment ended because an inpatient bed was found."""
ONGOING: Final = "ongoing"
"""A segment still open at the end of the run."""
REHAB_REFUSED: Final = "rehab_refused"
"""Episode path step: rehab refused because the year's budget was spent."""

# ---------------------------------------------------------------- referral sources

SELF_REFERRAL: Final = "self"
"""Source of a relapse that comes straight back to treatment."""
UNKNOWN_SOURCE: Final = "unknown"
"""Source of the episodes of people already in treatment on day 0."""


class ExitTreatment(NamedTuple):
    """A step ended the episode; ``reason`` is its exit reason (:data:`COMPLETED`, ...)."""

    reason: str


class MoveTo(NamedTuple):
    """A step ended and treatment goes on in ``step``: a modality or a transition target."""

    step: str


StepEnd = ExitTreatment | MoveTo
"""How one step (modality) of an episode ended."""

EXIT_FOR: Final = {PLANNED_EXIT: COMPLETED, DROPOUT: DROPPED_OUT, DIED: DIED}
"""Detox and rehab outcomes that end the episode, and the exit reason each gives."""


def step_end(outcome: str) -> StepEnd:
    """The end of a detox or rehab step whose drawn outcome is ``outcome``."""
    reason = EXIT_FOR.get(outcome)
    return MoveTo(outcome) if reason is None else ExitTreatment(reason)
