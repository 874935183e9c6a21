"""Monitor records -> the tidy tables of DESIGN §3.

Tables, every row carrying ``scenario``, ``rep`` and ``seed``:

* ``people``: one row per treatment episode (presentation), from referral to exit;
* ``yearly``: one row per replication x reporting year x metric (long format);
* ``timeseries``: the monthly snapshots (in treatment, waiting list, caseload, ...).

Years are model years of 365 days from the scenario's start date. Warm-up years are
left out; reporting year 1 is the first year after the warm-up. Every metric is
defined in :data:`METRICS` (name -> label, unit, definition); names are stable
identifiers, labels are for reports.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from .model.records import Death, Episode, LedgerEntry, Records

YEAR = 365.0
REVIEW = 84.0  # 12 weeks
SIX_MONTHS = 183.0
FOUR_WEEKS = 28.0
THREE_WEEKS = 21.0
OPIATE = ("opiate", "opiate_crack")
OCU = ("opiate", "opiate_crack", "crack")  # opiate and/or crack users
COST_SERVICES = (
    "keyworkers", "triage", "ost", "psychosocial", "hat_fixed", "hat_medicine", "detox",
    "detox_inpatient", "rehab", "other",
)
EXIT_REASONS = ("completed", "dropped_out", "transferred", "died")


def _m(label: str, unit: str, definition: str) -> dict[str, str]:
    return {"label": label, "unit": unit, "definition": definition}


METRICS: dict[str, dict[str, str]] = {
    "in_treatment_end": _m("In treatment (year end)", "people",
                           "people in treatment on the last day of the year"),
    "in_treatment_during": _m("In treatment (during year)", "people",
                              "distinct people in treatment at any time in the year (NDTMS)"),
    "prevalence_during": _m("People with problem drug use", "people",
                            "distinct people using (in the community, waiting or in treatment) "
                            "at any time in the year"),
    "penetration": _m("Penetration", "share",
                      "in treatment during the year / people with problem drug use"),
    "not_in_treatment": _m("Not in treatment", "people",
                           "people with problem drug use not in treatment at any time in the year"),
    "treatment_naive_end": _m("Treatment-naive", "people",
                              "people using at year end who have never been in treatment"),
    "prevalence_ocu": _m("Opiate/crack users", "people",
                         "distinct opiate and/or crack users (OCU) using at any time in the "
                         "year"),
    "in_treatment_during_ocu": _m("OCU in treatment (during year)", "people",
                                  "distinct opiate and/or crack users in treatment in the year"),
    "penetration_ocu": _m("OCU penetration", "share",
                          "OCU in treatment during the year / OCU prevalence"),
    "not_in_treatment_ocu": _m("OCU not in treatment", "people",
                               "opiate and/or crack users not in treatment at any time in the "
                               "year"),
    "treatment_naive_ocu_end": _m("OCU treatment-naive", "people",
                                  "opiate and/or crack users at year end never in treatment"),
    "new_presentations": _m("New presentations", "people",
                            "assessments (triage) completed in the year, including triaged only"),
    "treatment_starts": _m("Treatment starts", "episodes", "episodes starting treatment"),
    "triaged_only_share": _m("Triaged only", "share",
                             "new presentations that did not start treatment"),
    "wait_triage_median_days": _m("Wait for triage (median)", "days",
                                  "referral to assessment, presentations in the year"),
    "wait_treatment_median_days": _m("Wait for treatment (median)", "days",
                                     "referral to treatment start, starts in the year"),
    "wait_treatment_p90_days": _m("Wait for treatment (90th centile)", "days",
                                  "referral to treatment start, starts in the year"),
    "wait_treatment_mean_days": _m("Wait for treatment (mean)", "days",
                                   "referral to treatment start, starts in the year"),
    "wait_keyworker_mean_days": _m("Wait for a keyworker (mean)", "days",
                                   "assessment to treatment start, starts in the year"),
    "wait_under_3_weeks_share": _m("Waited under 3 weeks", "share",
                                   "treatment starts in the year that waited 21 days or less"),
    "gave_up_waiting": _m("Gave up waiting", "people",
                          "referrals in the year who left a waiting list before treatment"),
    "effective_engagement_share": _m("Effective engagement", "share",
                                     "new presentations retained 12 weeks or more, or "
                                     "completing before 12 weeks"),
    "effectively_engaged": _m("Retained in effective treatment", "people",
                              "people in treatment in the year who had reached 12 weeks in "
                              "their episode by year end or completed it in the year"),
    "early_unplanned_exit_share": _m("Early unplanned exits", "share",
                                     "new presentations dropping out within 12 weeks of start"),
    "exits": _m("Exits", "episodes", "completed + dropped out + transferred + died"),
    "planned_exit_share": _m("Planned exits", "share", "completed / all exits"),
    "planned_exit_share_opiate": _m("Planned exits (opiate)", "share",
                                    "completed / all exits, opiate and opiate+crack"),
    "planned_exit_share_non_opiate": _m("Planned exits (non-opiate)", "share",
                                        "completed / all exits, crack and non-opiate"),
    "short_stay_exit_share": _m("Exits under 6 months", "share",
                                "exits after under 6 months in treatment / all exits"),
    "successful_completions": _m("Successful completions", "people",
                                 "planned exits free of dependence in the year"),
    "successful_completion_rate": _m("Successful completions / in treatment", "share",
                                     "completions / in treatment during the year"),
    "successful_completion_rate_opiate": _m("Successful completions, opiate", "share",
                                            "opiate completions / opiate in treatment"),
    "successful_completion_rate_non_opiate": _m("Successful completions, non-opiate", "share",
                                                "non-opiate completions / non-opiate in "
                                                "treatment"),
    "phof_opiate": _m("PHOF 2.15 opiate", "share",
                      "opiate completions not re-presenting within 6 months / opiate in "
                      "treatment"),
    "phof_non_opiate": _m("PHOF 2.15 non-opiate", "share",
                          "non-opiate completions not re-presenting within 6 months / "
                          "non-opiate in treatment"),
    "representations_6m": _m("Re-presentations within 6 months", "people",
                             "completions in the year presenting again within 6 months"),
    "representation_share": _m("Re-presentation rate", "share",
                               "completions in the year presenting again within 6 months / "
                               "completions"),
    "time_in_treatment_median_days": _m("Time in treatment (median)", "days",
                                        "current episode length, people in treatment at year "
                                        "end"),
    "in_treatment_over_1y": _m("In treatment over 1 year", "people",
                               "people in treatment at year end for over 365 days"),
    "in_treatment_over_1y_share": _m("In treatment over 1 year", "share",
                                     "people in treatment at year end for over 365 days"),
    "in_treatment_over_2y_share": _m("In treatment over 2 years", "share",
                                     "people in treatment at year end for over 730 days"),
    "deaths": _m("Deaths", "people", "all deaths of people with problem drug use"),
    "deaths_in_treatment": _m("Deaths in treatment", "people", "deaths while in treatment"),
    "deaths_after_exit_4w": _m("Deaths within 4 weeks of exit", "people",
                               "deaths within 28 days of leaving treatment"),
    "caseload_mean": _m("Caseload per keyworker (mean)", "people per worker",
                        "time-average of people in treatment / keyworkers"),
    "caseload_max": _m("Caseload per keyworker (max)", "people per worker",
                       "highest caseload per keyworker in the year"),
    "days_caseload_over_40": _m("Days with caseload over 40", "days",
                                "days on which caseload per keyworker exceeded 40"),
    "waiting_list_end": _m("Waiting for a keyworker (year end)", "people",
                           "people assessed and waiting for a keyworker place"),
    "inpatient_bed_occupancy": _m("Inpatient detox bed occupancy", "share",
                                  "bed-days used / bed-days available"),
    "hat_occupancy": _m("HAT occupancy", "share", "HAT place-days used / place-days open"),
    "hat_patients_mean": _m("HAT patients (mean)", "people", "time-average of people in HAT"),
    "rehab_residents_mean": _m("In residential rehab (mean)", "people",
                               "time-average of people in residential rehab"),
    "rehab_placements": _m("Rehab placements", "placements", "residential placements started"),
    "rehab_refused": _m("Rehab refused for budget", "people",
                        "rehab steps refused because the year's budget was spent"),
    **{f"cost_{s}_gbp": _m(f"Cost: {s.replace('_', ' ')}", "GBP", f"spend on {s} in the year")
       for s in COST_SERVICES},
    "cost_total_gbp": _m("Total cost", "GBP", "all services"),
    "cost_per_completion_gbp": _m("Cost per successful completion", "GBP",
                                  "total cost / successful completions"),
}
"""Every yearly metric: name -> {label, unit, definition}."""

def format_value(x: float | None, unit: str) -> str:
    """A value for people to read: shares as %, money as £, days with one decimal,
    counts without decimals; ``–`` when there is none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unit == "share":
        return f"{100 * x:.1f}%"
    if unit == "GBP":
        return f"£{x:,.0f}" if x >= 0 else f"−£{-x:,.0f}"
    if unit == "days":
        return f"{x:,.1f} days"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


