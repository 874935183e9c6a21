"""The HTML report: every section, board wording (financial years, £, percentage points),
alt text on every chart, the parts an uncertainty analysis adds, the PDF and the
provenance; rendered in a real browser where it matters."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import stat
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, chromium, small

import sim
from sim.analysis.compare import compare
from sim.analysis.report import SECTIONS, UNCERTAINTY_SECTIONS, render
from sim.analysis.report_format import (
    axis_formatter,
    financial_year,
    fmt_diff,
    fmt_money,
    reporting_years,
    year_label,
)
from sim.analysis.report_pdf import PdfError, write_pdf
from sim.analysis.report_text import changes, fit
from sim.io.provenance import provenance
from sim.metrics import HEADLINE
from sim.uncertainty.results import SETTINGS, Uncertainty

pytestmark = pytest.mark.model

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
WARNING = ("If caseloads affect drop-out less than assumed, capping them no longer raises "
           "planned exits.")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cmp():
    base = small({"keyworkers.staff": 4})
    cap = small({"name": "cap40", "description": "Caseloads capped at 40 with today's staff.",
                 "keyworkers.staff": 4, "keyworkers.mode": "queue"})
    return compare(base, [cap], reps=3, seed=8)


def fake_uncertainty(alt: str, draws: int = 40) -> Uncertainty:
    """A small hand-made uncertainty analysis of ``alt`` against its base."""
    rng = np.random.default_rng(3)
    intervals = pd.DataFrame([
        {"scenario": alt, "metric": m, "diff_mean": 0.01, "ui_low": -0.02, "ui_high": 0.04,
         "p_better": 0.7 if m != "new_presentations" else np.nan} for m in HEADLINE])
    per_draw = pd.DataFrame(
        [{"scenario": alt, "draw": d, "metric": "successful_completions",
          "diff": float(rng.normal(5, 4))} for d in range(draws)]
        + [{"scenario": alt, "draw": d, "metric": "cost_total_gbp",
            "diff": float(rng.normal(20_000, 30_000))} for d in range(draws)])
    judgements = {"caseload_pressure_dropout": "caseload effect on drop-out",
                  "relapse_hazard_shape": "how soon relapse comes"}
    checks = pd.DataFrame([
        {"scenario": alt, "metric": m, "judgement": j, "label": lab, "setting": s,
         "diff_mean": {"low": -0.01, "neutral": -0.002, "central": 0.02, "high": 0.04}[s],
         "ci_low": -0.03, "ci_high": 0.05}
        for m in ("planned_exit_share", "cost_total_gbp") for j, lab in judgements.items()
        for s in SETTINGS])
    tornado = pd.DataFrame([
        {"scenario": alt, "metric": m, "parameter": p, "label": lab, "kind": kind,
         "low_diff": lo, "high_diff": hi, "central_diff": 0.02}
        for m in ("planned_exit_share", "cost_total_gbp")
        for p, lab, kind, lo, hi in (
            ("caseload_pressure_dropout", "caseload effect on drop-out", "judgement",
             -0.01, 0.05),
            ("mortality_on_ost", "deaths on OST (Cornish 2010)", "cited", 0.015, 0.025))])
    return Uncertainty(source="the priors in calibration/evidence.yaml", draws=draws,
                       reps_per_draw=2, intervals=intervals, per_draw=per_draw,
                       checks=checks, tornado=tornado, warnings=[WARNING])


@pytest.fixture(scope="module")
def report(cmp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(cmp, seconds=1.0), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def uncertain_report(cmp, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("uncertain") / "report.html"
    unc = fake_uncertainty(cmp.scenarios[1].name)
    path.write_text(render(cmp, seconds=1.0, uncertainty=unc), encoding="utf-8")
    return path


class Images(HTMLParser):
    """Every <img> of a page, as its attributes, and the ids of its sections in order."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({k: v or "" for k, v in attrs})
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")


