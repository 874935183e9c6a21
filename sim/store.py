"""Writing a run's tables and provenance to a folder, atomically.

Tables go to Parquet (for analysis) and CSV (for spreadsheets), beside the resolved
scenario (``scenario.yaml``) and ``run.json`` (seed, replications, package version,
run time). Everything is written into a temporary sibling folder first and moved into
place in one rename, so an output folder is either the whole of a run or absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .runner import Results
from .scenario import resolved_yaml


def scenario_hash(yaml_text: str) -> str:
    """Short SHA-256 of the resolved scenario text (identifies what was run)."""
    return hashlib.sha256(yaml_text.encode()).hexdigest()[:16]


def write_results(results: Results, out: str | Path, source: str | None = None) -> Path:
    """Write ``results`` to the folder ``out`` (replacing a previous run there).

    :param source: the scenario file the run came from, recorded in ``run.json``.
    :returns: the output folder.
    """
    out = Path(out)
    with _staging(out) as tmp:
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
            **results.meta,
        }
        (tmp / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


@contextlib.contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A temporary sibling of ``out`` to write into; on success it replaces ``out`` in one
    rename, on any failure (or interruption) it is removed and ``out`` is untouched."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; results are for sharing
    try:
        yield tmp
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Each table as Parquet (for analysis) and CSV (for spreadsheets)."""
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
        df.to_csv(folder / f"{name}.csv", index=False)


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def write_comparison(cmp: Any, out: str | Path, sources: list[str], seconds: float) -> Path:
    """Write a comparison's tables (summary, comparison, yearly, timeseries, people) and
    ``run.json`` to ``out``, atomically."""
    out = Path(out)
    with _staging(out) as tmp:
        tables = {"summary": cmp.summary, "comparison": cmp.comparison,
                  "yearly": cmp.yearly(), "timeseries": cmp.timeseries(),
                  "people": pd.concat([r.people for r in cmp.results.values()],
                                      ignore_index=True)}
        _write_tables(tmp, tables)
        meta = {
            "base": cmp.base, "scenarios": [s.name for s in cmp.scenarios],
            "sources": sources,
            "scenario_sha256": {s.name: scenario_hash(resolved_yaml(s)) for s in cmp.scenarios},
            "seed": cmp.seed, "replications": cmp.reps, "warnings": cmp.warnings,
            "precision": cmp.precision_note, "treatsim_version": __version__,
            "python": platform.python_version(), "run_seconds": round(seconds, 3),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        for s in cmp.scenarios:
            (tmp / f"scenario-{s.name}.yaml").write_text(resolved_yaml(s), encoding="utf-8")
        (tmp / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out
