"""The simulated person: attributes drawn at entry, and where they are now.

A person is a :class:`~sim.model.kernel.Life`: the event loop resumes the person's own
generator (made in :mod:`sim.model.model`) through the person; this module holds the data
a person carries. Attribute levels are strings so that the YAML
``multipliers`` tables (``{injecting: {true: 1.5}}``) can look them up directly; a person
holds the number of their attribute profile (:class:`Profiles`), shared with everyone
who has the same levels, rather than levels of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from .draws import PersonStream
from .hazards import draw_from, multiplier
from .kernel import Env, Life
from .records import Episode

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario import Attributes

COMMUNITY: Final = 0
TRIAGE_WAIT: Final = 1
KEYWORKER_WAIT: Final = 2
IN_TREATMENT: Final = 3
AFTER_TREATMENT: Final = 4
CUSTODY: Final = 5
RECOVERED: Final = 6
DEAD: Final = 7
MOVED_AWAY: Final = 8

STATE_NAMES: Final = (
    "community",
    "triage_wait",
    "keyworker_wait",
    "in_treatment",
    "after_treatment",
    "custody",
    "recovered",
    "dead",
    "moved_away",
)
"""Where a person can be. Every person is in exactly one of these at every moment."""

DYNAMIC_ATTRIBUTES: Final = frozenset({"previously_treated", "source", "ost_setting",
                                "ost_formulation"})
"""Attributes that change during a life (the only ones :meth:`Person.set_attr` may set)."""

ATTRIBUTE_NAMES: Final = ("substance", "sex", "age_band", "injecting", "mental_health",
                   "housing_need", "previously_treated", "source", "ost_setting",
                   "ost_formulation")
"""Every attribute a person can have (those drawn at entry, then the dynamic ones without
``previously_treated``, which is drawn too): the order of a profile's key."""


USING_STATES: Final = frozenset({COMMUNITY, TRIAGE_WAIT, KEYWORKER_WAIT, IN_TREATMENT})
"""States counted in the prevalence of problem drug use."""

ABSORBING: Final = frozenset({DEAD, MOVED_AWAY})
"""States nobody leaves."""


Levels = tuple[str | None, ...]
"""A person's attribute levels in the order of :data:`ATTRIBUTE_NAMES` (``None`` for one
they do not have): their attribute profile."""

ATTRIBUTE_INDEX: Final = {name: i for i, name in enumerate(ATTRIBUTE_NAMES)}
"""Where each attribute's level is in :data:`Levels`."""


class Profiles:
    """The attribute profiles of one world, numbered in the order first seen: for each,
    its levels (as a tuple and by name) and the multipliers of the tables looked up so
    far. People with the same levels share one profile, so a person keeps only its
    number, and what every event reads of attributes is shared by all who have them."""

    def __init__(self) -> None:
        self.numbers: dict[Levels, int] = {}
        self.levels: list[Levels] = []
        """By profile number: its levels."""
        self.attrs: list[dict[str, str]] = []
        """By profile number: attribute name -> level, for those it has (never changed)."""
        self.factors: list[dict[int, float]] = []
        """By profile number: id(multiplier table) -> its factor for that profile."""
        self.moves: list[dict[str, dict[str | None, int]]] = []
        """By profile number: attribute name -> new level -> the profile it leads to."""

    def number(self, levels: Levels) -> int:
        """The number of the profile with ``levels`` (a new one for levels not seen)."""
        number = self.numbers.get(levels)
        if number is None:
            number = self.numbers[levels] = len(self.levels)
            self.levels.append(levels)
            self.attrs.append({name: level
                               for name, level in zip(ATTRIBUTE_NAMES, levels, strict=True)
                               if level is not None})
            self.factors.append({})
            self.moves.append({})
        return number

    def move(self, number: int, name: str, level: str | None) -> int:
        """The number of profile ``number`` with attribute ``name`` set to ``level``
        (``None``: without it); kept, so that a change seen before is three look-ups."""
        moves = self.moves[number]
        by_level = moves.get(name)
        if by_level is None:
            by_level = moves[name] = {}
        to = by_level.get(level)
        if to is None:
            levels = self.levels[number]
            at = ATTRIBUTE_INDEX[name]
            to = number if levels[at] == level else \
                self.number(levels[:at] + (level,) + levels[at + 1:])
            by_level[level] = to
        return to

    def forget_factors(self) -> None:
        """Forget every multiplier looked up (the parameters in force changed)."""
        for factors in self.factors:
            factors.clear()


