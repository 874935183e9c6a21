"""The vocabulary of the domain: substance groups, modalities, referral sources, the
levels of each attribute, the services costs are booked to, and the lengths of a model
year and of a review.

Each word list is written once, as a ``Literal`` type (for pydantic models and type
checkers) with the tuple of its values beside it (``SUBSTANCES = get_args(Substance)``);
everything else imports them from here.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "AGE_BANDS",
    "ATTRIBUTE_LEVELS",
    "BOOLEAN_LEVELS",
    "CLOSABLE",
    "COST_SERVICES",
    "DAYS_PER_YEAR",
    "DETOX_OUTCOMES",
    "MODALITIES",
    "OCU",
    "OPIATE",
    "OST_FORMULATIONS",
    "OST_SETTINGS",
    "REHAB_OUTCOMES",
    "REVIEW_DAYS",
    "REVIEW_OUTCOMES",
    "SEXES",
    "SOURCES",
    "SUBSTANCES",
    "TRANSITION_TARGETS",
    "AgeBand",
    "Closable",
    "DEATH_PLACES",
    "DeathPlace",
    "EXIT_ROUTES",
    "UNPLANNED_EXITS",
    "ExitRoute",
    "Modality",
    "OstFormulation",
    "OstSetting",
    "Sex",
    "Source",
    "Substance",
]

# --------------------------------------------------------------------------- time

DAYS_PER_YEAR: Final = 365.0
"""Days in a model year (years are counted from the scenario's start date)."""
REVIEW_DAYS: Final = 84.0
"""Days between Treatment Outcomes Profile reviews: 12 weeks."""
WEEK_DAYS: Final = 7.0
"""Days in a week (weekly capacities and prices)."""

# --------------------------------------------------------------------------- people

Substance = Literal["opiate", "opiate_crack", "crack", "non_opiate"]
"""A substance group, as NDTMS groups them."""
SUBSTANCES: tuple[Substance, ...] = get_args(Substance)
OPIATE: tuple[Substance, ...] = ("opiate", "opiate_crack")
"""Substance groups that use opiates."""
OCU: tuple[Substance, ...] = ("opiate", "opiate_crack", "crack")
"""Opiate and/or crack users (OCU), the group most prevalence estimates count."""

Sex = Literal["male", "female"]
SEXES: tuple[Sex, ...] = get_args(Sex)
AgeBand = Literal["18-29", "30-49", "50+"]
"""An age band, in years."""
AGE_BANDS: tuple[AgeBand, ...] = get_args(AgeBand)
BOOLEAN_LEVELS = ("true", "false")
"""The levels of a yes/no attribute (injecting, mental_health, ...), as text."""

Source = Literal["self", "gp", "criminal_justice", "prison_release"]
"""A referral source."""
SOURCES: tuple[Source, ...] = get_args(Source)

# --------------------------------------------------------------------------- treatment

Modality = Literal["ost", "psychosocial", "hat", "detox", "rehab"]
"""A treatment modality a person can be in (one at a time)."""
MODALITIES: tuple[Modality, ...] = get_args(Modality)
OstSetting = Literal["specialist", "gp_shared_care"]
OST_SETTINGS: tuple[OstSetting, ...] = get_args(OstSetting)
OstFormulation = Literal["oral", "long_acting_injectable"]
OST_FORMULATIONS: tuple[OstFormulation, ...] = get_args(OstFormulation)
Closable = Literal["hat", "rehab"]
"""A service a policy can close or open."""
CLOSABLE: tuple[Closable, ...] = get_args(Closable)

ExitRoute = Literal["ost", "hat", "psychosocial", "detox_inpatient", "detox_community",
                   "rehab"]
"""How a planned exit happened: the modality left (detox split by setting)."""
EXIT_ROUTES: tuple[ExitRoute, ...] = get_args(ExitRoute)

DeathPlace = Literal["community", "waiting", "in_treatment", "after_exit", "after_release",
                    "after_treatment", "custody"]
"""Where a death happens, for its cause: using in the community, waiting for treatment, in
treatment, in the weeks after leaving treatment or custody (the windows), after treatment
or in recovery, in custody."""
DEATH_PLACES: tuple[DeathPlace, ...] = get_args(DeathPlace)

UNPLANNED_EXITS = ("dropped_out", "withdrawn", "declined")
"""How an unplanned exit is recorded (NDTMS): the client dropped out or left, treatment was
withdrawn by the provider, or declined by the client."""

REVIEW_OUTCOMES = ("continue", "planned_exit", *MODALITIES)
"""What can happen at a review: stay, leave as planned or move to a modality."""
DETOX_OUTCOMES = ("planned_exit", "dropout", "ost", "psychosocial", "rehab")
"""Where a detox ends."""
REHAB_OUTCOMES = ("planned_exit", "dropout", "ost", "psychosocial")
"""Where a rehab placement ends."""
TRANSITION_TARGETS = ("ost", "ost_long_acting", "psychosocial", "detox", "rehab",
                      "planned_exit")
"""Where the patients of a closing service can be moved."""

ATTRIBUTE_LEVELS: dict[str, tuple[str, ...]] = {
    "substance": SUBSTANCES,
    "sex": SEXES,
    "age_band": AGE_BANDS,
    "injecting": BOOLEAN_LEVELS,
    "mental_health": BOOLEAN_LEVELS,
    "housing_need": BOOLEAN_LEVELS,
    "previously_treated": BOOLEAN_LEVELS,
    "source": SOURCES,
    "ost_setting": OST_SETTINGS,
    "ost_formulation": OST_FORMULATIONS,
}
"""Attributes a parameter may depend on (through ``multipliers``), with their levels."""

# --------------------------------------------------------------------------- money

COST_SERVICES = (
    "keyworkers", "triage", "ost", "psychosocial", "hat_fixed", "hat_medicine", "detox",
    "detox_inpatient", "rehab", "other",
)
"""The services costs are booked to (``cost_<service>_gbp``)."""
