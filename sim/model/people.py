"""The simulated person: attributes drawn at entry, and where they are now.

A person's life is a generator driven through SimPy's queue (see :mod:`sim.model.model`);
this module holds the data it carries. Attributes are stored as strings so that the YAML
``multipliers`` tables (``{injecting: {true: 1.5}}``) can look them up directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .draws import PersonStream
from .hazards import draw_from, multiplier
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


class Profiles:
    """The attribute profiles of one world: a number for each (people with the same
    attribute levels share one) and, for each, the multipliers of the tables looked up
    so far (shared by everyone with that profile, so nobody keeps a cache of their own)."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str | None, ...], int] = {}
        self.factors: list[dict[int, float]] = []
        """By profile number: id(multiplier table) -> its factor for that profile."""

    def number(self, person: Person) -> int:
        """The number of ``person``'s profile (a new one for levels not seen before)."""
        key = person.profile_key()
        number = self.numbers.get(key)
        if number is None:
            number = self.numbers[key] = len(self.factors)
            self.factors.append({})
        return number

    def forget_factors(self) -> None:
        """Forget every multiplier looked up (the parameters in force changed)."""
        for factors in self.factors:
            factors.clear()


class Person:
    """One person with problem drug use.

    :param pid: the person's id (0, 1, ... in order of entry).
    :param rng: the person's own random stream.
    :param attrs: attribute name -> level (strings), ``substance`` among them.
    :param profiles: the world's attribute profiles (a new set when not given).
    """

    __slots__ = (
        "pid", "rng", "attrs", "substance", "state", "exit_day", "exit_route", "release_day",
        "episodes", "episode", "modality", "segment_start", "segment_gbp_per_day", "process",
        "treatment_from", "treatment_to", "using_from", "using_to", "ever_treated", "using",
        "in_treatment", "profiles", "profile", "factors",
    )

    def __init__(self, pid: int, rng: PersonStream, attrs: dict[str, str],
                 profiles: Profiles | None = None) -> None:
        self.pid = pid
        self.rng = rng
        self.attrs = attrs
        # the substance (never changes) is read at most changes of state: a field of the
        # person, not a look-up in the dictionary, which is two more objects to fetch
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
        self.process: Any = None
        # model years (see World.new_year) in which their last stay in treatment (using)
        # began and ended; -1 for never
        self.treatment_from = self.treatment_to = -1
        self.using_from = self.using_to = -1
        self.ever_treated = False
        self.using = False  # counted among those using now (World.mark_using)
        self.in_treatment = False  # counted among those in treatment now
        self.profiles = Profiles() if profiles is None else profiles
        self.profile = -1  # the number of these attributes' profile (-1: not looked up yet)
        self.factors: dict[int, float] | None = None  # that profile's multipliers

    def set_attr(self, name: str, level: str | None) -> None:
        """Change one of the :data:`DYNAMIC_ATTRIBUTES` (``None`` removes it)."""
        if name not in DYNAMIC_ATTRIBUTES:
            raise ValueError(f"{name!r} is not an attribute that changes during a life")
        if self.attrs.get(name) == level:
            return
        self.profile = -1
        self.factors = None
        if level is None:
            self.attrs.pop(name, None)
        else:
            self.attrs[name] = level

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
            factors = self.factors = self.profiles.factors[self.profile_number()]
        key = id(table)
        value = factors.get(key)
        if value is None:
            value = factors[key] = multiplier(table, self.attrs)
        return value

    def profile_number(self) -> int:
        """The number of the person's attribute profile (see :class:`Profiles`)."""
        profile = self.profile
        if profile < 0:
            profile = self.profile = self.profiles.number(self)
        return profile

    def profile_key(self) -> tuple[str | None, ...]:
        """The person's attribute levels in the order of :data:`ATTRIBUTE_NAMES` (``None``
        for one they do not have): equal for people with equal attributes."""
        attrs = self.attrs
        return tuple([attrs.get(name) for name in ATTRIBUTE_NAMES])

    def retire(self) -> None:
        """Free what a person whose life in the model has ended (dead or moved away) no
        longer needs: their random stream and process. Their records stay."""
        self.rng = None  # type: ignore[assignment]
        self.factors = None
        self.process = None


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
