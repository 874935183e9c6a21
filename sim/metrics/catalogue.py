"""The catalogue of yearly metrics: each one's name, label, unit and definition, the
headline few, how a value is written for people to read, and the time windows the
definitions use (days).
"""

from __future__ import annotations

import difflib
import math
import re

from ..vocab import COST_SERVICES

THREE_WEEKS_DAYS = 21.0
"""A short wait for treatment: up to 21 days (``wait_under_3_weeks_share``)."""
FOUR_WEEKS_DAYS = 28.0
"""Deaths this many days or fewer after leaving treatment count as soon after exit."""
SIX_MONTHS_DAYS = 183.0
"""Six months in days: the re-presentation window and the short-stay threshold."""


def _m(label: str, unit: str, definition: str) -> dict[str, str]:
    """One entry of :data:`METRICS`."""
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
    "deaths_drug_related": _m(
        "Drug-related deaths", "people",
        "deaths that are drug-related (ONS definition: drug poisoning and drug misuse), by "
        "the scenario's shares for where each death happens; blank when it gives none"),
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
HEADLINE = (
    "in_treatment_during", "penetration", "new_presentations", "wait_treatment_median_days",
    "effective_engagement_share", "planned_exit_share", "successful_completion_rate",
    "phof_opiate", "deaths", "caseload_mean", "cost_total_gbp", "cost_per_completion_gbp",
)
"""Metrics shown first in summaries and reports."""

BETTER: dict[str, int] = {
    "in_treatment_during": 1, "penetration": 1, "new_presentations": 0,
    "wait_treatment_median_days": -1, "effective_engagement_share": 1,
    "planned_exit_share": 1, "successful_completion_rate": 1, "successful_completions": 1,
    "phof_opiate": 1, "deaths": -1, "caseload_mean": -1, "cost_total_gbp": -1,
    "cost_per_completion_gbp": -1,
}
"""Which way is better for a headline metric: 1 higher, -1 lower, 0 neither (more new
presentations can mean better access or more need)."""


def format_value(x: float | None, unit: str) -> str:
    """A value in ``unit`` for people to read: shares as %, money (GBP) as £, days with
    one decimal, counts without decimals; ``–`` when there is none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unit == "share":
        return f"{100 * x:.1f}%"
    if unit == "GBP":
        return f"£{x:,.0f}" if x >= 0 else f"−£{-x:,.0f}"
    if unit == "days":
        return f"{x:,.1f} days"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


MINUS = "\u2212"
POINTS = "percentage points"


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def format_money(x: float | None) -> str:
    """Pounds rounded as a board reads them: £1,380, £25.3k, £250k, £1.2m."""
    if _missing(x):
        return "–"
    sign, a = (MINUS if x < 0 else ""), abs(float(x))
    if round(a) >= 999_500:
        text = f"£{a / 1e6:,.1f}m"
    elif round(a) >= 99_950:
        text = f"£{a / 1e3:,.0f}k"
    elif round(a) >= 10_000:
        text = f"£{a / 1e3:,.1f}k".replace(".0k", "k")
    else:
        text = f"£{a:,.0f}"
    return (sign if re.search(r"[1-9]", text) else "") + text


def _magnitude(a: float, unit: str) -> str:
    """A non-negative magnitude in ``unit`` without its unit word."""
    if unit == "share":
        return f"{100 * a:.1f}"
    if unit == "GBP":
        return format_money(a)
    if unit == "days":
        return f"{a:,.1f}"
    return f"{a:,.0f}" if a >= 100 else f"{a:,.1f}"


def format_diff(x: float | None, unit: str, words: bool = True) -> str:
    """A signed difference in the metric's unit, the one way every report, table and
    command writes one: shares in percentage points (never %), money as
    :func:`format_money`, days with one decimal. ``words=False`` leaves out the unit word
    ("percentage points", "days"), for the first end of an interval. A value that
    rounds to zero carries no sign."""
    if _missing(x):
        return "–"
    x = float(x)
    body = _magnitude(abs(x), unit)
    sign = "" if not re.search(r"[1-9]", body) else "+" if x > 0 else MINUS
    word = {"share": POINTS, "days": "days"}.get(unit, "") if words else ""
    return f"{sign}{body}" + (f" {word}" if word else "")


def format_interval(lo: float | None, hi: float | None, unit: str) -> str:
    """'a to b' for the interval of a difference in ``unit``."""
    if _missing(lo) or _missing(hi):
        return "no interval"
    return f"{format_diff(lo, unit, words=False)} to {format_diff(hi, unit)}"


def unknown_metric(metric: str) -> str | None:
    """None for a metric in :data:`METRICS`, else the message saying so (with the
    nearest name, if one is close)."""
    if metric in METRICS:
        return None
    close = difflib.get_close_matches(metric, METRICS, n=1)
    return f"unknown metric {metric!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def metric_info(key: str) -> tuple[str, str, str]:
    """(label, unit, year) of a metric key; ``year`` is '' unless the key is
    ``metric@year``."""
    metric, _, year = key.partition("@")
    info = METRICS.get(metric, {})
    return info.get("label", metric), info.get("unit", ""), year


def format_metric(x: float, key: str) -> str:
    """A value of the metric ``key`` (``metric`` or ``metric@year``) written in its unit."""
    return format_value(float(x), metric_info(key)[1])