def parsed(text: str) -> Images:
    page = Images()
    page.feed(text)
    return page


def without_images(text: str) -> str:
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', text)


def section(text: str, name: str) -> str:
    m = re.search(rf'<section id="{name}".*?</section>', text, flags=re.S)
    assert m, name
    return m.group(0)


# --------------------------------------------------------------------------- the HTML


def test_report_is_self_contained_with_every_section(report):
    text = report.read_text()
    for name in SECTIONS:
        assert f'<section id="{name}"' in text
    for name in UNCERTAINTY_SECTIONS:
        assert f'<section id="{name}"' not in text  # no uncertainty analysis given
    assert "Caseloads capped at 40 with today" in text  # the alternative's description
    assert text.count("data:image/png;base64,") == 7  # forest plot and six trends
    assert not re.search(r'src="(?!data:)', text)  # nothing fetched from elsewhere
    assert "paired difference" in text and "95% interval" in text
    assert 'name="generator" content="treatsim' in text[:4096]  # the ownership mark


def test_titles_use_descriptions_not_file_names(report):
    text = report.read_text()
    title = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert title == "Caseloads capped at 40 with today&#39;s staff"
    assert "Example county" in re.search(r'class="subtitle">(.*?)<', text).group(1)
    head = re.search(r"<tr><th>measure</th>(.*?)</tr>", section(text, "headline")).group(1)
    assert "cap40" not in head and "Caseloads capped" in head


def test_years_are_financial_years(report, cmp):
    text = without_images(report.read_text())
    assert reporting_years(cmp.scenarios[0]) == ["2023/24", "2024/25"]
    assert "2023/24 to 2024/25" in section(text, "answer")
    assert "2022/23" in text  # the settling-in year, named
    assert "after warm-up" not in text and "after the warm-up" not in text
    assert "reporting year 1" not in text.lower()


def test_money_is_rounded_and_has_no_exponent(report):
    text = without_images(report.read_text())
    words = re.sub(r"<style>.*?</style>|<details>.*?</details>|<section id=\"provenance\".*?"
                   r"</section>", "", text, flags=re.S)  # CSS colours, the raw YAML, hashes
    assert not re.search(r"\d[eE][+-]?\d", words)  # no 1e6 anywhere
    costs = section(text, "costs")
    assert re.search(r"£\d[\d.,]*(k|m)?</td>", costs)
    assert not re.search(r"£\d{1,3},\d{3},\d{3}", costs)  # millions are £1.2m, not £1,234,567


def test_share_differences_are_in_percentage_points(report):
    text = report.read_text()
    headline = section(text, "headline")
    for row in re.findall(r"<tr><th>(Planned exits|Penetration)</th>(.*?)</tr>", headline):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row[1])
        assert cells[0].split("<br>")[0].endswith("%")  # levels in %
        assert "percentage points" in cells[-1] and "%" not in cells[-1]
    forest = parsed(section(text, "differences")).images[0]["alt"]
    assert "Planned exits: " in forest and "percentage points" in forest
    assert not re.search(r"\d points", text.replace("percentage points", ""))


def test_every_image_has_real_alt_text(report, uncertain_report):
    for path in (report, uncertain_report):
        images = parsed(path.read_text()).images
        assert images
        for img in images:
            alt = img.get("alt", "")
            assert len(alt) > 40 and alt.lower() != "chart", alt


def test_definitions_limits_and_fit_sections(report):
    text = report.read_text()
    definitions = section(text, "definitions")
    for metric in HEADLINE:
        assert sim.metrics.METRICS[metric]["definition"].replace("'", "&#39;") in definitions
    assert "95 such intervals in 100" in definitions
    assert 5 <= section(text, "limits").count("<li>") <= 8
    assert "not calibrated" in section(text, "fit")  # the example has no fit


