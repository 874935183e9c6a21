"""Scenario sections about time and people: the run settings, the population with its
attributes and community hazards, and referral."""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from ..vocab import AGE_BANDS, DAYS_PER_YEAR, SEXES, SUBSTANCES, Substance
from .bounds import (
    MAX_FOLLOW_UP_DAYS,
    MAX_PEOPLE,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_YEARS,
    Count,
    Date,
    Probability,
    StepDays,
)
from .fields import Duration, Rate, Strict, shares

__all__ = ["Attributes", "Community", "InitialPopulation", "Population", "PrisonRelease",
           "Referral", "RunSettings"]


class RunSettings(Strict):
    """How long to run and how many replications."""

    start_date: Date
    warmup_years: int = Field(default=2, ge=0, le=MAX_YEARS // 2)
    years: int = Field(default=5, ge=1, le=MAX_YEARS,
                       description="reporting years after the warm-up")
    follow_up_days: float = Field(
        default=183, ge=0, le=MAX_FOLLOW_UP_DAYS,
        description="days simulated after the last reporting year so that 6-month "
        "outcomes (re-presentation, deaths after exit) of its exits are observed",
    )
    replications: int = Field(default=10, ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(default=1, ge=0, le=MAX_SEED)

    @property
    def horizon_days(self) -> float:
        """Days from start to the end of the last reporting year."""
        return DAYS_PER_YEAR * (self.warmup_years + self.years)


class Attributes(Strict):
    """Shares of the attributes drawn for each new person."""

    substance: shares(SUBSTANCES, "substance group")
    sex: shares(SEXES, "sex")
    age_band: shares(AGE_BANDS, "age band")
    injecting: dict[Substance, Probability] = Field(
        description="probability of injecting, by substance group"
    )
    mental_health: Probability = Field(description="share with co-occurring mental-health need")
    housing_need: Probability = Field(description="share with acute housing need")

    @field_validator("injecting")
    @classmethod
    def _all_groups(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [s for s in SUBSTANCES if s not in v]
        if missing:
            raise ValueError(f"give a probability for every substance group; missing {missing}")
        return v


class InitialPopulation(Strict):
    """Who is there on the start date."""

    community: Count = Field(description="people using, not in treatment")
    previously_treated_share: Probability = Field(
        default=0.5, description="share of the community who have been in treatment before"
    )
    in_treatment: Count
    time_in_treatment: Duration = Field(
        description="days the initial treatment population has already been in treatment"
    )
    substance: shares(SUBSTANCES, "substance group") | None = Field(
        default=None,
        description="substance shares of the initial treatment population "
        "(default: population.attributes.substance)",
    )


class Community(Strict):
    """Hazards for people using drugs and not in treatment."""

    cessation: Rate = Field(default_factory=Rate, description="natural cessation")
    moving_away: Rate = Field(default_factory=Rate)
    custody: Rate = Field(default_factory=Rate, description="entering prison")
    custody_duration: Duration | None = Field(
        default=None, description="days in custody (needed when any custody rate is above 0)"
    )


class Population(Strict):
    """The population with problem drug use."""

    initial: InitialPopulation
    incidence_per_year: float = Field(ge=0, le=MAX_PEOPLE,
                                      description="new people starting problem use a year")
    attributes: Attributes
    community: Community = Field(default_factory=Community)


class PrisonRelease(Rate):
    """Referral on release from prison, active for ``window_days`` after release."""

    window_days: StepDays = 28.0


class Referral(Strict):
    """Referral hazards from the community, by source (per person-year)."""

    self_: Rate = Field(alias="self")
    gp: Rate
    criminal_justice: Rate
    prison_release: PrisonRelease = Field(default_factory=PrisonRelease)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              allow_inf_nan=False)
