"""The what-if page in a real browser: ``treatsim app`` started on a free port and driven
with Playwright on Debian's chromium. A control is changed, the comparison run, the report
and the what-if downloaded, and the what-if validated and rerun through the command line
to the same answer. A screenshot of the answered page is kept as a test artefact
(``results/test-artefacts/app_page.png``, or ``$TREATSIM_ARTEFACTS``)."""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
RUN_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert proc.poll() is None, "treatsim app stopped before it served the page"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the page did not answer on {url} within {seconds} s")


@pytest.fixture
def app(tmp_path):
    """``treatsim app`` on a free port, with its results folder in tmp_path."""
    port = _free_port()
    out = tmp_path / "app"
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "sim", "app", "--port", str(port),
                             "--out", str(out), "--workers", "2"], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, out
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _set_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    page.wait_for_timeout(700)  # let the page rerun with the new value


def _artefact() -> Path:
    folder = Path(os.environ.get("TREATSIM_ARTEFACTS") or ROOT / "results" / "test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "app_page.png"


def test_change_run_download_and_rerun_through_the_command_line(app, tmp_path):
    from playwright.sync_api import sync_playwright

    url, out = app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                accept_downloads=True)
        page.goto(url)
        page.get_by_text("What if? A local drug treatment system").wait_for(timeout=60_000)
        page.get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name="middlesbrough", exact=True).click()
        page.get_by_text("7-10 people").first.wait_for(timeout=30_000)  # its description
        page.get_by_text("The what-if is valid").wait_for(timeout=60_000)
        _set_number(page, "Keyworkers (full-time equivalents)", "15")
        _set_number(page, "Replications of each scenario", "2")
        _set_number(page, "Replications per check", "2")
        page.get_by_text("keyworkers.staff: 15").wait_for(timeout=30_000)  # the live YAML
        page.get_by_role("button", name="Run the comparison").click()
        page.get_by_text("Downloads", exact=True).wait_for(timeout=RUN_SECONDS * 1000)
        page.get_by_text("What drives this answer", exact=True).wait_for()
        page.locator('img[alt^="Tornado chart of what drives"]').first.wait_for()
        page.locator('img[alt^="Forest plot"], img[alt*="difference"]').first.wait_for()
        page.set_viewport_size({"width": 1400, "height": 4200})  # the page scrolls inside
        page.wait_for_timeout(1500)
        page.screenshot(path=str(_artefact()))
        files = {}
        for name in ("Report (HTML)", "What-if (YAML)"):
            with page.expect_download() as d:
                page.get_by_role("button", name=name, exact=True).click()
            files[name] = tmp_path / d.value.suggested_filename
            d.value.save_as(files[name])
        browser.close()

    report = files["Report (HTML)"].read_text(encoding="utf-8")
    assert "<h2>The answer</h2>" in report
    yaml_file = files["What-if (YAML)"]
    text = yaml_file.read_text(encoding="utf-8")
    assert "keyworkers.staff: 15" in text and "extends: middlesbrough.yaml" in text
    # saved beside a copy of the baseline, it validates and reruns to the page's answer
    work = tmp_path / "work"
    shutil.copytree(ROOT / "scenarios", work / "scenarios")
    shutil.copytree(ROOT / "calibration", work / "calibration")
    shutil.copy(yaml_file, work / "scenarios" / yaml_file.name)
    cli = [sys.executable, "-m", "sim"]
    done = subprocess.run([*cli, "validate", f"scenarios/{yaml_file.name}"], cwd=work,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    command = re.search(r"^#   treatsim compare (.+)$", text, re.M).group(1)
    args = [*shlex.split(command), "--no-checks", "--out", str(tmp_path / "cli"), "--quiet"]
    assert args[1] == f"scenarios/{yaml_file.name}"
    rerun = subprocess.run([*cli, "compare", *args], cwd=work, capture_output=True, text=True,
                           timeout=RUN_SECONDS, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert rerun.returncode == 0, rerun.stderr
    (page_table,) = (out / "runs").glob("*/tables/comparison.csv")
    columns = ("metric", "diff_mean", "ci_low", "ci_high")
    assert _rows(page_table, columns) == _rows(tmp_path / "cli" / "comparison.csv", columns)


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8") as f:
        return [tuple(r[c] for c in columns) for r in csv.DictReader(f)]


def _processes_naming(text: str) -> list[str]:
    """Command lines of running processes (from /proc) that mention ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def test_closing_the_tab_cancels_its_run(app):
    from playwright.sync_api import sync_playwright

    url, out = app
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("The what-if is valid").wait_for(timeout=60_000)
        _set_number(page, "Replications of each scenario", "50")
        page.get_by_role("button", name="Run the comparison").click()
        page.get_by_text("Running:").wait_for(timeout=60_000)
        (folder,) = (out / "runs").iterdir()
        assert _processes_naming(folder.name), "the run did not start"
        page.close()
        end = time.monotonic() + 30
        while _processes_naming(folder.name):
            assert time.monotonic() < end, "the run went on after its tab closed"
            time.sleep(0.5)
        browser.close()
    assert not (folder / "done.json").exists()
