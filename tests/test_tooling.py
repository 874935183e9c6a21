"""The project's own promises: lint is clean, the benchmark runs, the CLI answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_engine_benchmark_runs_small():
    out = subprocess.run([sys.executable, "benchmarks/engine.py", "--small"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "ratio model/bare" in out.stdout and "replication wall time" in out.stdout


def test_schema_is_json_and_lists_every_section():
    out = subprocess.run([sys.executable, "-m", "sim", "schema"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    for section in ("run", "population", "referral", "triage", "keyworkers", "entry",
                    "modalities", "exits", "mortality", "relapse", "policies", "extends"):
        assert section in schema["properties"]
    assert "required" not in json.dumps(schema)  # files that extend a baseline are partial


def test_validate_accepts_the_example():
    out = subprocess.run([sys.executable, "-m", "sim", "validate", "scenarios/example.yaml"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_run_writes_tables_and_provenance(tmp_path):
    out_dir = tmp_path / "out"
    small = tmp_path / "small.yaml"
    small.write_text(
        f"extends: {ROOT / 'scenarios' / 'example.yaml'}\n"
        "population: {initial: {community: 200, in_treatment: 200}, incidence_per_year: 30}\n"
        "keyworkers: {staff: 4}\n"
        "run: {warmup_years: 1, years: 1}\n")
    res = subprocess.run([sys.executable, "-m", "sim", "run", str(small), "--reps", "2",
                          "--seed", "5", "--out", str(out_dir), "--quiet"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "95% CI" in res.stdout and "Penetration" in res.stdout
    for name in ("people", "yearly", "timeseries", "summary"):
        assert (out_dir / f"{name}.parquet").exists() and (out_dir / f"{name}.csv").exists()
    meta = json.loads((out_dir / "run.json").read_text())
    assert meta["seed"] == 5 and meta["replications"] == [0, 1] and meta["complete"]
    assert meta["treatsim_version"] and meta["run_seconds"] > 0
    assert "keyworkers:" in (out_dir / "scenario.yaml").read_text()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temporary folder was moved into place, not left behind


def test_committed_schema_is_current():
    """scenarios/schema.json (what editors check YAML against) matches the code."""
    from sim.scenario import json_schema

    committed = json.loads((ROOT / "scenarios" / "schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema())), (
        "regenerate with: treatsim schema --out scenarios/schema.json")
