"""A person's death hazard through the windows after leaving treatment or custody.

For the substance groups they apply to, the weeks after a planned or unplanned exit from
treatment, and after release from custody, carry death rates of their own (opioid
tolerance lost). These functions read a person's exit and release days against the
mortality parameters in force: the rate now and until when, the time until a drawn
amount of hazard is used up, and where a death happens. Nothing here draws a random
number or changes the person. Times are days; rates are deaths per 100 person-years
unless a name says per day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .hazards import EPS, INF, death_rate_per_day, post_exit_rate
from .people import COMMUNITY, CUSTODY, IN_TREATMENT, KEYWORKER_WAIT, TRIAGE_WAIT, Person

if TYPE_CHECKING:  # pragma: no cover
    from ..scenario.models_services import Mortality

PLACE_OF_STATE: Final = {IN_TREATMENT: "in_treatment", CUSTODY: "custody", TRIAGE_WAIT: "waiting",
                  KEYWORKER_WAIT: "waiting"}
"""States whose deaths have one place, whatever the windows (see :func:`death_place`)."""


def window_rate(mortality: Mortality, person: Person, now: float,
                base: float) -> tuple[float, float]:
    """(per-100-person-year death rate, day it stops applying) in the weeks after
    leaving treatment or custody, for the substance groups the windows apply to, the
    after-exit rate scaled by the exit route's multiplier; ``base`` outside every
    window. In two windows at once, the higher rate applies."""
    if person.substance not in mortality.after_exit_substances:
        return base, INF
    rate, until = post_exit_rate(mortality.after_exit, person.exit_day, now, base)
    if until < INF and person.exit_route in mortality.after_exit_multipliers:
        rate *= mortality.after_exit_multipliers[person.exit_route]  # type: ignore[index]
    if mortality.after_release and person.release_day is not None:
        released, end = post_exit_rate(mortality.after_release, person.release_day, now, base)
        if end < INF and (until == INF or released > rate):
            rate = released
        until = min(until, end)
    return rate, until


def death_delay(mortality: Mortality, person: Person, now: float, base: float, stop: float,
                unit: float) -> float:
    """Days from ``now`` until ``unit`` (a unit-exponential draw) of death hazard is used,
    the rate following the post-exit and post-release windows (``base`` deaths per 100
    person-years outside them): one draw however many windows end on the way; ``inf`` if
    not before ``stop`` (a day)."""
    factor = person.factor(mortality.multipliers)
    windows = (person.exit_day is not None or person.release_day is not None) and \
        person.substance in mortality.after_exit_substances
    if not windows:  # one rate all the way to ``stop``
        hazard = death_rate_per_day(base, factor)
        if hazard > 0 and unit < hazard * (stop - now):
            return unit / hazard
        return INF
    t = now
    while t < stop:
        rate, until = window_rate(mortality, person, t, base)
        hazard = death_rate_per_day(rate, factor)
        end = min(until, stop)
        if hazard > 0:
            used = hazard * (end - t)
            if unit < used:
                return t - now + unit / hazard
            unit -= used
        t = end
    return INF


def death_place(mortality: Mortality, person: Person, now: float) -> str:
    """Where a death of ``person`` on day ``now`` happens, for its cause: the state, or
    the post-release or post-exit window the person is in (opioid tolerance lost)."""
    state = person.state
    if state in PLACE_OF_STATE:
        return PLACE_OF_STATE[state]
    if person.substance in mortality.after_exit_substances:
        for day, windows, place in ((person.release_day, mortality.after_release,
                                     "after_release"),
                                    (person.exit_day, mortality.after_exit, "after_exit")):
            if day is not None and windows and now - day < windows[-1].until_day - EPS:
                return place
    return "community" if state == COMMUNITY else "after_treatment"
