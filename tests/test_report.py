"""The HTML report renders in a real browser with every section and image present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import small

from sim.analysis.compare import compare
from sim.analysis.report import SECTIONS, render

pytestmark = pytest.mark.model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    base = small({"keyworkers.staff": 4})
    cap = small({"name": "cap40", "description": "Caseloads capped at 40 with today's staff.",
                 "keyworkers.staff": 4, "keyworkers.mode": "queue"})
    cmp = compare(base, [cap], reps=3, seed=8)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(cmp, seconds=1.0), encoding="utf-8")
    return path


def test_report_is_self_contained_with_every_section(report):
    text = report.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}"' in text
    assert "Caseloads capped at 40 with today" in text  # the plain-English answer
    assert text.count("data:image/png;base64,") == 2  # forest plot and trends
    assert not re.search(r'src="(?!data:)', text)  # nothing fetched from elsewhere
    assert "95% CI" in text and "paired difference" in text


def _chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium")
        pytest.skip("chromium is not installed (CI installs it)")
    return CHROMIUM


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([browser, *FLAGS, *profile, "--virtual-time-budget=5000",
                          "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    images = int(re.search(r'data-images="(\d+)"', html).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', html).group(1))
    assert images == 2 and loaded == images  # every embedded chart decoded and drawn
    shot = tmp_path / "report.png"
    run = subprocess.run([browser, *FLAGS, *profile, "--window-size=1200,3000",
                          f"--screenshot={shot}", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert pixels.size == (1200, 3000) and hi - lo > 100  # a real page, not a blank one
