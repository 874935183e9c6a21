"""Where a result came from: the git commit of the code (when it runs from a git
checkout) and the versions of Python and of the packages that shape the numbers.

:func:`provenance` is what a report's provenance section and ``run.json`` record.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import __version__
from ..native import build_of

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the ``sim`` package: a git checkout's root when run from one."""
GIT_TIMEOUT_SECONDS = 10.0
PACKAGES = ("treatsim", "simpy", "numpy", "scipy", "pandas", "matplotlib", "pydantic",
            "pyarrow")
"""The packages whose versions are recorded (Python's is recorded too)."""


def _git(*args: str) -> str | None:
    """The output of ``git -C REPO_ROOT ARGS`` (stripped), or None if git is missing,
    fails or takes longer than :data:`GIT_TIMEOUT_SECONDS`."""
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_SECONDS, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty): the 40-hex commit checked out and whether tracked or untracked
    files differ from it, when the package runs from the root of a git checkout; (None,
    None) otherwise (an installed copy, no git, or git too slow)."""
    if not (REPO_ROOT / ".git").exists():
        return None, None
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != REPO_ROOT:
        return None, None
    commit = _git("rev-parse", "HEAD")
    if commit is None or len(commit) != 40:
        return None, None
    status = _git("status", "--porcelain")
    return commit, (None if status is None else bool(status))


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None if it is not installed
    (treatsim falls back to the version of the package in use)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return __version__ if name == "treatsim" else None


def provenance() -> dict[str, Any]:
    """``{"git_commit", "git_dirty", "model_build", "versions": {"python", "treatsim",
    "simpy", ...}}``: the commit is None (and dirty None) outside a git checkout; the
    model's build is compiled or pure Python (:func:`sim.native.build_of`; the records are
    the same); a version is None for a package that is not installed."""
    commit, dirty = git_state()
    versions = {"python": platform.python_version()}
    versions.update({name: package_version(name) for name in PACKAGES})
    return {"git_commit": commit, "git_dirty": dirty, "model_build": build_of("sim.model"),
            "versions": versions}
