"""The compiled model and its sources: the same tables, and never a stale build.

``pip install`` compiles ``sim/model`` with mypyc (``setup.py``); :mod:`sim.native` runs
the sources instead when asked to, when a source has changed since it was compiled, or
when a compiled module is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sim.model
from sim.native import MANIFEST, choose_build, source_digest

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
COMPILED = sim.model.BUILD == "compiled (mypyc)"
needs_compiled = pytest.mark.skipif(not COMPILED, reason=f"this install's model is "
                                    f"{sim.model.BUILD}")

TABLES = """
import hashlib, sys
import sim.model
from sim.metrics import replication_tables
from sim.model import simulate
from sim.scenario import load_scenario
sc = load_scenario("scenarios/example.yaml")
tables = replication_tables(simulate(sc, 4, 1), "r", 1, 4)
digest = hashlib.sha256()
for name in sorted(tables):
    digest.update(name.encode() + tables[name].to_csv(index=False).encode())
print(sim.model.BUILD)
print(digest.hexdigest())
"""
"""Prints the build that ran and a digest of one replication's tables as CSV."""


def _run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "TREATSIM_PURE_PYTHON"}
    environment.update(env, PYTHONPATH=str(cwd))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


@needs_compiled
def test_the_compiled_model_and_its_sources_give_the_same_tables():
    compiled = _run(TABLES, ROOT)
    pure = _run(TABLES, ROOT, TREATSIM_PURE_PYTHON="1")
    assert compiled.returncode == 0 and pure.returncode == 0, compiled.stderr + pure.stderr
    assert compiled.stdout.splitlines()[0] == "compiled (mypyc)"
    assert pure.stdout.splitlines()[0] == "pure Python (TREATSIM_PURE_PYTHON is set)"
    assert compiled.stdout.splitlines()[1] == pure.stdout.splitlines()[1]


def test_ci_runs_the_compiled_model():
    """CI installs from pyproject.toml as a user does: the build must have compiled."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI promises a C compiler")
    assert sim.model.BUILD == "compiled (mypyc)"


@needs_compiled
def test_an_edited_source_runs_from_the_sources_with_a_warning(tmp_path):
    shutil.copytree(ROOT / "sim", tmp_path / "sim")
    probe = "import sim.model, sim.model.stay as s; print(sim.model.BUILD); print(s.__file__)"
    untouched = _run(probe, tmp_path)
    assert untouched.stdout.splitlines()[0] == "compiled (mypyc)", untouched.stderr
    with (tmp_path / "sim" / "model" / "snapshot.py").open("a") as source:
        source.write("# an edit\n")
    edited = _run(probe, tmp_path)
    build, stay = edited.stdout.splitlines()
    assert build == "pure Python (snapshot.py changed since it was compiled)"
    assert stay.endswith("stay.py")  # every module from its source, not only the edited one
    assert "has changed since it was compiled" in edited.stderr
    assert "pip install -e ." in edited.stderr


@needs_compiled
def test_a_missing_compiled_module_runs_the_sources(tmp_path):
    shutil.copytree(ROOT / "sim", tmp_path / "sim")
    for module in (tmp_path / "sim" / "model").glob("triage.*.so"):
        module.unlink()
    done = _run("import sim.model; print(sim.model.BUILD)", tmp_path)
    assert done.stdout.strip() == "pure Python (triage's compiled module is missing)"


def test_without_a_manifest_nothing_was_compiled(tmp_path):
    assert choose_build("treatsim_test_none", tmp_path) == "pure Python (not compiled)"


def test_the_manifest_names_each_compiled_source_with_its_digest(tmp_path):
    """choose_build reads the manifest setup.py writes: module names and SHA-256s."""
    (tmp_path / "alpha.py").write_text("X = 1\n")
    digest = hashlib.sha256(b"X = 1\n").hexdigest()
    assert source_digest(tmp_path / "alpha.py") == digest
    (tmp_path / MANIFEST).write_text(json.dumps({"modules": {"treatsim_test_pkg.alpha":
                                                             digest}}))
    try:
        build = choose_build("treatsim_test_pkg", tmp_path)  # no extension module beside it
        assert build == "pure Python (alpha's compiled module is missing)"
        assert [f for f in sys.meta_path if getattr(f, "sources", None)
                == {"treatsim_test_pkg.alpha": tmp_path / "alpha.py"}]
    finally:  # the finder it installed serves only this test's package
        sys.meta_path[:] = [f for f in sys.meta_path
                            if "treatsim_test_pkg.alpha" not in getattr(f, "sources", {})]