HEADLINE = (
    "in_treatment_during", "penetration", "new_presentations", "wait_treatment_median_days",
    "effective_engagement_share", "planned_exit_share", "successful_completion_rate",
    "phof_opiate", "deaths", "caseload_mean", "cost_total_gbp", "cost_per_completion_gbp",
)
"""Metrics shown first in summaries and reports."""


def people_table(rec: Records) -> pd.DataFrame:
    """One row per episode, with waits and length of stay in days."""
    rows = [asdict(e) for e in rec.episodes]
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=list(_EPISODE_FIELDS))
    df["path"] = df["path"].map(lambda p: ">".join(p))
    df["wait_triage_days"] = df["triage_day"] - df["referral_day"]
    df["wait_keyworker_days"] = df["start_day"] - df["triage_day"]
    df["wait_treatment_days"] = df["start_day"] - df["referral_day"]
    end = df["exit_day"].where(df["exit_day"].notna(), rec.end_day)
    df["days_in_treatment"] = (end - df["start_day"]).where(df["start_day"].notna())
    df.loc[df["exit_reason"].isna() & df["start_day"].notna(), "exit_reason"] = "ongoing"
    df.loc[df["exit_reason"].isna(), "exit_reason"] = "ongoing_waiting"
    df["opiate"] = df["substance"].isin(OPIATE)
    df["represented_6m"] = _represented(df)
    return df


