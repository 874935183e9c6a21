"""A run's or a comparison's tables and provenance, written to a folder atomically.

Tables go to Parquet (for analysis) and CSV (for spreadsheets), beside the resolved
scenario (``scenario.yaml``) and ``run.json`` (seed, replications, package version,
run time). Everything is written into a staging folder first and swapped into place
(:mod:`sim.io.outputs`), so an output folder is either the whole of a run or absent.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import __version__
from ..scenario import resolved_yaml, scenario_hash
from .outputs import OutputTarget, staging
from .provenance import provenance

if TYPE_CHECKING:  # pragma: no cover - typing only: execute builds on io
    from ..analysis.compare import Comparison
    from ..execute.runner import Results
    from ..uncertainty.results import Uncertainty


def write_results(results: Results, out: str | Path | OutputTarget,
                  source: str | None = None) -> Path:
    """Write ``results`` to the folder ``out``, replacing a previous run there (only a
    folder treatsim wrote; see :mod:`sim.io.outputs`).

    :param out: a folder checked beforehand with :func:`sim.io.outputs.prepare_folder`, or
        a path (checked now).
    :param source: the scenario file the run came from, recorded in ``run.json``.
    :returns: the output folder.
    """
    with staging(out) as tmp:
        _write_tables(tmp, results.tables())
        text = resolved_yaml(results.scenario)
        (tmp / "scenario.yaml").write_text(text, encoding="utf-8")
        meta: dict[str, Any] = {
            "scenario": results.scenario.name,
            "source": source,
            "scenario_sha256": scenario_hash(text),
            "seed": results.seed,
            "replications": results.reps,
            "complete": results.complete,
            "treatsim_version": __version__,
            "python": platform.python_version(),
            "run_seconds": round(results.seconds, 3),
            "model_events": results.events,
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "provenance": provenance(),
            **results.meta,
        }
        (tmp / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out.path if isinstance(out, OutputTarget) else Path(out)


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Each table as Parquet (for analysis) and CSV (for spreadsheets)."""
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
        df.to_csv(folder / f"{name}.csv", index=False)


def write_comparison(cmp: Comparison, out: str | Path | OutputTarget, sources: list[str],
                     seconds: float, uncertainty: Uncertainty | None = None) -> Path:
    """Write a comparison's tables (summary, comparison, yearly, timeseries, people; with
    ``uncertainty``, also ``draws``, ``judgement_checks`` and ``tornado`` where they have
    rows) and ``run.json`` to ``out``, atomically (as :func:`write_results`).

    :param seconds: the comparison's wall time, in seconds. ``run.json`` records the
        comparison's ``--assume`` settings (``assumptions``, ``{}`` when none) and their
        sentences (``assumed``)."""
    with staging(out) as tmp:
        tables = {"summary": cmp.summary, "comparison": cmp.comparison,
                  "yearly": cmp.yearly(), "timeseries": cmp.timeseries(),
                  "people": pd.concat([r.people for r in cmp.results.values()],
                                      ignore_index=True)}
        if uncertainty is not None:
            for name, df in (("draws", uncertainty.per_draw),
                             ("judgement_checks", uncertainty.checks),
                             ("tornado", uncertainty.tornado)):
                if not df.empty:
                    tables[name] = df
        _write_tables(tmp, tables)
        meta = {
            "base": cmp.base, "scenarios": [s.name for s in cmp.scenarios],
            "sources": sources,
            "scenario_sha256": {s.name: scenario_hash(resolved_yaml(s)) for s in cmp.scenarios},
            "seed": cmp.seed, "replications": cmp.reps, "warnings": cmp.warnings,
            "precision": cmp.precision_note,
            "assumptions": dict(cmp.assumptions),
            "assumed": list(cmp.assumption_sentences),
            "treatsim_version": __version__,
            "python": platform.python_version(), "run_seconds": round(seconds, 3),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "provenance": provenance(),
            "uncertainty": None if uncertainty is None else {
                "source": uncertainty.source, "draws": uncertainty.draws,
                "reps_per_draw": uncertainty.reps_per_draw,
                "judgement_warnings": uncertainty.warnings},
        }
        for s in cmp.scenarios:
            (tmp / f"scenario-{s.name}.yaml").write_text(resolved_yaml(s), encoding="utf-8")
        (tmp / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out.path if isinstance(out, OutputTarget) else Path(out)
