"""Confidence intervals over replications, paired differences, replications needed.

Replications are independent (each has its own streams), so a metric's replication
means are i.i.d. and Student's t gives the interval. Two scenarios run on common
random numbers are compared replication by replication (paired differences), which
removes the variation they share.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

from .metrics import METRICS

LEVEL = 0.95


def t_interval(values: np.ndarray | list[float], level: float = LEVEL) -> tuple[float, float,
                                                                              float, float, int]:
    """(mean, sd, low, high, n) of the Student-t interval for the mean; NaNs are dropped.

    With a single value the interval is (nan, nan): one replication says nothing
    about the spread.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return (mean, math.nan, math.nan, math.nan, 1)
    sd = float(x.std(ddof=1))
    half = float(st.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean, sd, mean - half, mean + half, n)


def per_replication(yearly: pd.DataFrame) -> pd.DataFrame:
    """Each replication's mean over its reporting years: scenario, rep, metric, value."""
    return (yearly.groupby(["scenario", "rep", "metric"], sort=False)["value"]
            .mean().reset_index())


def summarise(yearly: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """The ``summary`` table: one row per scenario x metric with mean, sd and CI.

    A replication contributes the mean of the metric over its reporting years.
    """
    reps = per_replication(yearly)
    rows = []
    for (scenario, metric), grp in reps.groupby(["scenario", "metric"], sort=False):
        mean, sd, lo, hi, n = t_interval(grp["value"].to_numpy(), level)
        info = METRICS.get(str(metric), {})
        rows.append({
            "scenario": scenario, "metric": metric, "label": info.get("label", metric),
            "unit": info.get("unit", ""), "mean": mean, "sd": sd, "ci_low": lo,
            "ci_high": hi, "n_reps": n,
        })
    return pd.DataFrame(rows)


def paired_difference(yearly: pd.DataFrame, base: str, alt: str,
                      level: float = LEVEL) -> pd.DataFrame:
    """Per metric, the mean of (alt - base) over replications with the same number, and its CI.

    Both scenarios must have been run with the same seed, so replication *i* of each
    used the same streams (common random numbers).
    """
    reps = per_replication(yearly)
    a = reps[reps["scenario"] == base].set_index(["rep", "metric"])["value"]
    b = reps[reps["scenario"] == alt].set_index(["rep", "metric"])["value"]
    diff = (b - a).dropna().reset_index()
    rows = []
    for metric, grp in diff.groupby("metric", sort=False):
        mean, sd, lo, hi, n = t_interval(grp["value"].to_numpy(), level)
        rows.append({"base": base, "scenario": alt, "metric": metric, "diff_mean": mean,
                     "diff_sd": sd, "ci_low": lo, "ci_high": hi, "n_pairs": n})
    return pd.DataFrame(rows)


def replications_needed(values: np.ndarray | list[float], precision: float,
                        level: float = LEVEL) -> int:
    """Replications for the CI half-width to be within ``precision`` x |mean| (Law, 2015)."""
    mean, sd, _, _, n = t_interval(values, level)
    if n < 2 or mean == 0 or math.isnan(sd):
        return n
    z = float(st.norm.ppf(0.5 + level / 2))
    return max(n, math.ceil((z * sd / (precision * abs(mean))) ** 2))
