"""The tables of one replication: ``people`` (one row per treatment episode),
``timeseries`` (the monthly snapshots) and, from :mod:`sim.metrics.yearly`, ``yearly``.

Days are from the scenario's start date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..model.outcomes import COMPLETED, ONGOING
from ..model.records import EPISODE_FIELDS, Episode, Records
from ..vocab import OPIATE
from .catalogue import SIX_MONTHS_DAYS
from .yearly import yearly_metrics

ONGOING_WAITING = "ongoing_waiting"
"""``exit_reason`` of an episode still waiting for treatment at the end of the run."""


def people_table(rec: Records) -> pd.DataFrame:
    """One row per episode, with waits and length of stay in days."""
    # one tuple per episode (not a dict): pandas infers the same dtypes, much faster
    rows = list(map(Episode.values, rec.episodes))
    df = pd.DataFrame(rows, columns=list(EPISODE_FIELDS))
    df["path"] = df["path"].map(">".join)
    df["wait_triage_days"] = df["triage_day"] - df["referral_day"]
    df["wait_keyworker_days"] = df["start_day"] - df["triage_day"]
    df["wait_treatment_days"] = df["start_day"] - df["referral_day"]
    end = df["exit_day"].where(df["exit_day"].notna(), rec.end_day)
    df["days_in_treatment"] = (end - df["start_day"]).where(df["start_day"].notna())
    df.loc[df["exit_reason"].isna() & df["start_day"].notna(), "exit_reason"] = ONGOING
    df.loc[df["exit_reason"].isna(), "exit_reason"] = ONGOING_WAITING
    df["opiate"] = df["substance"].isin(OPIATE)
    df["represented_6m"] = _represented(df)
    return df


def _represented(df: pd.DataFrame) -> pd.Series:
    """True for completed episodes followed by a new presentation within six months
    (183 days from exit to the next assessment)."""
    out = pd.Series(False, index=df.index)
    if df.empty:
        return out
    nxt = df.sort_values(["pid", "episode"]).groupby("pid")["triage_day"].shift(-1)
    gap = nxt.reindex(df.index) - df["exit_day"]
    ok = (df["exit_reason"] == COMPLETED) & gap.notna() & (gap <= SIX_MONTHS_DAYS)
    return ok.fillna(False).astype(bool)


def timeseries_table(rec: Records) -> pd.DataFrame:
    """Monthly snapshots with cumulative deaths; ``day`` is days from the start date,
    ``year`` is the reporting year (negative or 0 in the warm-up)."""
    snaps = pd.DataFrame(rec.snapshots)
    snaps["month"] = np.arange(1, len(snaps) + 1)
    snaps["year"] = (snaps["month"] - 1) // 12 + 1 - rec.warmup_years
    deaths = np.sort(np.array([d.day for d in rec.deaths])) if rec.deaths else np.array([])
    snaps["deaths_cum"] = np.searchsorted(deaths, snaps["day"].to_numpy(), side="right")
    keep = [c for c in snaps.columns if not c.startswith("area_")]
    return snaps[keep]


def replication_tables(rec: Records, scenario: str, rep: int, seed: int) -> dict[str, Any]:
    """All tables of one replication (``people``, ``yearly``, ``timeseries``), each row
    tagged with scenario, rep and seed; days and money as in each table."""
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
