"""Scenario sections about services and outcomes: triage, keyworkers, each treatment
modality, exits, mortality and relapse."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..vocab import (
    DETOX_OUTCOMES,
    OST_FORMULATIONS,
    OST_SETTINGS,
    REHAB_OUTCOMES,
    REVIEW_OUTCOMES,
    SUBSTANCES,
    UNPLANNED_EXITS,
    DeathPlace,
    ExitRoute,
    Modality,
    Substance,
)
from .bounds import (
    MAX_DAYS,
    MAX_FACTOR,
    MAX_GBP,
    MAX_PEOPLE,
    Count,
    Days,
    Factor,
    Money,
    Per100PY,
    Probability,
    StepDays,
)
from .fields import (
    DeathRate,
    DeathWindow,
    Duration,
    Multipliers,
    Rate,
    Strict,
    never_lasts,
    shares,
)

__all__ = ["HAT", "OST", "Detox", "Exits", "Keyworkers", "Modalities", "Mortality",
           "Pressure", "Psychosocial", "Rehab", "Relapse", "Review", "RouteRelapse", "Triage"]


class Triage(Strict):
    """Assessment of everyone referred."""

    capacity_per_week: int | None = Field(
        default=None, ge=1, le=MAX_PEOPLE, description="assessments a week; none means no limit"
    )
    triaged_only: Probability = Field(description="share assessed who do not start treatment")
    cost_per_assessment_gbp: Money = 0.0
    waiting_risks: bool = Field(
        default=False,
        description="when true, death and custody at the community rates compete with the "
        "wait for triage, and custody also with the wait for a keyworker (death and giving "
        "up always compete with that wait)",
    )


class Pressure(Strict):
    """How caseload per keyworker scales drop-out and completion (interpolated)."""

    caseload: list[Annotated[float, Field(gt=0, le=MAX_PEOPLE)]] = Field(
        default_factory=lambda: [40.0], min_length=1, max_length=100)
    dropout_multiplier: list[Factor] = Field(default_factory=lambda: [1.0], min_length=1,
                                             max_length=100)
    completion_multiplier: list[Factor] = Field(default_factory=lambda: [1.0], min_length=1,
                                                max_length=100)

    @model_validator(mode="after")
    def _aligned(self) -> Pressure:
        n = len(self.caseload)
        if len(self.dropout_multiplier) != n or len(self.completion_multiplier) != n:
            raise ValueError(
                "caseload, dropout_multiplier and completion_multiplier must have the same length"
            )
        if any(b <= a for a, b in zip(self.caseload, self.caseload[1:], strict=False)):
            raise ValueError("caseload points must be strictly increasing")
        return self


class Keyworkers(Strict):
    """Keyworkers: every person in treatment holds a place on a caseload."""

    mode: Literal["queue", "pressure"]
    staff: float = Field(gt=0, le=1e6, description="keyworkers (full-time equivalents)")
    caseload_cap: int = Field(default=40, ge=1, le=10_000,
                              description="places per keyworker in queue mode")
    pressure: Pressure = Field(default_factory=Pressure)
    waiting_abandonment: Rate = Field(
        default_factory=Rate, description="hazard of giving up while waiting for a place"
    )
    cost_per_worker_per_year_gbp: Money = 0.0


class Review(Strict):
    """What happens at each 12-weekly review; ``continue`` absorbs any rescaling."""

    probabilities: shares(REVIEW_OUTCOMES, "review outcome")
    planned_exit_multipliers: Multipliers = Field(default_factory=dict)
    planned_exit_by_review: list[Annotated[float, Field(ge=0, le=MAX_FACTOR)]] = Field(
        default_factory=list, max_length=1_000,
        description="multipliers of the planned-exit share at the 1st, 2nd, ... review of "
        "a stay in this modality; reviews after the list use the share as given",
    )
    planned_exit_timing: Literal["at_review", "continuous"] = Field(
        default="at_review",
        description="at_review: planned exits happen only at reviews, with the planned-exit "
        "share as a probability; continuous: at any time, at the hazard that gives the same "
        "share over a review interval (the multipliers re-read at each review)",
    )


class OST(Strict):
    """Opioid substitution treatment."""

    setting: shares(OST_SETTINGS, "OST setting")
    formulation: shares(OST_FORMULATIONS, "OST formulation")
    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: Money = 0.0
    long_acting_cost_per_day_gbp: Money = 0.0


class Psychosocial(Strict):
    """Structured keyworking without prescribing."""

    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    cost_per_day_gbp: Money = 0.0


class HAT(Strict):
    """Heroin/diamorphine-assisted treatment clinic."""

    open: bool = True
    places: Count = 0
    dropout: Duration
    dropout_multipliers: Multipliers = Field(default_factory=dict)
    review: Review
    fixed_cost_per_year_gbp: Money = 0.0
    medicine_cost_per_place_per_day_gbp: Money = 0.0
    medicine_block_days: float = Field(
        default=182.0, ge=1, le=MAX_DAYS,
        description="medicine is bought for every place in blocks of this length (at least "
        "a day: a block is an event of the run)"
    )


class Detox(Strict):
    """Community and inpatient detoxification."""

    inpatient_share: Probability = 0.0
    inpatient_beds: Count = 0
    bed_wait_max_days: Days = Field(
        default=28.0, description="days to wait for a bed before detoxing in the community"
    )
    community_duration: Duration
    inpatient_duration: Duration
    community_outcome: shares(DETOX_OUTCOMES, "detox outcome")
    inpatient_outcome: shares(DETOX_OUTCOMES, "detox outcome")
    community_cost_per_day_gbp: Money = 0.0
    inpatient_cost_per_day_gbp: Money = 0.0


class Rehab(Strict):
    """Residential rehabilitation placements bought from an annual budget."""

    open: bool = True
    budget_per_year_gbp: Money = Field(description="resets each financial year (1 April)")
    price_per_week_gbp: float = Field(ge=0.01, le=MAX_GBP)
    duration: Duration
    outcome: shares(REHAB_OUTCOMES, "rehab outcome")


class Modalities(Strict):
    """Every treatment modality."""

    ost: OST
    psychosocial: Psychosocial
    hat: HAT
    detox: Detox
    rehab: Rehab


class Exits(Strict):
    """Transfers out of treatment, and how unplanned exits are recorded."""

    transfer: Rate = Field(default_factory=Rate)
    transfer_custody_share: Probability = Field(
        default=0.5, description="share of transfers that are into custody (the rest move away)"
    )
    transfer_within_share: Probability = Field(
        default=0.0,
        description="share of transfers that go to another provider in the area, with "
        "continuity: the episode ends 'transferred' and a new one starts the same day in the "
        "same modality, keeping the keyworker place (transfer_custody_share splits the rest)",
    )
    unplanned: shares(UNPLANNED_EXITS, "unplanned exit") = Field(
        default_factory=lambda: {"dropped_out": 1.0},
        description="how unplanned exits (drop-outs) are recorded: dropped_out, withdrawn "
        "(by the provider) or declined (by the client); the person returns to the "
        "community whichever it is",
    )


class Mortality(Strict):
    """Deaths per 100 person-years, by where the person is."""

    community: DeathRate = Field(default_factory=DeathRate)
    in_treatment: dict[Modality, Per100PY] = (
        Field(default_factory=dict, description="per 100 person-years, by modality")
    )
    ost_induction: DeathRate = Field(default_factory=DeathRate)
    ost_induction_days: Days = 14.0
    after_exit: list[DeathWindow] = Field(
        default_factory=list, max_length=100,
        description="raised mortality in the weeks after leaving treatment",
    )
    after_treatment: DeathRate = Field(
        default_factory=DeathRate, description="people not using (after treatment or recovered)"
    )
    after_exit_multipliers: dict[ExitRoute, Factor] = Field(
        default_factory=dict,
        description="multiplier of the after_exit rates by how treatment ended (ost, hat, "
        "psychosocial, detox_inpatient, detox_community, rehab; planned or not): tolerance "
        "lost in detox or rehab raises the risk above that after leaving OST",
    )
    after_exit_substances: list[Substance] = Field(
        default_factory=lambda: list(SUBSTANCES), max_length=len(SUBSTANCES),
        description="substance groups the after-exit windows apply to (loss of opioid "
        "tolerance concerns opioid users); others keep their usual rate",
    )
    custody: DeathRate = Field(default_factory=DeathRate, description="while in custody")
    after_release: list[DeathWindow] = Field(
        default_factory=list, max_length=100,
        description="raised mortality in the weeks after release from custody, for the "
        "substance groups in after_exit_substances",
    )
    drug_related_share: dict[DeathPlace, Probability] = Field(
        default_factory=dict,
        description="share of deaths that are drug-related (the ONS definition: drug "
        "poisoning and drug misuse), by where they happen: community, waiting, in_treatment, "
        "after_exit, after_release, after_treatment, custody; none given: not known",
    )
    multipliers: Multipliers = Field(default_factory=dict)

    @field_validator("after_exit", "after_release")
    @classmethod
    def _increasing(cls, v: list[DeathWindow], info: ValidationInfo) -> list[DeathWindow]:
        days = [w.until_day for w in v]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError(f"{info.field_name} windows must have strictly increasing until_day")
        return v


class RouteRelapse(Strict):
    """Relapse after a planned exit by one route; what is left out is the general value."""

    time_to_relapse: Duration | None = None
    return_to_treatment: Probability | None = None


class Relapse(Strict):
    """Relapse after a planned exit, and sustained recovery."""

    time_to_relapse: Duration
    multipliers: Multipliers = Field(default_factory=dict)
    sustained_recovery_days: StepDays | None = Field(
        default=730.0,
        description="days without relapse after which a person counts as recovered for "
        "good; none: relapse stays possible for ever (see recovery)",
    )
    return_to_treatment: Probability = Field(
        default=0.0,
        description="share of relapses that come straight back to treatment (self-referral); "
        "the rest return to the community and its referral hazards",
    )
    by_route: dict[ExitRoute, RouteRelapse] = Field(
        default_factory=dict,
        description="time to relapse and return to treatment by how treatment ended "
        "(ost, hat, psychosocial, detox_inpatient, detox_community, rehab)",
    )
    recovery: Rate = Field(
        default_factory=Rate,
        description="after a planned exit, the hazard of sustained recovery (per year), "
        "competing with relapse; recovered people no longer relapse",
    )

    def for_route(self, route: str) -> tuple[Duration, float]:
        """(time to relapse, share returning straight to treatment) after ``route``."""
        own = self.by_route.get(route)  # type: ignore[call-overload]
        if own is None:
            return self.time_to_relapse, self.return_to_treatment
        return (own.time_to_relapse or self.time_to_relapse,
                self.return_to_treatment if own.return_to_treatment is None
                else own.return_to_treatment)

    @model_validator(mode="after")
    def _time_passes(self) -> Relapse:
        routes = ("", *self.by_route)
        for route in routes:
            dist, back = self.for_route(route)
            if back > 0 and never_lasts(dist):
                where = f"by_route.{route}." if route else ""
                raise ValueError(f"{where}time_to_relapse: a relapse that can come straight "
                                 "back to treatment (return_to_treatment above 0) must take "
                                 "at least one second, or a person could loop without time "
                                 "passing")
        return self
