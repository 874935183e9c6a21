"""The what-if page, driven headless with Streamlit's AppTest: a preset run gives the
command line's answer, bad input runs nothing, and two sessions queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sim.analysis.compare import compare
from sim.app.runs import RUNS
from sim.scenario import load_scenario

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "sim" / "app" / "page.py"
SCENARIOS = ROOT / "scenarios"
TIMEOUT = 600


@pytest.fixture
def page_env(tmp_path, monkeypatch):
    """The page's settings: its own results folder in tmp_path, two workers."""
    out = tmp_path / "app"
    monkeypatch.setenv("TREATSIM_APP_OUT", str(out))
    monkeypatch.setenv("TREATSIM_APP_SCENARIOS", str(SCENARIOS))
    monkeypatch.setenv("TREATSIM_APP_WORKERS", "2")
    monkeypatch.chdir(ROOT)
    return out


def _page(preset: str | None, reps: int, checks: bool = False):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="area").select("middlesbrough").run()
    if preset:
        at.selectbox(key="preset").select(preset).run()
    at.number_input(key="w_reps").set_value(reps)
    at.toggle(key="w_checks").set_value(checks)
    return at.run()


def _job(at):
    from sim.app.ui import job_queue

    return job_queue().jobs[at.session_state["job"]]


def test_the_hat_end_preset_gives_the_command_lines_answer(page_env):
    at = _page("middlesbrough_hat_end", reps=3)
    assert at.number_input(key="w_staff").value == 19.5
    assert at.radio(key="w_hat").value == "close"
    at.button(key="run").click().run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    job = _job(at)
    assert job.state == "done"

    base = load_scenario(SCENARIOS / "middlesbrough.yaml")
    alt = load_scenario(SCENARIOS / "middlesbrough_hat_end.yaml")
    cmp = compare(base, [alt], reps=3, seed=base.run.seed)
    from sim.analysis.reload import load_comparison
    page, _, meta = load_comparison(job.folder / "tables")
    assert meta["replications"] == 3 and meta["seed"] == base.run.seed
    want = cmp.comparison.set_index("metric")
    got = page.comparison.set_index("metric")
    for metric in want.index:
        for col in ("diff_mean", "ci_low", "ci_high"):
            a, b = want.loc[metric, col], got.loc[metric, col]
            assert (a == b) or (a != a and b != b), (metric, col, a, b)
    # the plain-English answer on the page is the report's, from the same numbers
    from sim.analysis.report import context
    key_numbers = context(cmp)["answer"]["options"][0]["key_numbers"]
    shown = " ".join(m.value for m in at.markdown)
    for k in key_numbers:
        assert f"{k['label']}:** {k['base']} → {k['alt']} ({k['diff']}" in shown
    assert any(b.label == "Report (HTML)" for b in at.get("download_button"))


def test_shares_adding_to_90_show_the_message_and_run_nothing(page_env):
    at = _page("middlesbrough_hat_end", reps=2)
    at.number_input(key="w_share_ost_long_acting").set_value(50.0).run()
    errors = " ".join(e.value for e in at.error)
    assert "add up to 90%" in errors
    assert "policies[0].transition" in errors  # the loader's own key: message
    at.button(key="run").click().run()
    assert "Nothing was run" in " ".join(e.value for e in at.error)
    assert "job" not in at.session_state
    assert not any((page_env / RUNS).iterdir())
    assert not at.exception


def test_two_sessions_both_finish_one_after_the_other(page_env):
    pages = [_page("middlesbrough_cap40", reps=2), _page("middlesbrough_hat_end", reps=2)]
    failures: list[BaseException] = []

    def click(at) -> None:
        try:
            at.button(key="run").click().run(timeout=TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)

    threads = [threading.Thread(target=click, args=(at,)) for at in pages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not failures, failures
    jobs = sorted((_job(at) for at in pages), key=lambda j: j.started_at)
    assert [j.state for j in jobs] == ["done", "done"]
    first, second = jobs
    first_end = first.started_at + first.seconds
    assert second.queued_at < first_end  # asked while the first was running ...
    assert second.started_at >= first_end - 0.5  # ... so it waited for it (0.5 s: polling)
    from sim.app.ui import job_queue
    assert job_queue().running_peak == 1