def test_uncertainty_adds_the_warning_first_drivers_and_cost_effectiveness(uncertain_report):
    text = uncertain_report.read_text()
    page = parsed(text)
    assert page.sections[0] == "judgement"
    assert set(SECTIONS + UNCERTAINTY_SECTIONS) <= set(page.sections)
    assert text.index('id="judgement"') < text.index("<h1>")  # above everything
    warning = section(text, "judgement")
    assert "This answer rests on a judgement" in warning and "capping them no longer" in warning
    headline = section(text, "headline")
    assert "Uncertainty interval" in headline and "Chance it is better" in headline
    assert "70%" in headline and "40 parameter sets" in headline
    drivers = section(text, "drivers")
    assert drivers.count("<img") == 2  # planned exits and total cost
    assert "caseload effect on drop-out (judgement)" in drivers
    assert "The answer if this judgement is wrong" in drivers
    assert "no effect" in drivers and "high end of its range" in drivers
    assert 'class="flip"' in drivers  # the low setting points the other way
    ce = section(text, "cost-effectiveness")
    alts = [img["alt"] for img in parsed(ce).images]
    assert len(alts) == 2 and "plane" in alts[0] and "acceptability" in alts[1]


def test_report_is_deterministic_but_for_the_clock(cmp, report):
    first, second = report.read_text(encoding="utf-8"), render(cmp, seconds=2.0)
    clock = re.compile(r"<tr><th>(comparison finished|run time)</th><td>.*?</td></tr>")
    assert clock.sub("", first) == clock.sub("", second)


# --------------------------------------------------------------------------- the pieces


@pytest.mark.unit
def test_financial_years_and_money():
    assert financial_year(dt.date(2022, 4, 1)) == "2022/23"
    assert financial_year(dt.date(2023, 3, 31)) == "2022/23"
    assert financial_year(dt.date(1999, 12, 1)) == "1999/00"
    mb = sim.load_scenario(ROOT / "scenarios" / "middlesbrough.yaml")
    assert reporting_years(mb) == ["2022/23", "2023/24", "2024/25"]  # though 365-day years drift
    assert year_label(mb, 0) == "2021/22"
    assert [fmt_money(x) for x in (1380, 25_300, 250_000, 1_234_567, -45_000)] == [
        "£1,380", "£25.3k", "£250k", "£1.2m", "−£45k"]
    assert fmt_diff(0.0512, "share") == "+5.1 percentage points"
    assert fmt_diff(-1380, "GBP") == "−£1,380" and fmt_diff(0.0, "days") == "0.0 days"


@pytest.mark.unit
def test_axis_labels_are_exact_unique_and_have_no_offset():
    from sim.analysis.report_format import pyplot

    plt = pyplot()
    for unit, values in (("GBP", [2.9e6, 3.1e6]), ("share", [0.1482, 0.1491]),
                         ("people", [1e6, 1e6 + 3])):
        fig, ax = plt.subplots()
        ax.plot([0, 1], values)
        ax.yaxis.set_major_formatter(axis_formatter(unit))
        fig.canvas.draw()
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert len(labels) == len(set(labels)) > 1, labels
        assert ax.yaxis.get_offset_text().get_text() == ""
        assert not any("e" in x.lower() for x in labels), labels
        plt.close(fig)
    ticks = axis_formatter("share", diff=True).format_ticks([0, 0.0025, 0.005, 0.0075])
    assert ticks == ["0", "+0.25", "+0.50", "+0.75"]  # exact, not +0.2 for 0.25 points


@pytest.mark.unit
def test_bands_never_go_below_zero():
    from sim.analysis.report_charts import _band_table

    values = pd.DataFrame({"day": [1, 1, 1], "waiting": [0.0, 0.0, 3.0]})
    band = _band_table(values, "day", "waiting")
    assert band["low"].min() >= 0 and band["high"].iloc[0] > band["mean"].iloc[0]


