"""A sweep's folder: its manifest, design and one Parquet file per finished run.

Each run's file is written atomically as the run finishes, so the folder always holds
every finished run and nothing half-written; a resumed sweep skips the runs whose files
exist. The same folder is read back for analysis (:func:`read_sweep`).
"""

from __future__ import annotations

import json
import platform
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..scenario import resolved_yaml
from ..stats import t_interval
from ..sweep import SweepPlan, sweep_manifest
from .outputs import (
    OutputError,
    atomic_file,
    clean_leftovers,
    owned_folder,
    prepare_folder,
    printable,
    staging,
)

_RUN_FILE = re.compile(r"^run-(\d{6,})-(\d{4,})\.parquet$")
"""A finished run's file: point and replication, zero-padded to at least 6 and 4 digits
(wider numbers keep all their digits, and the pattern accepts any width)."""


def run_file_name(point: int, rep: int) -> str:
    """The file name of run ``(point, rep)`` in a sweep's ``runs/`` (read by
    :func:`finished_runs` at any size of either number)."""
    return f"run-{point:06d}-{rep:04d}.parquet"



class SweepStoreError(Exception):
    """A sweep folder that cannot be used as asked (another sweep, or no ``--resume``)."""


class SweepStore:
    """A sweep's folder: ``manifest.json`` (what the sweep is and how far it got),
    ``sweep.yaml`` (the file as given), ``scenario.yaml`` (the resolved base),
    ``design.parquet`` (one row per point) and ``runs/``, a Parquet dataset with one file
    per finished run, each written under a temporary name and renamed into place.

    A run file exists only once its run has finished, so the folder always holds every
    finished run and nothing half-written; resuming skips the runs whose files exist.
    When every run is in, ``runs.csv`` (the whole table) and ``points.parquet`` /
    ``points.csv`` (each point's mean and 95% CI over replications) are added.
    """

    def __init__(self, out: Path, plan: SweepPlan, manifest: dict[str, Any]) -> None:
        """Use :meth:`open`."""
        self.out, self.plan, self.manifest = out, plan, manifest
        self.runs_dir = out / "runs"
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    @classmethod
    def open(cls, out: str | Path, plan: SweepPlan, resume: bool = False,
             force: bool = False) -> SweepStore:
        """Start a sweep folder at ``out``, or reopen it to resume. Called before any run,
        so every refusal comes before work is done.

        :param force: start afresh even where ``out`` holds a sweep (a treatsim sweep
            folder is replaced; anything else is moved aside, never deleted).
        :raises SweepStoreError: if ``out`` holds a sweep and neither ``resume`` nor
            ``force`` is given, holds a different sweep (the file, the base scenario or its
            fit changed) with ``resume``, or is something else and ``force`` is not given.
        """
        out = Path(out)
        path = out / "manifest.json"
        if path.is_file() and owned_folder(out) and not force:
            return cls._reopen(out, plan, resume)
        try:
            target = prepare_folder(out, force=force, create_parents=True)
        except OutputError as exc:
            raise SweepStoreError(str(exc)) from None
        manifest = {**sweep_manifest(plan), "status": "running", "finished_runs": 0,
                    "treatsim_version": __version__, "python": platform.python_version(),
                    "sessions": []}
        with staging(target) as tmp:
            (tmp / "runs").mkdir()
            (tmp / "sweep.yaml").write_text(Path(plan.source).read_text(encoding="utf-8"),
                                            encoding="utf-8")
            (tmp / "scenario.yaml").write_text(resolved_yaml(plan.base), encoding="utf-8")
            design = design_table(plan)
            design.to_parquet(tmp / "design.parquet", index=False)
            design.to_csv(tmp / "design.csv", index=False)
            _write_json(tmp / "manifest.json", manifest)
        return cls(out, plan, manifest)

    @classmethod
    def _reopen(cls, out: Path, plan: SweepPlan, resume: bool) -> SweepStore:
        """The sweep folder ``out`` reopened to resume (see :meth:`open`)."""
        old = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        done = len(finished_runs(out))
        shown = printable(out)
        if old.get("format") != "treatsim-sweep/1":
            raise SweepStoreError(f"{shown}: manifest.json is not a treatsim sweep's; "
                                  f"choose another --out")
        if not resume:
            raise SweepStoreError(
                f"{shown} already holds sweep {printable(old['name'])!r} ({done} of "
                f"{old['runs']} runs finished); add --resume to continue it, --force to "
                f"start it again, or choose another --out")
        if old["digest"] != plan.digest:
            raise SweepStoreError(
                f"{shown} holds a different sweep from {printable(plan.source)}: the sweep "
                f"file, its base scenario or that scenario's fitted parameters changed since "
                f"it was started (digest {old['digest'][:12]}, now {plan.digest[:12]}); "
                f"choose another --out to run the new sweep")
        clean_leftovers(out / "runs")  # writes cut short by a hard kill: rerun
        return cls(out, plan, old)

    def finished(self) -> set[tuple[int, int]]:
        """``(point, rep)`` of every run whose file is in the folder."""
        return finished_runs(self.out)

    def write_run(self, point: int, rep: int, row: dict[str, Any]) -> Path:
        """Write one finished run's row atomically; returns its file."""
        plan = self.plan
        full: dict[str, Any] = {"sweep": plan.sweep.name, "point": point, "rep": rep,
                                "seed": plan.seed, "scenario_sha256": row["scenario_sha256"]}
        full.update(plan.point_values(point))
        full.update({k: v for k, v in row.items() if k != "scenario_sha256"})
        return atomic_file(self.runs_dir / run_file_name(point, rep),
                           lambda tmp: pd.DataFrame([full]).to_parquet(tmp, index=False))

    def finish(self, complete: bool, executor: str, runs: int, seconds: float) -> None:
        """Record this session in the manifest; when every run is in, write the whole
        table (``runs.csv``) and the per-point summary."""
        done = self.finished()
        total = self.manifest["runs"]
        self.manifest["sessions"].append({
            "started_utc": self.started,
            "ended_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "executor": executor, "runs": runs, "seconds": round(seconds, 3),
            "stopped": not complete})
        self.manifest["finished_runs"] = len(done)
        self.manifest["status"] = "complete" if len(done) == total else "incomplete"
        if len(done) == total:
            runs_table = read_runs(self.out)
            points = points_table(runs_table, self.manifest)
            atomic_file(self.out / "runs.csv", lambda p: runs_table.to_csv(p, index=False))
            atomic_file(self.out / "points.parquet",
                        lambda p: points.to_parquet(p, index=False))
            atomic_file(self.out / "points.csv", lambda p: points.to_csv(p, index=False))
        _write_json(self.out / "manifest.json", self.manifest)