_EPISODE_FIELDS = tuple(f.name for f in fields(Episode))


def _represented(df: pd.DataFrame) -> pd.Series:
    """True for completed episodes followed by a new presentation within 6 months."""
    out = pd.Series(False, index=df.index)
    if df.empty:
        return out
    nxt = df.sort_values(["pid", "episode"]).groupby("pid")["triage_day"].shift(-1)
    gap = nxt.reindex(df.index) - df["exit_day"]
    ok = (df["exit_reason"] == "completed") & gap.notna() & (gap <= SIX_MONTHS)
    return ok.fillna(False).astype(bool)


def _share(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def _quantile(x: pd.Series, q: float) -> float:
    x = x.dropna()
    return float(np.quantile(x, q)) if len(x) else float("nan")


def yearly_metrics(rec: Records, people: pd.DataFrame) -> pd.DataFrame:
    """The long ``yearly`` table for one replication: columns year, metric, value."""
    snaps = pd.DataFrame(rec.snapshots)
    ledger = pd.DataFrame(rec.ledger, columns=LedgerEntry._fields)
    deaths = pd.DataFrame(rec.deaths, columns=Death._fields)
    out: list[tuple[int, str, float]] = []
    treated = people[people["start_day"].notna()]
    for k in range(rec.warmup_years, rec.warmup_years + rec.years):
        y0, y1 = k * YEAR, (k + 1) * YEAR
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


def _prevalence(year: _Year, overlap: pd.DataFrame, n_tx: int) -> dict[str, float]:
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
    starts = people[year.in_year("start_day") & ~people["initial"]]
    v["treatment_starts"] = len(starts)
    w = starts["wait_treatment_days"]
    v["wait_treatment_median_days"] = _quantile(w, 0.5)
    v["wait_treatment_p90_days"] = _quantile(w, 0.9)
    v["wait_treatment_mean_days"] = float(w.mean()) if len(w) else float("nan")
    v["wait_keyworker_mean_days"] = (float(starts["wait_keyworker_days"].mean())
                                     if len(starts) else float("nan"))
    v["wait_under_3_weeks_share"] = _share((w <= THREE_WEEKS).sum(), len(w))
    v["gave_up_waiting"] = int((year.in_year("referral_day") & people["abandoned_wait"]
                                & (people["exit_reason"] == "gave_up_waiting")).sum())
    return v


def _engagement(year: _Year, overlap: pd.DataFrame) -> dict[str, float]:
    v: dict[str, float] = {}
    pres = year.presentations
    started = pres[pres["start_day"].notna()]
    stay = started["days_in_treatment"]
    engaged = (stay >= REVIEW) | ((started["exit_reason"] == "completed") & (stay < REVIEW))
    v["effective_engagement_share"] = _share(engaged.sum(), len(pres))
    early = (started["exit_reason"] == "dropped_out") & (stay < REVIEW)
    v["early_unplanned_exit_share"] = _share(early.sum(), len(pres))
    so_far = np.minimum(overlap["exit_day"].fillna(np.inf), year.y1) - overlap["start_day"]
    done = (overlap["exit_reason"] == "completed") & (overlap["exit_day"] < year.y1)
    v["effectively_engaged"] = overlap.loc[(so_far >= REVIEW) | done, "pid"].nunique()
    return v


def _exits(year: _Year, n_tx: int, n_tx_op: int, n_tx_non: int) -> dict[str, float]:
    """Exits and completions; ``n_tx*``: people in treatment in the year (all, opiate,
    non-opiate)."""
    v: dict[str, float] = {}
    treated = year.treated
    ex = treated[(treated["exit_day"] >= year.y0) & (treated["exit_day"] < year.y1)
                 & treated["exit_reason"].isin(EXIT_REASONS)]
    comp = ex[ex["exit_reason"] == "completed"]
    v["exits"] = len(ex)
    v["planned_exit_share"] = _share(len(comp), len(ex))
    v["planned_exit_share_opiate"] = _share(comp["opiate"].sum(), ex["opiate"].sum())
    v["planned_exit_share_non_opiate"] = _share((~comp["opiate"]).sum(), (~ex["opiate"]).sum())
    v["short_stay_exit_share"] = _share((ex["days_in_treatment"] < SIX_MONTHS).sum(), len(ex))
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
    v["in_treatment_over_1y"] = int((length > 365).sum())
    v["in_treatment_over_1y_share"] = _share((length > 365).sum(), len(length))
    v["in_treatment_over_2y_share"] = _share((length > 730).sum(), len(length))
    return v


def _deaths(deaths: pd.DataFrame, y0: float, y1: float) -> dict[str, float]:
    v: dict[str, float] = {}
    d = deaths[(deaths["day"] >= y0) & (deaths["day"] < y1)]
    v["deaths"] = len(d)
    v["deaths_in_treatment"] = int((d["state"] == "in_treatment").sum())
    v["deaths_after_exit_4w"] = int(((d["state"] != "in_treatment")
                                     & d["days_since_exit"].notna()
                                     & (d["days_since_exit"] <= FOUR_WEEKS)).sum())
    return v


def _capacity(year: _Year) -> dict[str, float]:
    """Caseloads, beds, HAT and rehab, from the monthly snapshots' time integrals."""
    v: dict[str, float] = {}
    snaps, k, rec = year.snaps, year.k, year.rec
    end_snap = year.end_snap
    months = snaps.iloc[12 * k: 12 * (k + 1)]
    prev = snaps.iloc[12 * k - 1] if k > 0 else None

    def area(col: str) -> float:
        before = prev[col] if prev is not None else 0.0
        return float(end_snap[col] - before)

    v["caseload_mean"] = area("area_caseload_per_worker") / YEAR
    v["caseload_max"] = float(months["caseload_peak"].max())
    v["days_caseload_over_40"] = area("days_caseload_over_40_cum")
    v["waiting_list_end"] = end_snap["keyworker_waiting"]
    bed_days = float(months["beds"].mean()) * YEAR
    v["inpatient_bed_occupancy"] = _share(area("area_beds"), bed_days)
    place_days = float(months["hat_places"].mean()) * YEAR
    v["hat_occupancy"] = _share(area("area_hat"), place_days)
    v["hat_patients_mean"] = area("area_hat") / YEAR
    v["rehab_residents_mean"] = area("area_rehab") / YEAR
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
    return sum(1 for s in rec.segments if s.modality == "rehab" and y0 <= s.start_day < y1)


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


def timeseries_table(rec: Records) -> pd.DataFrame:
    """Monthly snapshots with cumulative deaths; ``year`` is negative or 0 in the warm-up."""
    snaps = pd.DataFrame(rec.snapshots)
    snaps["month"] = np.arange(1, len(snaps) + 1)
    snaps["year"] = (snaps["month"] - 1) // 12 + 1 - rec.warmup_years
    deaths = np.sort(np.array([d.day for d in rec.deaths])) if rec.deaths else np.array([])
    snaps["deaths_cum"] = np.searchsorted(deaths, snaps["day"].to_numpy(), side="right")
    keep = [c for c in snaps.columns if not c.startswith("area_")]
    return snaps[keep]


def unknown_metric(metric: str) -> str | None:
    """None for a metric in :data:`METRICS`, else the message saying so (with the
    nearest name, if one is close)."""
    if metric in METRICS:
        return None
    import difflib

    close = difflib.get_close_matches(metric, METRICS, n=1)
    return f"unknown metric {metric!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


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


def replication_tables(rec: Records, scenario: str, rep: int, seed: int) -> dict[str, Any]:
    """All tables of one replication, each row tagged with scenario, rep and seed."""
    people = people_table(rec)
    yearly = yearly_metrics(rec, people)
    ts = timeseries_table(rec)
    tables = {"people": people, "yearly": yearly, "timeseries": ts}
    for name, df in tables.items():
        df.insert(0, "seed", seed)
        df.insert(0, "rep", rep)
        df.insert(0, "scenario", scenario)
        tables[name] = df
    return tables