@pytest.mark.unit
def test_fit_of_a_calibrated_baseline():
    mb = sim.load_scenario(ROOT / "scenarios" / "middlesbrough.yaml")
    got = fit(mb)
    assert got["calibrated"] and got["fitted"] == 1 and got["held_out"] == 2
    assert {r["role"] for r in got["rows"]} == {"fitted", "held out"}
    assert got["chart"] is not None and got["chart"].alt


@pytest.mark.unit
def test_what_changed_is_in_words():
    base = sim.load_scenario(ROOT / "scenarios" / "middlesbrough.yaml")
    alt = sim.load_scenario(ROOT / "scenarios" / "middlesbrough_hat_end.yaml")
    ts = pd.DataFrame({"day": [365 * 3 + 243.3] * 2, "in_hat": [8.0, 10.0]})
    fake = SimpleNamespace(base=base.name, scenarios=[base, alt],
                           results={alt.name: SimpleNamespace(timeseries=ts)})
    (change,) = changes(fake)
    text = " ".join(change["sentences"])
    assert ("On 6 December 2022 heroin-assisted treatment (HAT) closes; its patients (about "
            "9 at the time) move 60% to long-acting OST, 20% to detox, 20% to residential "
            "rehab.") in text
    assert "keyworkers (full-time equivalent) becomes 19.5 (from 11)" in text
    assert change["diff"]  # the raw difference stays, collapsed


@pytest.mark.unit
def test_provenance_names_the_commit_and_versions():
    prov = provenance()
    assert set(prov["versions"]) >= {"python", "treatsim", "simpy", "numpy", "scipy",
                                     "pandas", "matplotlib", "pydantic", "pyarrow"}
    assert prov["versions"]["numpy"] == np.__version__
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not run from a git checkout")
    assert re.fullmatch(r"[0-9a-f]{40}", prov["git_commit"])
    assert isinstance(prov["git_dirty"], bool)


# --------------------------------------------------------------------------- the PDF


def _fake_browser(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-chromium"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.unit
def test_write_pdf_fails_cleanly(tmp_path, monkeypatch):
    page = tmp_path / "r.html"
    page.write_text("<p>x</p>")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"old")
    sleep = shutil.which("sleep")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PdfError, match="Chromium, which is not installed"):
        write_pdf(page, pdf)
    with pytest.raises(PdfError, match="exit code 3"):
        write_pdf(page, pdf, browser=_fake_browser(tmp_path, "echo broken >&2; exit 3"))
    with pytest.raises(PdfError, match="within 1 s"):
        write_pdf(page, pdf, timeout=1, browser=_fake_browser(tmp_path, f"exec {sleep} 30"))
    assert pdf.read_bytes() == b"old"  # never half written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-chromium", "r.html", "r.pdf"]


# --------------------------------------------------------------------------- in a browser


def _dump_dom(page: Path, profile: Path) -> str:
    dom = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = chromium()
    html = _dump_dom(report, tmp_path / "profile")
    for name in SECTIONS:
        assert f'id="{name}"' in html, name
    images = int(re.search(r'data-images="(\d+)"', html).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', html).group(1))
    assert images == 7 and loaded == images  # every embedded chart decoded and drawn
    shot = tmp_path / "report.png"
    run = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--window-size=1200,3000", f"--screenshot={shot}", report.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    lo, hi = pixels.getextrema()
    assert pixels.size == (1200, 3000) and hi - lo > 100  # a real page, not a blank one


@pytest.mark.browser
def test_judgement_warning_is_the_first_section_in_the_browser(uncertain_report, tmp_path):
    html = _dump_dom(uncertain_report, tmp_path / "profile")
    page = parsed(html)
    assert page.sections[0] == "judgement", page.sections
    assert WARNING.replace("'", "&#39;") in section(html, "judgement") or \
        WARNING in section(html, "judgement")
    assert set(SECTIONS + UNCERTAINTY_SECTIONS) <= set(page.sections)
    loaded = int(re.search(r'data-images-loaded="(\d+)"', html).group(1))
    assert loaded == len(page.images)


def _pdf_text(pdf: Path) -> str | None:
    """The PDF's text by pdftotext or pypdf, or None when neither is installed; typographic
    ligatures spelt out (Chromium 156 writes "Diﬀerences" with the one-glyph "ﬀ")."""
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                             text=True, timeout=60, check=True)
        return unicodedata.normalize("NFKC", out.stdout)
    try:
        import pypdf
    except ImportError:
        return None
    text = "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(str(pdf)).pages)
    return unicodedata.normalize("NFKC", text)