def design_table(plan: SweepPlan) -> pd.DataFrame:
    """One row per design point: its number, each parameter's value and (as
    ``unit:<path>``) its position in the unit hypercube that the design sampled."""
    df = pd.DataFrame(plan.values, columns=plan.names)
    for j, name in enumerate(plan.names):
        df[f"unit:{name}"] = plan.unit[:, j]
    df.insert(0, "point", range(plan.points))
    return df


def finished_runs(folder: str | Path) -> set[tuple[int, int]]:
    """``(point, rep)`` of every finished run in the sweep folder ``folder``."""
    runs_dir = Path(folder) / "runs"
    out = set()
    if runs_dir.is_dir():
        for f in runs_dir.iterdir():
            m = _RUN_FILE.match(f.name)
            if m:
                out.add((int(m.group(1)), int(m.group(2))))
    return out


def read_sweep(out: str | Path) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """A sweep folder's manifest, design table and runs table (every finished run, one
    row each, sorted by point and replication)."""
    out = Path(out)
    path = out / "manifest.json"
    if not path.is_file():
        raise SweepStoreError(f"{out} is not a sweep folder (no manifest.json)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest, pd.read_parquet(out / "design.parquet"), read_runs(out)


def read_runs(out: str | Path) -> pd.DataFrame:
    """Every finished run of the sweep in ``out``, one row each, sorted by point and
    replication (an empty table if none has finished)."""
    runs_dir = Path(out) / "runs"
    if not runs_dir.is_dir():
        raise SweepStoreError(f"{out} is not a sweep folder (no runs/ in it)")
    files = sorted(f for f in runs_dir.iterdir() if _RUN_FILE.match(f.name))
    if not files:
        return pd.DataFrame()
    import pyarrow.dataset as ds

    df = ds.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
    return df.sort_values(["point", "rep"], ignore_index=True)


def points_table(runs: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Each point × metric: the mean over replications, its sd and 95% t interval
    (long format), with the point's parameter values."""
    names = [p["path"] for p in manifest["parameters"]]
    rows = []
    for point, group in runs.groupby("point", sort=True):
        params = {n: group[n].iloc[0] for n in names}
        for metric in manifest["metrics"]:
            mean, sd, low, high, n = t_interval(group[metric].to_numpy(dtype=float))
            rows.append({"point": point, **params, "metric": metric, "n": n, "mean": mean,
                         "sd": sd, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_file(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n",
                                                 encoding="utf-8"))
