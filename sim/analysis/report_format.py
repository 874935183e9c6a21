"""How the report writes numbers, money, years and scenario names for a board to read,
and the pieces its charts share: axis formatters that never repeat a tick label or use an
offset like "1e6", and PNG images with their alt text.

Every signed difference in the report is written by :func:`fmt_diff`, so a share's
difference is always in percentage points and money is always rounded the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..metrics import METRICS, format_diff, format_interval, format_money, format_value
from ..metrics.catalogue import MINUS, POINTS
from ..vocab import DAYS_PER_YEAR

COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")


fmt_money = format_money
fmt_diff = format_diff


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x: float | None, unit: str) -> str:
    """A level in ``unit``: shares as %, money as :func:`fmt_money`, days with one
    decimal, counts as :func:`sim.metrics.format_value` writes them."""
    if unit == "GBP":
        return fmt_money(x)
    return format_value(None if _missing(x) else float(x), unit)


def fmt_interval(lo: float | None, hi: float | None, unit: str, diff: bool = True) -> str:
    """"a to b" for an interval of a difference (or of a level with ``diff=False``)."""
    if diff:
        return format_interval(lo, hi, unit)
    if _missing(lo) or _missing(hi):
        return "no interval"
    return f"{fmt(lo, unit)} to {fmt(hi, unit)}"


def fmt_share(p: float | None) -> str:
    """A probability as a whole percentage ("83%")."""
    return "–" if _missing(p) else f"{100 * float(p):.0f}%"


def label(metric: str) -> str:
    """The metric's label in :data:`sim.metrics.METRICS` (its name if it has none)."""
    return METRICS.get(metric, {}).get("label", metric)


def unit(metric: str) -> str:
    """The metric's unit in :data:`sim.metrics.METRICS` ('' if it has none)."""
    return METRICS.get(metric, {}).get("unit", "")


def unit_words(unit_name: str, diff: bool = False) -> str:
    """The unit as an axis or table reads it."""
    if unit_name == "share":
        return POINTS if diff else "%"
    return {"GBP": "£", "days": "days", "people per worker": "people per keyworker"
            }.get(unit_name, unit_name)


# --------------------------------------------------------------------------- dates


def long_date(d: dt.date) -> str:
    """'6 December 2022'."""
    return f"{d.day} {d:%B %Y}"


def financial_year(d: dt.date) -> str:
    """The English financial year (April to March) holding ``d``: '2022/23'."""
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def model_date(sc: Any, day: float) -> dt.date:
    """The calendar date of model day ``day`` of scenario ``sc``."""
    return sc.run.start_date + dt.timedelta(days=float(day))


def year_label(sc: Any, year: int) -> str:
    """Reporting year ``year`` (1 is the first after the settling-in years; 0 and below
    are settling-in years) as a financial year. A model year is 365 days from the
    reporting start, so it drifts a day each leap year; it is named by the financial
    year holding its middle, which is the financial year it starts in whenever it starts
    on or after 1 April."""
    first = (sc.run.warmup_years + year - 1) * DAYS_PER_YEAR
    return financial_year(model_date(sc, first + DAYS_PER_YEAR / 2))


def reporting_years(sc: Any) -> list[str]:
    """The reporting years as financial years: ['2022/23', '2023/24', ...]."""
    return [year_label(sc, y) for y in range(1, sc.run.years + 1)]


def settling_years(sc: Any) -> list[str]:
    """The settling-in (warm-up) years, left out of every figure, as financial years."""
    return [year_label(sc, y) for y in range(1 - sc.run.warmup_years, 1)]


def span(years: list[str]) -> str:
    """'2022/23 to 2024/25', or the one year."""
    if not years:
        return ""
    return years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"


# --------------------------------------------------------------------------- names


def short_title(sc: Any, limit: int = 70) -> str:
    """The scenario in a phrase: the first clause of its description (its name when it
    has none), cut at a word before ``limit`` characters."""
    text = " ".join((sc.description or sc.name).split())
    first = re.split(r"(?<=[a-z0-9)])[.;:] ", text)[0].rstrip(".;:")
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def full_description(sc: Any) -> str:
    """The scenario's whole description on one line (its name when it has none)."""
    return " ".join((sc.description or sc.name).split())


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Image:
    """An embedded chart: its ``data:`` URI and the alt text saying what it shows."""

    src: str
    alt: str


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(fig: Any, alt: str) -> Image:
    """The figure as an embedded PNG with ``alt`` text; the figure is closed."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return Image("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(),
                 " ".join(alt.split()))


def _decimals(values: list[float]) -> int:
    """The fewest decimals (0 to 4) that write every tick value exactly."""
    finite = sorted(v for v in values if math.isfinite(v))
    steps = [b - a for a, b in zip(finite, finite[1:], strict=False) if b > a]
    tol = 1e-6 * (min(steps) if steps else max(1.0, *map(abs, finite or [1.0])))
    for d in range(5):
        if all(abs(v - round(v, d)) <= tol for v in finite):
            return d
    return 4


def _tick_formatter(write: Callable[[float, int, float], str],
                    scale: Callable[[float], float]) -> Any:
    """A tick formatter writing each tick with ``write(value, decimals, ref)``: ``ref`` is
    the largest tick in magnitude (so every tick shares its scale, £k or £m), and the
    decimals are the fewest that write every tick's ``value / scale(ref)`` exactly, so no
    two labels are the same."""
    from matplotlib.ticker import Formatter

    class Ticks(Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return write(x, 1, abs(x))

        def format_ticks(self, values: Any) -> list[str]:
            vals = [float(v) for v in values]
            ref = max((abs(v) for v in vals), default=0.0)
            d = _decimals([v / scale(ref) for v in vals])
            return [write(v, d, ref) for v in vals]

    return Ticks()


def _money_scale(ref: float) -> float:
    return 1e6 if ref >= 1e6 else 1e3 if ref >= 1e4 else 1.0


def _write_money(v: float, decimals: int, ref: float) -> str:
    div = _money_scale(ref)
    text = f"{abs(v) / div:,.{decimals}f}"
    suffix = {1e6: "m", 1e3: "k"}.get(div, "")
    sign = MINUS if v < 0 and re.search(r"[1-9]", text) else ""
    return f"{sign}£{text}{suffix}"


def axis_formatter(unit_name: str, diff: bool = False) -> Any:
    """A formatter for an axis in ``unit_name``: money as £, £k or £m (one scale for the
    whole axis), shares as % (or as signed percentage points for a difference), other
    numbers with thousands commas; signed when ``diff``. Each label writes its tick
    exactly, no two are the same, and there is no offset text like "1e6"."""
    def signed(text: str, v: float) -> str:
        if v == 0 or not re.search(r"[1-9]", text):
            return "£0" if unit_name == "GBP" else "0"
        if not diff:
            return text
        return ("+" if v > 0 else MINUS) + text.lstrip(MINUS)

    if unit_name == "GBP":
        return _tick_formatter(lambda v, d, ref: signed(_write_money(v, d, ref), v),
                               _money_scale)
    scale = 100.0 if unit_name == "share" else 1.0
    percent = "%" if unit_name == "share" and not diff else ""
    return _tick_formatter(
        lambda v, d, ref: signed(f"{scale * v:,.{d}f}".replace("-", MINUS), v) + percent,
        lambda ref: 1.0 / scale)
