"""The project's own promises: lint is clean, the benchmark runs, the CLI answers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_engine_benchmark_runs_small():
    out = subprocess.run([sys.executable, "benchmarks/engine.py", "--small"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "treatsim / SimPy" in out.stdout and "people-years" in out.stdout
    assert "growth exponent of wall time over 1x-4x" in out.stdout
    assert "within each round: " in out.stdout and "; median " in out.stdout
    lives = [line for line in out.stdout.splitlines() if "compiled loop (kernel)" in line]
    assert len(lives) == 1 and "growth exponent" in lives[0]  # the bare lives beside it
    assert ("speed-up of this checkout over" in out.stdout and "pure Python over" in out.stdout
            or "cannot check out" in out.stdout)
    assert "simulation build here: " in out.stdout


@pytest.mark.slow
def test_engine_benchmark_measures_the_memory_a_replication_keeps():
    out = subprocess.run([sys.executable, "benchmarks/engine.py", "--memory", "--small"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("memory ("))
    figures = line.split("bytes per person alive: ")[1]
    numbers = [int(word.replace(",", "")) for word in figures.split()
               if word.replace(",", "").isdigit()]
    everything, records, tracked = numbers
    assert 0 < records < everything and 0 < tracked < everything, line


def test_the_cache_benchmark_reads_callgrind_totals_with_trailing_zeros_left_out(tmp_path):
    from benchmarks.cache import read_totals

    out = tmp_path / "callgrind.out"
    out.write_text("# callgrind format\nevents: Ir Dr Dw DLmr DLmw\nfn=main\n"
                   "3 10 4 2\nsummary: 10 4 2\ntotals: 10 4 2\n")
    assert read_totals(out) == {"Ir": 10, "Dr": 4, "Dw": 2, "DLmr": 0, "DLmw": 0}
    out.write_text("events: Ir Dr\nfn=main\n")  # a run cut short: no summary
    with pytest.raises(RuntimeError, match="no 'events:' or 'summary:'"):
        read_totals(out)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs Valgrind")
def test_cache_benchmark_counts_an_event():
    out = subprocess.run([sys.executable, "benchmarks/cache.py", "--sizes", "1",
                          "--years", "1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr
    row = out.stdout.strip().splitlines()[-1].split()
    assert row[0] == "1x" and int(row[1].replace(",", "")) > 1000  # events
    instructions, reads, writes = (float(x.replace(",", "")) for x in row[2:5])
    assert instructions > reads > 0 and writes > 0  # every event runs code and reads


@pytest.mark.slow
def test_mmc_benchmark_runs_small():
    out = subprocess.run([sys.executable, "benchmarks/mmc.py", "--days", "365",
                          "--repeats", "1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Erlang C mean wait" in out.stdout
    assert "treatsim" in out.stdout and "customers/s" in out.stdout
    assert "ratio treatsim/SimPy" in out.stdout


@pytest.mark.slow
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


@pytest.mark.slow
def test_run_writes_tables_and_provenance(tmp_path):
    out_dir = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "sim", "run", str(_small_file(tmp_path)),
                          "--reps", "2",
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


def test_committed_sweep_schema_is_current():
    """scenarios/sweeps/schema.json matches the sweep file model."""
    from sim.sweep import sweep_json_schema

    committed = json.loads((ROOT / "scenarios" / "sweeps" / "schema.json").read_text())
    assert committed == json.loads(json.dumps(sweep_json_schema())), (
        "regenerate with: treatsim schema --sweep --out scenarios/sweeps/schema.json")


def _small_file(tmp_path: Path) -> Path:
    small = tmp_path / "small.yaml"
    small.write_text(
        f"extends: {ROOT / 'scenarios' / 'example.yaml'}\n"
        "population: {initial: {community: 200, in_treatment: 200}, incidence_per_year: 30}\n"
        "keyworkers: {staff: 4}\n"
        "run: {warmup_years: 1, years: 1}\n")
    return small


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupted_run_keeps_finished_replications(tmp_path, sig):
    """Ctrl-C (or a scheduler's SIGTERM) to the whole process group part-way through a
    pool run: the replications already finished are written, marked incomplete."""
    out_dir = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(_small_file(tmp_path)), "--reps", "500",
         "--workers", "2", "--out", str(out_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    for line in proc.stderr:  # progress lines: wait until some replications are done
        if "3/500" in line:
            break
    os.killpg(proc.pid, getattr(signal, sig))
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout
    meta = json.loads((out_dir / "run.json").read_text())
    assert meta["complete"] is False
    done = meta["replications"]
    assert 3 <= len(done) < 500
    yearly = pd.read_parquet(out_dir / "yearly.parquet")
    assert sorted(yearly["rep"].unique()) == done
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupted_compare_stops_and_writes_nothing(tmp_path, sig):
    """Ctrl-C (or SIGTERM, as the what-if page sends to cancel a run) part-way through
    the first scenario of a comparison stops it: exit 130, no table, no report, and the
    second scenario never starts."""
    base = _small_file(tmp_path)
    alt = tmp_path / "alt.yaml"
    alt.write_text(f"extends: {base}\nname: alt\nkeyworkers: {{staff: 5}}\n")
    out, report = tmp_path / "cmp", tmp_path / "report.html"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "compare", str(base), str(alt), "--reps", "500",
         "--workers", "2", "--no-checks", "--out", str(out), "--report", str(report)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    for line in proc.stderr:
        if "3/500" in line:
            break
    os.killpg(proc.pid, getattr(signal, sig))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "alt:" not in stderr and "interrupted" in stderr
    assert not out.exists() and not report.exists()


@pytest.mark.slow
def test_compare_command_writes_tables_and_report_and_refuses_mismatched_years(tmp_path):
    base = _small_file(tmp_path)
    alt = tmp_path / "alt.yaml"
    alt.write_text(f"extends: {base}\nname: alt\nkeyworkers: {{mode: queue}}\n")
    out, report = tmp_path / "cmp", tmp_path / "r" / "report.html"
    report.parent.mkdir()  # a report's folder must exist: a typo in it is refused up front
    res = subprocess.run([sys.executable, "-m", "sim", "compare", str(base), str(alt),
                          "--reps", "2", "--out", str(out), "--report", str(report),
                          "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert "diff" in res.stdout and "95% CI of the paired difference" in res.stdout
    for name in ("summary", "comparison", "yearly", "timeseries", "people"):
        assert (out / f"{name}.parquet").exists()
    meta = json.loads((out / "run.json").read_text())
    assert meta["scenarios"] == ["example", "alt"] and meta["replications"] == 2
    assert '<section id="answer"' in report.read_text()
    longer = tmp_path / "longer.yaml"
    longer.write_text(f"extends: {base}\nname: longer\nrun: {{years: 2}}\n")
    bad = subprocess.run([sys.executable, "-m", "sim", "compare", str(base), str(longer),
                          "--out", str(tmp_path / "no")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode == 2 and "run.years" in bad.stderr
    assert not (tmp_path / "no").exists()


def test_the_national_benchmark_runs_england_national_without_warm_up():
    from benchmarks.scenarios import national

    sc = national(2)
    assert (sc.run.warmup_years, sc.run.years, sc.run.follow_up_days) == (0, 2, 0.0)
    assert sc.name == "england_national"
    assert sc.population.initial.in_treatment == 150_000
    assert sc.triage.waiting_risks and sc.relapse.sustained_recovery_days is None
