"""From the page's controls to a run: the options that are not lines of the what-if
(replications, seed, draws, judgement checks and assumptions), the page's own results
folder, and the ``treatsim compare`` command line a job runs.

A run's key is a hash of the baseline and the what-if as resolved (every value, after
``extends`` and ``fitted``), the run options and treatsim's version: the same question
gets the same key, and its finished folder answers it at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

from .. import __version__
from ..io.outputs import OutputError, atomic_file, owned_folder
from ..scenario import Scenario
from ..scenario.schema import resolved_yaml
from ..text import printable
from .whatif import Controls, whatif_yaml

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "treatsim what-if page results"
RUNS = "runs"
WHATIF_FILE = "what_if.yaml"
REPORT, PDF, TABLES = "report.html", "report.pdf", "tables"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How a comparison is run: ``reps`` replications (or, with ``precision``, as many
    as make every headline 95% interval within that share of its mean), ``draws``
    parameter sets, the judgement checks at ``check_reps`` replications, and judgements
    fixed at an end of their range (``assumptions``: name -> low, neutral or high)."""

    seed: int
    reps: int = 10
    precision: float | None = None
    draws: int = 0
    checks: bool = True
    check_reps: int = 3
    assumptions: tuple[tuple[str, str], ...] = ()

    def flags(self) -> list[str]:
        """The ``treatsim compare`` options that ask for this run."""
        out = ["--seed", str(self.seed)]
        out += (["--precision", f"{self.precision:g}"] if self.precision
                else ["--reps", str(self.reps)])
        if self.draws:
            out += ["--draws", str(self.draws)]
        out += ["--check-reps", str(self.check_reps)] if self.checks else ["--no-checks"]
        for name, setting in self.assumptions:
            out += ["--assume", f"{name}={setting}"]
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunPlan:
    """One run of the page: its key, folder, command line and expected work."""

    key: str
    folder: Path
    argv: list[str]
    units: int
    whatif_text: str


def results_folder(path: str | Path) -> Path:
    """The page's own results folder, made if missing. A folder that is neither empty
    nor the page's is refused: the page writes nowhere else.

    :raises OutputError: saying why the folder cannot be used.
    """
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputError(f"{printable(path)} is not a folder; give the page a folder of its own "
                          "with --out")
    if path.is_dir() and any(path.iterdir()) and not _is_page_folder(path):
        raise OutputError(f"{printable(path)} holds files the what-if page did not write, so "
                          "it was left alone; give the page a folder of its own with --out")
    (path / RUNS).mkdir(parents=True, exist_ok=True)
    if not (path / MANIFEST).is_file():
        atomic_file(path / MANIFEST, lambda tmp: tmp.write_text(json.dumps(
            {"format": MANIFEST_FORMAT, "treatsim_version": __version__}, indent=2) + "\n",
            encoding="utf-8"))
    return path


def _is_page_folder(path: Path) -> bool:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return owned_folder(path) and isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT


def run_key(base: Scenario, whatif: Scenario, options: RunOptions) -> str:
    """The hash (24 hex digits) of everything the answer depends on."""
    h = hashlib.sha256()
    for part in (resolved_yaml(base), resolved_yaml(whatif),
                 json.dumps(dataclasses.asdict(options), sort_keys=True), __version__):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:24]


def reproduce_command(base_file: str | Path, name: str, options: RunOptions) -> str:
    """The command line that reruns the page's answer from the saved what-if file."""
    base = Path(base_file)
    scen = base.parent.name or "scenarios"
    return " ".join(["treatsim compare", f"{scen}/{base.name}", f"{scen}/{name}.yaml",
                     *options.flags()])


def plan(controls: Controls, base: Scenario, whatif: Scenario, options: RunOptions,
         root: Path, workers: int, units: int) -> RunPlan:
    """The run of ``whatif`` against ``base``: its folder under ``root`` and the command
    (on ``workers`` processes) that writes its tables, report and PDF there. Without
    ``--force``: a run again into the folder replaces only what treatsim wrote there, and
    a run too big for this machine is refused with the command's own message."""
    key = run_key(base, whatif, options)
    folder = root / RUNS / key
    base_file = Path(controls.base_file).resolve()
    text = whatif_yaml(controls, base, extends=os.path.relpath(base_file, folder),
                       command=reproduce_command(controls.base_file, controls.name, options))
    argv = [sys.executable, "-m", "sim", "compare", str(base_file), str(folder / WHATIF_FILE),
            *options.flags(), "--workers", str(workers), "--out", str(folder / TABLES),
            "--report", str(folder / REPORT), "--report-pdf", str(folder / PDF)]
    return RunPlan(key=key, folder=folder, argv=argv, units=units, whatif_text=text)


def write_whatif(p: RunPlan) -> None:
    """Write the run's copy of the what-if into its folder (made if missing)."""
    p.folder.mkdir(parents=True, exist_ok=True)
    atomic_file(p.folder / WHATIF_FILE,
                lambda tmp: tmp.write_text(p.whatif_text, encoding="utf-8"))
