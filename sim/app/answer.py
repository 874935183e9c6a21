"""A finished run read back for the page: the report's own sentences, cards and charts
(drawn by :func:`sim.analysis.report.context` from the tables the run wrote), and the
files the page offers for download."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path
from typing import Any

from ..analysis.reload import load_comparison
from ..analysis.report import ANSWER_METRICS, context
from ..analysis.report_uncertainty import has_intervals, interval_cells
from ..uncertainty.results import Uncertainty
from .runs import PDF, REPORT, TABLES

CSV_TABLES = ("comparison", "summary", "yearly", "timeseries", "judgement_checks", "draws",
              "tornado")


@dataclasses.dataclass(kw_only=True)
class Answer:
    """What the page shows of one finished run.

    :ivar context: the report's content (see :func:`sim.analysis.report.context`).
    :ivar cards: one per answer measure: ``label``, ``base``, ``alt``, ``diff``,
        ``interval`` (95% from replications), ``ui`` (95% over parameter sets, '–'
        without draws), ``better`` (share of parameter sets), ``is_clear``.
    :ivar drivers: the judgement groups whose checks moved an answer measure beyond
        Monte Carlo noise, the largest shift first.
    """

    folder: Path
    context: dict[str, Any]
    cards: list[dict[str, Any]]
    seconds: float
    drivers: list[str] = dataclasses.field(default_factory=list)

    @property
    def report(self) -> Path:
        """The HTML report."""
        return self.folder / REPORT

    @property
    def pdf(self) -> Path | None:
        """The report's PDF, if one was printed."""
        path = self.folder / PDF
        return path if path.is_file() else None


def load_answer(folder: str | Path) -> Answer:
    """The answer of the finished run in ``folder``."""
    folder = Path(folder)
    cmp, unc, meta = load_comparison(folder / TABLES)
    seconds = float(meta.get("run_seconds") or 0.0)
    ctx = context(cmp, seconds, unc, meta)
    alt = cmp.scenarios[1].name
    cards = []
    for card in ctx["answer"]["options"][0]["key_numbers"]:
        metric = card["metric"]
        ui, better = interval_cells(unc, alt, metric) if has_intervals(unc) else ("–", "–")
        cards.append({**card, "ui": ui, "better": better})
    return Answer(folder=folder, context=ctx, cards=cards, seconds=seconds,
                  drivers=_drivers(unc))


def _drivers(unc: Uncertainty | None) -> list[str]:
    """The judgement groups that moved an answer measure beyond Monte Carlo noise, the
    largest first: each shift is measured in half-widths of its 95% interval, so that
    measures in different units (people, points, pounds) compare."""
    if unc is None or unc.checks.empty:
        return []
    checks = unc.checks[unc.checks["moved"] & unc.checks["metric"].isin(ANSWER_METRICS)]
    half = ((checks["ci_high"] - checks["ci_low"]) / 2).clip(lower=1e-12)
    size = checks.assign(size=checks["shift"].abs() / half).groupby("judgement", sort=False)
    return list(size["size"].max().sort_values(ascending=False, kind="stable").index)


def tables_zip(answer: Answer) -> bytes:
    """The run's tables as CSV files in one zip (in a fixed order, so the same run gives
    the same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in CSV_TABLES:
            path = answer.folder / TABLES / f"{name}.csv"
            if path.is_file():
                info = zipfile.ZipInfo(f"{name}.csv", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, path.read_bytes())
    return buf.getvalue()