@pytest.mark.browser
def test_write_pdf_has_the_sections_of_the_html(uncertain_report, tmp_path):
    chromium()
    pdf = tmp_path / "report.pdf"
    write_pdf(uncertain_report, pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert not [p for p in tmp_path.iterdir() if p.name != "report.pdf"]  # no temporary left
    headings = re.findall(r'<section id="[^"]+"[^>]*>\s*<h2>(.*?)</h2>',
                          uncertain_report.read_text())
    assert len(headings) == len(SECTIONS + UNCERTAINTY_SECTIONS)
    text = _pdf_text(pdf)
    if text is not None:
        flat = " ".join(text.split())
        for heading in headings:
            assert heading.replace("&#39;", "'") in flat, heading
        return
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages > 1  # neither pdftotext nor pypdf: the page count and the DOM instead
    html = _dump_dom(uncertain_report, tmp_path / "profile")
    for name in SECTIONS + UNCERTAINTY_SECTIONS:
        assert f'id="{name}"' in html, name


@pytest.mark.slow
@pytest.mark.browser
def test_middlesbrough_hat_report_says_its_benefit_rests_on_the_caseload_judgement(tmp_path):
    """The main command's question, at 4 replications with only the caseload judgement
    checked: the report opens, in the browser, with the plain-words warning."""
    from sim.execute.executors import Executor
    from sim.scenario import load_scenario
    from sim.uncertainty.analysis import analyse
    from sim.uncertainty.priors import load_priors

    base = load_scenario(ROOT / "scenarios" / "middlesbrough.yaml")
    alt = load_scenario(ROOT / "scenarios" / "middlesbrough_hat_end.yaml")
    cmp = compare(base, [alt], reps=4, workers=2)
    priors = [p for p in load_priors() if p.group == "caseload_effect"]
    unc = analyse(cmp, priors, Executor(workers=2), checks=True)
    assert unc.warnings, unc.checks
    page = tmp_path / "hat_end.html"
    page.write_text(render(cmp, 1.0, unc), encoding="utf-8")
    html = _dump_dom(page, tmp_path / "profile")
    assert parsed(html).sections[0] == "judgement"
    text = " ".join(re.sub(r"<[^>]+>", " ", section(html, "judgement")).split())
    assert ("This answer rests on a judgement, not a measurement: the assumed effect of "
            "keyworker caseload on drop-out and completion.") in text
    assert "With no effect, the difference in planned exits is" in text


@pytest.mark.unit
def test_a_foreign_pdf_is_not_treatsims(tmp_path):
    from sim.io.outputs import OutputError, owned_file, prepare_file

    theirs = tmp_path / "board.pdf"
    theirs.write_bytes(b"%PDF-1.4\n" + b"x" * 10_000 + b"\n%%EOF\n")
    assert not owned_file(theirs)
    with pytest.raises(OutputError, match="already exists"):
        prepare_file(theirs)


@pytest.mark.browser
def test_a_printed_pdf_can_be_replaced_by_the_next_run(report, tmp_path):
    from sim.io.outputs import owned_file, prepare_file

    chromium()
    pdf = tmp_path / "report.pdf"
    write_pdf(report, pdf)
    assert pdf.read_bytes().rstrip().endswith(b"%treatsim report")
    assert owned_file(pdf) and prepare_file(pdf) == pdf  # no --force needed
    text = _pdf_text(pdf)
    assert text is None or "The answer" in " ".join(text.split())  # still a readable PDF
