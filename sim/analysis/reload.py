"""A finished comparison read back from the folder ``treatsim compare`` wrote.

The folder holds every table of the comparison (Parquet), ``run.json`` and the resolved
scenarios (``scenario-<name>.yaml``); from them this module rebuilds the
:class:`~sim.analysis.compare.Comparison` and its
:class:`~sim.uncertainty.results.Uncertainty`, so the report's sentences and charts can
be drawn again (on the what-if page, in a notebook) without running anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..execute.runner import Results
from ..scenario import load_scenario
from ..uncertainty.results import Uncertainty
from .compare import Comparison

_UI = ["scenario", "metric", "ui_low", "ui_high", "p_better"]
"""The columns of :attr:`Uncertainty.intervals` kept in the comparison table (the draws'
own mean difference is not kept there, so a comparison read back has none)."""


def _table(folder: Path, name: str) -> pd.DataFrame:
    """A written table, or an empty one when the comparison did not write it."""
    path = folder / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def _rows(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty or "scenario" not in frame:
        return frame
    return frame[frame["scenario"] == name].reset_index(drop=True)


def load_comparison(folder: str | Path) -> tuple[Comparison, Uncertainty | None, dict[str, Any]]:
    """The comparison written to ``folder``, its uncertainty analysis (None when none
    was run) and its ``run.json``.

    :raises FileNotFoundError: if ``folder`` holds no finished comparison.
    """
    folder = Path(folder)
    meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    scenarios = [load_scenario(folder / f"scenario-{name}.yaml") for name in meta["scenarios"]]
    tables = {n: _table(folder, n) for n in ("summary", "comparison", "yearly", "timeseries",
                                            "people")}
    seed, reps = int(meta["seed"]), int(meta["replications"])
    results = {}
    for sc in scenarios:
        results[sc.name] = Results(
            scenario=sc, seed=seed, reps=list(range(reps)),
            people=_rows(tables["people"], sc.name), yearly=_rows(tables["yearly"], sc.name),
            timeseries=_rows(tables["timeseries"], sc.name),
            summary=_rows(tables["summary"], sc.name), seconds=0.0, events=0)
    cmp = Comparison(base=meta["base"], scenarios=scenarios, results=results,
                     summary=tables["summary"], comparison=tables["comparison"], seed=seed,
                     reps=reps, warnings=list(meta.get("warnings") or []),
                     precision_note=str(meta.get("precision") or ""),
                     assumptions=dict(meta.get("assumptions") or {}),
                     assumption_sentences=list(meta.get("assumed") or []))
    return cmp, _uncertainty(folder, meta, tables["comparison"]), meta


def _uncertainty(folder: Path, meta: dict[str, Any], comparison: pd.DataFrame
                 ) -> Uncertainty | None:
    """The uncertainty analysis recorded beside the comparison, if one was run."""
    info = meta.get("uncertainty")
    if not info:
        return None
    draws = int(info.get("draws") or 0)
    intervals = pd.DataFrame()
    if draws and {"ui_low", "ui_high", "p_better"} <= set(comparison.columns):
        intervals = comparison[_UI].reset_index(drop=True)
    return Uncertainty(source=str(info.get("source") or ""), draws=draws,
                       reps_per_draw=int(info.get("reps_per_draw") or 0),
                       intervals=intervals, per_draw=_table(folder, "draws"),
                       checks=_table(folder, "judgement_checks"),
                       tornado=_table(folder, "tornado"),
                       warnings=list(info.get("judgement_warnings") or []))