class Person(Life):
    """One person with problem drug use, and their life in the model (a
    :class:`~sim.model.kernel.Life` whose generator is given when it starts:
    :meth:`~sim.model.kernel.Life.start_now`).

    :param pid: the person's id (0, 1, ... in order of entry).
    :param rng: the person's own random stream.
    :param attrs: attribute name -> level (strings), ``substance`` among them; names not
        in :data:`ATTRIBUTE_NAMES` are refused.
    :param profiles: the world's attribute profiles (a new set when not given).
    :param env: the environment their life runs in (``None``: a person who never lives).
    """

    __slots__ = (
        "pid", "rng", "substance", "state", "exit_day", "exit_route", "release_day",
        "episodes", "episode", "modality", "segment_start", "segment_gbp_per_day",
        "treatment_from", "treatment_to", "using_from", "using_to", "ever_treated", "using",
        "in_treatment", "profiles", "profile", "factors",
    )

    def __init__(self, pid: int, rng: PersonStream, attrs: dict[str, str],
                 profiles: Profiles | None = None, env: Env | None = None) -> None:
        for name in attrs:
            if name not in ATTRIBUTE_INDEX:
                raise ValueError(f"{name!r} is not an attribute a person can have")
        super().__init__(env)
        self.pid = pid
        self.rng = rng
        # the substance (never changes) is read at most changes of state: a field of the
        # person, not a look-up in their profile
        self.substance = attrs["substance"]
        self.state = COMMUNITY
        self.exit_day: float | None = None  # day of the last exit from treatment
        self.exit_route: str | None = None  # how that exit came (Episode.route)
        self.release_day: float | None = None  # day of the last release from custody
        self.episodes = 0
        self.episode: Episode | None = None
        self.modality: str | None = None
        self.segment_start = 0.0  # day the current modality segment started
        self.segment_gbp_per_day = 0.0  # cost per day of the current modality segment
        # model years (see World.new_year) in which their last stay in treatment (using)
        # began and ended; -1 for never
        self.treatment_from = self.treatment_to = -1
        self.using_from = self.using_to = -1
        self.ever_treated = False
        self.using = False  # counted among those using now (World.mark_using)
        self.in_treatment = False  # counted among those in treatment now
        self.profiles = Profiles() if profiles is None else profiles
        # the number of the person's attribute profile, and its multipliers (None: retired)
        self.profile = self.profiles.number(tuple([attrs.get(name)
                                                   for name in ATTRIBUTE_NAMES]))
        self.factors: dict[int, float] | None = self.profiles.factors[self.profile]

    @property
    def attrs(self) -> Mapping[str, str]:
        """Attribute name -> level, for the attributes the person has (their profile's,
        shared: read only)."""
        return self.profiles.attrs[self.profile]

    def set_attr(self, name: str, level: str | None) -> None:
        """Change one of the :data:`DYNAMIC_ATTRIBUTES` (``None`` removes it)."""
        if name not in DYNAMIC_ATTRIBUTES:
            raise ValueError(f"{name!r} is not an attribute that changes during a life")
        profiles = self.profiles
        profile = profiles.move(self.profile, name, level)
        if profile != self.profile:
            self.profile = profile
            self.factors = profiles.factors[profile]

    def factor(self, table: dict[str, dict[str, float]]) -> float:
        """This person's multiplier from ``table`` (no unit; 1 for an empty table).

        Kept, by table identity, for everyone with the person's profile (all their
        attributes, so a table on one that changes is looked up again after
        :meth:`set_attr`), until the parameters in force change.
        """
        if not table:
            return 1.0
        factors = self.factors
        if factors is None:
            factors = self.factors = self.profiles.factors[self.profile]
        key = id(table)
        value = factors.get(key)
        if value is None:
            value = factors[key] = multiplier(table, self.profiles.attrs[self.profile])
        return value

    def warm_fields(self) -> float:
        """Read the person's fields from each part of the object that their next event
        reads, so that the loop can fetch them from memory ahead of it, beside other
        people's (:meth:`~sim.model.timers.Calendar.warm_ahead`); the number means nothing."""
        return self.segment_start + self.using_to + self.profile

    def warm_objects(self) -> float:
        """Read the person's stream and episode, which their next event reads, ahead of
        it (see :meth:`warm_fields`); the number means nothing."""
        total = 0.0
        rng = self.rng
        if rng is not None:
            total += rng.s10 + rng.s22
        episode = self.episode
        if episode is not None:
            total += episode.referral_day
        return total

    def profile_key(self) -> Levels:
        """The person's attribute levels (see :data:`Levels`): equal for people with
        equal attributes."""
        return self.profiles.levels[self.profile]

    def retire(self) -> None:
        """Free what a person whose life in the model has ended (dead or moved away) no
        longer needs: their random stream (their generator goes when it yields
        :data:`~sim.model.kernel.OVER`). Their records stay."""
        self.rng = None  # type: ignore[assignment]
        self.factors = None


def draw_attributes(rng: PersonStream, attributes: Attributes,
                    substance_shares: Mapping[str, float] | None = None) -> dict[str, str]:
    """A new person's attributes, drawn from ``rng`` in a fixed order.

    :param attributes: the population's attribute shares.
    :param substance_shares: substance shares to use instead of the population's.
    """
    rnd = rng.random
    substance = draw_from(substance_shares or attributes.substance, rnd())
    return {
        "substance": substance,
        "sex": draw_from(attributes.sex, rnd()),
        "age_band": draw_from(attributes.age_band, rnd()),
        "injecting": "true" if rnd() < attributes.injecting[substance] else "false",  # type: ignore[index]
        "mental_health": "true" if rnd() < attributes.mental_health else "false",
        "housing_need": "true" if rnd() < attributes.housing_need else "false",
        "previously_treated": "false",
    }
