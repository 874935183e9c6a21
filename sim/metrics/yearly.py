"""The ``yearly`` table: every metric of :data:`~sim.metrics.catalogue.METRICS` for each
reporting year of one replication (long format: year, metric, value), and the key
values a sweep or a calibration reads from it.

Years are model years of 365 days from the scenario's start date; warm-up years are
left out and reporting year 1 is the first year after the warm-up. Days are from the
start date, money is pounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.outcomes import COMPLETED, EXIT_REASONS, GAVE_UP_WAITING, REHAB, UNPLANNED
from ..model.people import IN_TREATMENT, STATE_NAMES
from ..model.records import Death, Records
from ..vocab import COST_SERVICES, DAYS_PER_YEAR, OCU, REVIEW_DAYS
from .catalogue import FOUR_WEEKS_DAYS, SIX_MONTHS_DAYS, THREE_WEEKS_DAYS

DIED_IN_TREATMENT = STATE_NAMES[IN_TREATMENT]
"""``state`` of a :class:`~sim.model.records.Death` in treatment."""


def yearly_metrics(rec: Records, people: pd.DataFrame) -> pd.DataFrame:
    """The long ``yearly`` table for one replication: columns year (reporting year, 1 =
    the first after the warm-up), metric and value (in the metric's unit)."""
    snaps = pd.DataFrame(rec.snapshots)
    ledger = pd.DataFrame(rec.ledger.columns)
    deaths = pd.DataFrame(rec.deaths, columns=Death._fields)
    out: list[tuple[int, str, float]] = []
    treated = people[people["start_day"].notna()]
    for k in range(rec.warmup_years, rec.warmup_years + rec.years):
        y0, y1 = k * DAYS_PER_YEAR, (k + 1) * DAYS_PER_YEAR
        year = k - rec.warmup_years + 1
        vals = _one_year(rec, people, treated, snaps, ledger, deaths, k, y0, y1)
        out.extend((year, name, float(v)) for name, v in vals.items())
    return pd.DataFrame(out, columns=["year", "metric", "value"])


@dataclass(frozen=True, slots=True)
class _Year:
    """One model year ``k`` (days [y0, y1)) of one replication, and the slices of its
    tables that several groups of metrics use."""

    rec: Records
    people: pd.DataFrame
    treated: pd.DataFrame  # episodes that started treatment
    snaps: pd.DataFrame
    k: int
    y0: float
    y1: float

    def in_year(self, col: str) -> pd.Series:
        """Rows of ``people`` whose day ``col`` falls in the year."""
        return (self.people[col] >= self.y0) & (self.people[col] < self.y1)

    @property
    def end_snap(self) -> pd.Series:
        """The snapshot taken on the last day of the year."""
        return self.snaps.iloc[12 * (self.k + 1) - 1]

    @property
    def overlap(self) -> pd.DataFrame:
        """Episodes in treatment at some time in the year."""
        treated = self.treated
        return treated[(treated["start_day"] < self.y1)
                       & (treated["exit_day"].isna() | (treated["exit_day"] >= self.y0))]

    @property
    def presentations(self) -> pd.DataFrame:
        """New presentations: episodes assessed in the year (not carried in)."""
        return self.people[self.in_year("triage_day") & ~self.people["initial"]]


def _one_year(rec: Records, people: pd.DataFrame, treated: pd.DataFrame, snaps: pd.DataFrame,
              ledger: pd.DataFrame, deaths: pd.DataFrame, k: int, y0: float,
              y1: float) -> dict[str, float]:
    """Every metric of model year ``k`` (days [y0, y1)), by name."""
    year = _Year(rec, people, treated, snaps, k, y0, y1)
    overlap = year.overlap
    # who was in treatment during the year (from episodes: distinct people)
    in_treatment = (overlap["pid"].nunique(), overlap.loc[overlap["opiate"], "pid"].nunique(),
                    overlap.loc[~overlap["opiate"], "pid"].nunique())
    v = _prevalence(year, overlap, in_treatment[0])
    v.update(_access(year))
    v.update(_engagement(year, overlap))
    v.update(_exits(year, *in_treatment))
    v.update(_time_in_treatment(year))
    v.update(_deaths(deaths, y0, y1))
    v.update(_capacity(year))
    v.update(_costs(ledger, y0, y1, v["successful_completions"]))
    return v


def _share(num: float, den: float) -> float:
    """``num / den``, NaN when ``den`` is 0 (a share of nobody)."""
    return float(num) / float(den) if den else float("nan")


def _quantile(x: pd.Series, q: float) -> float:
    """Quantile ``q`` of the values of ``x`` that are not NaN; NaN when there are none."""
    x = x.dropna()
    return float(np.quantile(x, q)) if len(x) else float("nan")


def _prevalence(year: _Year, overlap: pd.DataFrame, n_tx: int) -> dict[str, float]:
    """People using and in treatment, all and OCU; ``n_tx``: people in treatment in the
    year."""
    v: dict[str, float] = {}
    during = year.rec.during_year
    end_snap = year.end_snap
    v["in_treatment_end"] = end_snap["in_treatment"]
    v["in_treatment_during"] = n_tx
    v["prevalence_during"] = during["using"][year.k]
    v["penetration"] = _share(n_tx, v["prevalence_during"])
    v["not_in_treatment"] = v["prevalence_during"] - n_tx
    v["treatment_naive_end"] = end_snap["treatment_naive"]
    n_tx_ocu = overlap.loc[overlap["substance"].isin(OCU), "pid"].nunique()
    v["prevalence_ocu"] = during["using_ocu"][year.k]
    v["in_treatment_during_ocu"] = n_tx_ocu
    v["penetration_ocu"] = _share(n_tx_ocu, v["prevalence_ocu"])
    v["not_in_treatment_ocu"] = v["prevalence_ocu"] - n_tx_ocu
    v["treatment_naive_ocu_end"] = end_snap["treatment_naive_ocu"]
    return v


def _access(year: _Year) -> dict[str, float]:
    """Presentations and waits (days)."""
    v: dict[str, float] = {}
    people = year.people
    pres = year.presentations
    v["new_presentations"] = len(pres)
    v["triaged_only_share"] = _share(pres["triaged_only"].sum(), len(pres))
    v["wait_triage_median_days"] = _quantile(pres["wait_triage_days"], 0.5)
    starts = people[year.in_year("start_day") & ~people["initial"] & ~people["transfer_in"]]
    v["treatment_starts"] = len(starts)
    w = starts["wait_treatment_days"]
    v["wait_treatment_median_days"] = _quantile(w, 0.5)
    v["wait_treatment_p90_days"] = _quantile(w, 0.9)
    v["wait_treatment_mean_days"] = float(w.mean()) if len(w) else float("nan")
    v["wait_keyworker_mean_days"] = (float(starts["wait_keyworker_days"].mean())
                                     if len(starts) else float("nan"))
    v["wait_under_3_weeks_share"] = _share((w <= THREE_WEEKS_DAYS).sum(), len(w))
    v["gave_up_waiting"] = int((year.in_year("referral_day") & people["abandoned_wait"]
                                & (people["exit_reason"] == GAVE_UP_WAITING)).sum())
    return v


def _engagement(year: _Year, overlap: pd.DataFrame) -> dict[str, float]:
    """Retention past the first review (12 weeks) and early drop-out."""
    v: dict[str, float] = {}
    pres = year.presentations
    started = pres[pres["start_day"].notna()]
    stay = started["days_in_treatment"]
    engaged = (stay >= REVIEW_DAYS) | ((started["exit_reason"] == COMPLETED) & (stay < REVIEW_DAYS))
    v["effective_engagement_share"] = _share(engaged.sum(), len(pres))
    early = started["exit_reason"].isin(UNPLANNED) & (stay < REVIEW_DAYS)
    v["early_unplanned_exit_share"] = _share(early.sum(), len(pres))
    so_far = np.minimum(overlap["exit_day"].fillna(np.inf), year.y1) - overlap["start_day"]
    done = (overlap["exit_reason"] == COMPLETED) & (overlap["exit_day"] < year.y1)
    v["effectively_engaged"] = overlap.loc[(so_far >= REVIEW_DAYS) | done, "pid"].nunique()
    return v


def _exits(year: _Year, n_tx: int, n_tx_op: int, n_tx_non: int) -> dict[str, float]:
    """Exits and completions; ``n_tx*``: people in treatment in the year (all, opiate,
    non-opiate)."""
    v: dict[str, float] = {}
    treated = year.treated
    ex = treated[(treated["exit_day"] >= year.y0) & (treated["exit_day"] < year.y1)
                 & treated["exit_reason"].isin(EXIT_REASONS)]
    comp = ex[ex["exit_reason"] == COMPLETED]
    v["exits"] = len(ex)
    v["planned_exit_share"] = _share(len(comp), len(ex))
    v["planned_exit_share_opiate"] = _share(comp["opiate"].sum(), ex["opiate"].sum())
    v["planned_exit_share_non_opiate"] = _share((~comp["opiate"]).sum(), (~ex["opiate"]).sum())
    short = ex["days_in_treatment"] < SIX_MONTHS_DAYS
    v["short_stay_exit_share"] = _share(short.sum(), len(ex))
    v["successful_completions"] = len(comp)
    v["successful_completion_rate"] = _share(len(comp), n_tx)
    v["successful_completion_rate_opiate"] = _share(comp["opiate"].sum(), n_tx_op)
    v["successful_completion_rate_non_opiate"] = _share((~comp["opiate"]).sum(), n_tx_non)
    stayed_out = comp[~comp["represented_6m"]]
    v["phof_opiate"] = _share(stayed_out["opiate"].sum(), n_tx_op)
    v["phof_non_opiate"] = _share((~stayed_out["opiate"]).sum(), n_tx_non)
    v["representations_6m"] = int(comp["represented_6m"].sum())
    v["representation_share"] = _share(comp["represented_6m"].sum(), len(comp))
    return v


def _time_in_treatment(year: _Year) -> dict[str, float]:
    """Length (days) of the current episode of people in treatment at year end."""
    v: dict[str, float] = {}
    treated, y1 = year.treated, year.y1
    current = treated[(treated["start_day"] < y1)
                      & (treated["exit_day"].isna() | (treated["exit_day"] >= y1))]
    length = y1 - current["start_day"]
    v["time_in_treatment_median_days"] = _quantile(length, 0.5)
    v["in_treatment_over_1y"] = int((length > DAYS_PER_YEAR).sum())
    v["in_treatment_over_1y_share"] = _share((length > DAYS_PER_YEAR).sum(), len(length))
    v["in_treatment_over_2y_share"] = _share((length > 2 * DAYS_PER_YEAR).sum(), len(length))
    return v


def _deaths(deaths: pd.DataFrame, y0: float, y1: float) -> dict[str, float]:
    """Deaths on days [y0, y1): all, in treatment, and within four weeks of exit."""
    v: dict[str, float] = {}
    d = deaths[(deaths["day"] >= y0) & (deaths["day"] < y1)]
    v["deaths"] = len(d)
    v["deaths_in_treatment"] = int((d["state"] == DIED_IN_TREATMENT).sum())
    v["deaths_after_exit_4w"] = int(((d["state"] != DIED_IN_TREATMENT)
                                     & d["days_since_exit"].notna()
                                     & (d["days_since_exit"] <= FOUR_WEEKS_DAYS)).sum())
    # None when the scenario gives no shares (with no deaths, none are drug-related)
    known = deaths["drug_related"].notna().all()
    v["deaths_drug_related"] = int(d["drug_related"].astype(bool).sum()) if known else math.nan
    return v


def _capacity(year: _Year) -> dict[str, float]:
    """Caseloads, beds, HAT and rehab, from the monthly snapshots' time integrals."""
    v: dict[str, float] = {}
    snaps, k, rec = year.snaps, year.k, year.rec
    end_snap = year.end_snap
    months = snaps.iloc[12 * k: 12 * (k + 1)]
    prev = snaps.iloc[12 * k - 1] if k > 0 else None

    def area(col: str) -> float:
        """The year's growth of the running time integral ``col`` (unit x days)."""
        before = prev[col] if prev is not None else 0.0
        return float(end_snap[col] - before)

    v["caseload_mean"] = area("area_caseload_per_worker") / DAYS_PER_YEAR
    v["caseload_max"] = float(months["caseload_peak"].max())
    v["days_caseload_over_40"] = area("days_caseload_over_40_cum")
    v["waiting_list_end"] = end_snap["keyworker_waiting"]
    bed_days = float(months["beds"].mean()) * DAYS_PER_YEAR
    v["inpatient_bed_occupancy"] = _share(area("area_beds"), bed_days)
    place_days = float(months["hat_places"].mean()) * DAYS_PER_YEAR
    v["hat_occupancy"] = _share(area("area_hat"), place_days)
    v["hat_patients_mean"] = area("area_hat") / DAYS_PER_YEAR
    v["rehab_residents_mean"] = area("area_rehab") / DAYS_PER_YEAR
    v["rehab_placements"] = _count_rehab(rec, year.y0, year.y1)
    v["rehab_refused"] = sum(1 for day in rec.rehab_refusals if year.y0 <= day < year.y1)
    return v


def _costs(ledger: pd.DataFrame, y0: float, y1: float, completions: float) -> dict[str, float]:
    """Spend (GBP) by service in the year, the total, and per successful completion."""
    v: dict[str, float] = {}
    costs = _costs_in_year(ledger, y0, y1)
    for s in COST_SERVICES:
        v[f"cost_{s}_gbp"] = costs.get(s, 0.0)
    total = math.fsum(costs.get(s, 0.0) for s in COST_SERVICES)
    v["cost_total_gbp"] = total
    v["cost_per_completion_gbp"] = _share(total, completions)
    return v


def _count_rehab(rec: Records, y0: float, y1: float) -> int:
    """Rehab placements started on days [y0, y1)."""
    segments = rec.segments.columns
    return sum(1 for modality, start in zip(segments["modality"], segments["start_day"],
                                            strict=True)
               if modality == REHAB and y0 <= start < y1)


def _costs_in_year(ledger: pd.DataFrame, y0: float, y1: float) -> dict[str, float]:
    """Spend per service in [y0, y1), spreading each entry evenly over its interval."""
    if ledger.empty:
        return {}
    s, e = ledger["start_day"].to_numpy(), ledger["end_day"].to_numpy()
    a = ledger["amount_gbp"].to_numpy()
    span = e - s
    instant = span <= 0
    overlap = np.clip(np.minimum(e, y1) - np.maximum(s, y0), 0, None)
    frac = np.where(instant, ((s >= y0) & (s < y1)).astype(float),
                    overlap / np.where(instant, 1.0, span))
    parts = pd.Series(a * frac).groupby(ledger["service"].to_numpy(), sort=True)
    # fsum is exact, so a service's total does not depend on the order of its entries
    return {str(k): math.fsum(x) for k, x in parts}


def key_values(yearly: pd.DataFrame, keys: list[str]) -> dict[str, float]:
    """Each key's value in one replication's ``yearly`` table: ``metric`` is the mean over
    the reporting years, ``metric@year`` that reporting year (1 = the first); NaN where the
    metric is undefined (say, a share of nobody). Values are in the metric's own unit."""
    means = yearly.groupby("metric")["value"].mean()
    by_year = yearly.set_index(["metric", "year"])["value"]
    out = {}
    for k in keys:
        metric, _, year = k.partition("@")
        v = by_year.get((metric, int(year)), math.nan) if year else means.get(metric, math.nan)
        out[k] = float(v)
    return out


