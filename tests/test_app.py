"""The what-if page's logic: controls to YAML and back, the page's own results folder,
the run queue (one run at a time, progress, cancelling, closed tabs)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pytest

from sim.app.jobs import JobQueue
from sim.app.runs import RunOptions, plan, results_folder, run_key
from sim.app.whatif import check_whatif, controls_from, policies, presets, whatif_yaml
from sim.io.outputs import OutputError
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINES = ["east_sussex", "gateshead", "hampshire", "middlesbrough", "rotherham"]


def _same_but_names(a, b) -> bool:
    """Two scenarios equal in everything but name, description and policy notes."""
    da, db = (s.model_dump(mode="json", by_alias=True) for s in (a, b))
    for d in (da, db):
        d.pop("name"), d.pop("description")
        for p in d.get("policies") or []:
            p.pop("note", None)
    return da == db


@pytest.mark.unit
@pytest.mark.parametrize("area", BASELINES)
def test_every_preset_round_trips_through_the_controls(area):
    base_file = SCENARIOS / f"{area}.yaml"
    base = load_scenario(base_file)
    found = presets(base_file)
    assert found, f"{area} has no what-if files"
    for preset in found:
        c = controls_from(base, base_file, preset)
        made = check_whatif(whatif_yaml(c, base), base_file, c.name)
        assert made.name == f"my_{preset.stem}"
        assert _same_but_names(made, load_scenario(preset)), preset.name


@pytest.mark.unit
def test_no_preset_gives_a_what_if_that_changes_nothing():
    base_file = SCENARIOS / "middlesbrough.yaml"
    base = load_scenario(base_file)
    c = controls_from(base, base_file)
    assert policies(c, base) == []
    made = check_whatif(whatif_yaml(c, base), base_file, c.name)
    assert _same_but_names(made, base)


@pytest.mark.unit
def test_each_control_is_one_line_of_the_what_if():
    base_file = SCENARIOS / "middlesbrough.yaml"
    base = load_scenario(base_file)
    c = controls_from(base, base_file)
    c.staff, c.cap, c.cap_level, c.detox_beds = 15.0, True, 35, 4
    c.change_date = dt.date(2023, 1, 1)
    (policy,) = policies(c, base)
    assert policy["date"] == dt.date(2023, 1, 1)
    assert policy["set"] == {"keyworkers.staff": 15, "keyworkers.mode": "queue",
                             "keyworkers.caseload_cap": 35,
                             "modalities.detox.inpatient_beds": 4}
    made = check_whatif(whatif_yaml(c, base), base_file, c.name)
    assert made.keyworkers.staff == 11  # the policy sets 15 from 2023-01-01
    assert "keyworkers.staff: 15" in whatif_yaml(c, base)


@pytest.mark.unit
def test_shares_adding_to_90_are_refused_by_the_loader_with_its_key():
    base_file = SCENARIOS / "middlesbrough.yaml"
    base = load_scenario(base_file)
    c = controls_from(base, base_file, SCENARIOS / "middlesbrough_hat_end.yaml")
    c.shares = {"ost_long_acting": 50.0, "detox": 20.0, "rehab": 20.0}
    with pytest.raises(ScenarioError) as err:
        check_whatif(whatif_yaml(c, base), base_file, c.name)
    message = err.value.message()
    assert f"{c.name}.yaml:" in message and "policies[0].transition" in message
    assert "0.9" in message


@pytest.mark.unit
def test_a_typed_what_if_is_checked_without_being_written(tmp_path):
    text = (SCENARIOS / "middlesbrough_cap40.yaml").read_text(encoding="utf-8")
    where = SCENARIOS / "not_saved_here.yaml"
    sc = load_scenario(where, text=text.replace("caseload_cap: 40", "caseload_cap: 30"))
    assert sc.name == "middlesbrough_cap40" and not where.exists()
    with pytest.raises(ScenarioError, match=r"not_saved_here.yaml:\d+: policies\[0\]\.set\."
                       r"keyworkers\.caseload_cap: must be at least 1, got 0"):
        load_scenario(where, text=text.replace("caseload_cap: 40", "caseload_cap: 0"))


@pytest.mark.unit
def test_the_page_writes_only_into_a_folder_of_its_own(tmp_path):
    mine = results_folder(tmp_path / "app")
    assert json.loads((mine / "manifest.json").read_text())["format"].startswith("treatsim")
    assert results_folder(mine) == mine  # its own folder again: fine
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="did not write"):
        results_folder(theirs)
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]


@pytest.mark.unit
def test_the_run_key_is_the_question():
    base_file = SCENARIOS / "middlesbrough.yaml"
    base = load_scenario(base_file)
    alt = load_scenario(SCENARIOS / "middlesbrough_cap40.yaml")
    opts = RunOptions(seed=1, reps=3)
    assert run_key(base, alt, opts) == run_key(base, alt, RunOptions(seed=1, reps=3))
    assert run_key(base, alt, opts) != run_key(base, alt, RunOptions(seed=2, reps=3))
    assert run_key(base, alt, opts) != run_key(base, base, opts)


@pytest.mark.unit
def test_the_run_command_is_the_command_line_the_yaml_gives(tmp_path):
    base_file = SCENARIOS / "middlesbrough.yaml"
    base = load_scenario(base_file)
    c = controls_from(base, base_file, SCENARIOS / "middlesbrough_hat_end.yaml")
    whatif = check_whatif(whatif_yaml(c, base), base_file, c.name)
    opts = RunOptions(seed=7, reps=3, checks=False, assumptions=(("caseload_effect", "low"),))
    p = plan(c, base, whatif, opts, tmp_path, workers=2, units=6)
    flags = ["--seed", "7", "--reps", "3", "--no-checks", "--assume", "caseload_effect=low"]
    assert p.argv[p.argv.index("--seed"):][:len(flags)] == flags
    assert ("treatsim compare scenarios/middlesbrough.yaml scenarios/my_middlesbrough_hat_end"
            ".yaml " + " ".join(flags)) in p.whatif_text
    assert p.folder.parent == tmp_path / "runs"


# --------------------------------------------------------------------------- the queue

SLEEPER = ("import sys, time\n"
           "for i in range(1, 4):\n"
           "    time.sleep({pause})\n"
           "    print(f'x: {{i}}/3 replications', file=sys.stderr, flush=True)\n"
           "sys.exit({code})\n")


def _job(q: JobQueue, tmp: Path, key: str, pause: float = 0.2, code: int = 0, owner=None):
    argv = [sys.executable, "-c", SLEEPER.format(pause=pause, code=code)]
    return q.submit(key, tmp / key, argv, units=3, owner=owner)


def _until(pred, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


@pytest.mark.model
def test_jobs_run_one_at_a_time_and_report_progress(tmp_path):
    q = JobQueue(slots=1, poll_seconds=0.05)
    a, b = _job(q, tmp_path, "a"), _job(q, tmp_path, "b")
    _until(lambda: a.state == "running")
    assert b.state == "queued" and q.ahead(b) == 1
    _until(lambda: a.finished and b.finished)
    assert (a.state, b.state) == ("done", "done") and q.running_peak == 1
    assert a.stages == {"x": (3, 3)} and a.fraction() == 1.0
    assert (tmp_path / "a" / "done.json").is_file()
    again = q.submit("a", tmp_path / "a", ["false"], units=3)
    assert again is a  # the same question is answered at once


@pytest.mark.model
def test_a_finished_folder_answers_a_new_server_at_once(tmp_path):
    q = JobQueue(slots=1, poll_seconds=0.05)
    a = _job(q, tmp_path, "a", pause=0.01)
    _until(lambda: a.finished)
    fresh = JobQueue(slots=1, poll_seconds=0.05)
    assert fresh.submit("a", tmp_path / "a", ["false"], units=3).state == "done"
    (tmp_path / "a" / "done.json").unlink()  # its folder was cleared: run it again
    again = fresh.submit("a", tmp_path / "a", ["false"], units=3)
    _until(lambda: again.finished)
    assert again.state == "failed"


@pytest.mark.model
def test_a_failed_run_says_why(tmp_path):
    q = JobQueue(slots=1, poll_seconds=0.05)
    bad = q.submit("bad", tmp_path / "bad", [sys.executable, "-c",
                   "import sys; print('scenarios/x.yaml:3: name: bad', file=sys.stderr); "
                   "sys.exit(2)"], units=1)
    _until(lambda: bad.finished)
    assert bad.state == "failed" and "scenarios/x.yaml:3: name: bad" in bad.message


@pytest.mark.model
def test_cancelling_stops_the_process_group(tmp_path):
    q = JobQueue(slots=1, poll_seconds=0.05)
    slow = _job(q, tmp_path, "slow", pause=30)
    _until(lambda: slow.state == "running")
    q.cancel(slow)
    _until(lambda: slow.proc.poll() is not None, 10)
    assert slow.state == "cancelled" and not (tmp_path / "slow" / "done.json").exists()


@pytest.mark.model
def test_a_closed_tab_cancels_its_run_and_its_queued_one(tmp_path):
    open_tabs = {"tab1", "tab2"}
    q = JobQueue(slots=1, poll_seconds=0.05, alive=lambda s: s in open_tabs,
                 grace_seconds=0.3)
    first = _job(q, tmp_path, "first", pause=30, owner="tab1")
    second = _job(q, tmp_path, "second", pause=30, owner="tab2")
    _until(lambda: first.state == "running")
    open_tabs.discard("tab2")
    _until(lambda: second.finished)
    assert second.state == "cancelled" and second.proc is None  # never started
    open_tabs.discard("tab1")
    _until(lambda: first.finished)
    assert first.state == "cancelled" and "closed" in first.message
    _until(lambda: first.proc.poll() is not None, 10)


# --------------------------------------------------------------------------- read back


@pytest.mark.model
def test_a_written_comparison_reads_back_to_the_same_report(tmp_path):
    """The page draws its answer from the folder a run wrote: read back, the comparison
    renders the very report the command wrote, byte for byte."""
    from sim.analysis.reload import load_comparison
    from sim.analysis.report import render
    from sim.cli import main

    out, report = tmp_path / "tables", tmp_path / "report.html"
    assert main(["compare", str(SCENARIOS / "middlesbrough.yaml"),
                 str(SCENARIOS / "middlesbrough_cap40.yaml"), "--reps", "2", "--no-checks",
                 "--assume", "middlesbrough_housing_need=high", "--out", str(out),
                 "--report", str(report), "--quiet"]) == 0
    cmp, unc, meta = load_comparison(out)
    assert cmp.assumptions == {"middlesbrough_housing_need": "high"}
    assert cmp.assumption_sentences and unc is None
    assert render(cmp, meta["run_seconds"], unc, run=meta) == report.read_text(encoding="utf-8")


@pytest.mark.model
def test_a_tab_that_reconnects_in_time_keeps_its_run(tmp_path):
    tabs = {"tab"}
    q = JobQueue(slots=1, poll_seconds=0.05, alive=lambda s: s in tabs, grace_seconds=2.0)
    job = _job(q, tmp_path, "j", pause=0.5, owner="tab")
    _until(lambda: job.state == "running")
    tabs.clear()  # the connection drops for half a second
    time.sleep(0.5)
    tabs.add("tab")
    _until(lambda: job.finished)
    assert job.state == "done"


@pytest.mark.unit
def test_drivers_are_ranked_by_shift_in_interval_widths_not_units():
    import pandas as pd

    from sim.app.answer import _drivers
    from sim.uncertainty.results import Uncertainty

    rows = [  # a big shift in pounds that is small against its interval, and a small
        # shift in people that is large against its own; one shift within noise
        ("cost_per_completion_gbp", "money", 500.0, 2000.0, True),
        ("successful_completions", "caseload", 10.0, 2.0, True),
        ("deaths", "noise", 50.0, 1.0, False),
    ]
    checks = pd.DataFrame([{"scenario": "alt", "metric": m, "judgement": j, "setting": "low",
                            "shift": shift, "ci_low": -half, "ci_high": half, "moved": moved}
                           for m, j, shift, half, moved in rows])
    assert _drivers(Uncertainty(checks=checks)) == ["caseload", "money"]
    assert _drivers(None) == [] and _drivers(Uncertainty()) == []
