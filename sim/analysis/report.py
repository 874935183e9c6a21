"""A self-contained HTML report of a comparison, for a commissioner to read and email.

Sections (each an ``<section id=...>``): ``answer`` (the result in plain English),
``headline`` (metrics with 95% intervals), ``differences`` (forest plot), ``trends`` (time
series with interval bands), ``costs``, ``changes`` (what differs between the scenario
files), ``assumptions`` (and sources) and ``provenance``. Images are PNGs embedded as
base64, so the file has no dependencies.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import hashlib
import html
import io
import math
import re
from typing import Any

import matplotlib
import pandas as pd

from .. import __version__
from ..metrics import HEADLINE, METRICS, format_value
from ..scenario import resolved_yaml
from ..stats import t_interval
from ..vocab import COST_SERVICES
from .compare import Comparison

SECTIONS = ("answer", "headline", "differences", "trends", "costs", "changes",
            "assumptions", "provenance")
ANSWER_METRICS = ("wait_treatment_median_days", "in_treatment_during",
                  "successful_completion_rate", "deaths", "cost_total_gbp",
                  "cost_per_completion_gbp", "waiting_list_end", "caseload_mean")
COLOURS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000", "#2e75b6")

MODEL_ASSUMPTIONS = (
    "Each person is simulated individually from referral to exit and relapse; rates come "
    "from the scenario file, which cites its sources.",
    "Differences are paired: every scenario runs the same replications on common random "
    "numbers, so the same people are referred at the same times unless a policy changes "
    "what happens to them.",
    "Intervals are 95% t-intervals over replications of each replication's average over "
    "the reporting years (the warm-up years are left out).",
    "Caseload pressure changes drop-out and completion through the scenario's pressure "
    "table, anchored at the good-practice caseload of 40.",
    "Costs are the scenario's unit costs: staff per worker-year, treatment per day, rehab "
    "per week, HAT fixed cost a year and medicine for every place in 6-month blocks.",
)


fmt = format_value


def fmt_diff(x: float, unit: str) -> str:
    """A signed difference in the metric's unit (percentage points for shares)."""
    if x is None or math.isnan(x):
        return "–"
    sign = "+" if x > 0 else "−" if x < 0 else "±"
    if unit == "share":
        return f"{sign}{abs(100 * x):.1f} points"
    return sign + fmt(abs(x), unit)


def _label(metric: str) -> str:
    return METRICS.get(metric, {}).get("label", metric)


def _unit(metric: str) -> str:
    return METRICS.get(metric, {}).get("unit", "")


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def _title(sc: Any) -> str:
    """The scenario in a phrase: the first clause of its description (or its name)."""
    text = " ".join((sc.description or sc.name).split())
    first = re.split(r"(?<=[a-z0-9)])[.;:] ", text)[0].rstrip(".;:")
    return first if len(first) <= 160 else sc.name


def answer_sentences(cmp: Comparison) -> list[str]:
    """Plain-English sentences: for each alternative, what changes and by how much."""
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    out = []
    for sc in cmp.scenarios[1:]:
        parts = []
        for metric in ANSWER_METRICS:
            if (sc.name, metric) not in d.index:
                continue
            row = d.loc[(sc.name, metric)]
            unit, label = _unit(metric), _label(metric).lower()
            base = s.loc[(cmp.base, metric), "mean"]
            alt = s.loc[(sc.name, metric), "mean"]
            lo, hi = row["ci_low"], row["ci_high"]
            if math.isnan(lo) or (lo == hi == row["diff_mean"] == 0):
                continue  # no interval, or no change at all (e.g. no waits in either)
            ci = f"difference {fmt_diff(row['diff_mean'], unit)}, 95% CI {fmt_diff(lo, unit)} " \
                 f"to {fmt_diff(hi, unit)}"
            if lo > 0 or hi < 0:
                verb = "rises" if row["diff_mean"] > 0 else "falls"
                parts.append(f"{label} {verb} from {fmt(base, unit)} to {fmt(alt, unit)} "
                             f"({ci})")
            elif metric in ("cost_total_gbp", "wait_treatment_median_days"):
                parts.append(f"{label} shows no clear change ({fmt(base, unit)} against "
                             f"{fmt(alt, unit)}; {ci})")
        if not parts:
            parts.append("no headline measure changes clearly at this number of "
                         "replications")
        out.append(f"<b>{html.escape(_title(sc))}</b> (compared with "
                   f"{html.escape(cmp.base)}): " + "; ".join(html.escape(p) for p in parts)
                   + ".")
    return out


def _headline_html(cmp: Comparison) -> str:
    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"]) if len(cmp.comparison) else None
    head = "".join(f"<th>{html.escape(sc.name)}<br><small>mean (95% CI)</small></th>"
                   for sc in cmp.scenarios)
    head += "".join(f"<th>{html.escape(sc.name)} − {html.escape(cmp.base)}<br>"
                    f"<small>paired difference (95% CI)</small></th>"
                    for sc in cmp.scenarios[1:])
    rows = []
    for metric in HEADLINE:
        unit = _unit(metric)
        cells = []
        for sc in cmp.scenarios:
            r = s.loc[(sc.name, metric)] if (sc.name, metric) in s.index else None
            cells.append("<td>–</td>" if r is None else
                         f"<td>{fmt(r['mean'], unit)}<br><small>{fmt(r['ci_low'], unit)} to "
                         f"{fmt(r['ci_high'], unit)}</small></td>")
        for sc in cmp.scenarios[1:]:
            if d is None or (sc.name, metric) not in d.index:
                cells.append("<td>–</td>")
                continue
            r = d.loc[(sc.name, metric)]
            clear = not math.isnan(r["ci_low"]) and (r["ci_low"] > 0 or r["ci_high"] < 0)
            cls = ' class="clear"' if clear else ""
            cells.append(f"<td{cls}>{fmt_diff(r['diff_mean'], unit)}<br><small>"
                         f"{fmt_diff(r['ci_low'], unit)} to {fmt_diff(r['ci_high'], unit)}"
                         f"</small></td>")
        rows.append(f"<tr><th>{html.escape(_label(metric))}</th>{''.join(cells)}</tr>")
    return (f"<table><tr><th>measure</th>{head}</tr>{''.join(rows)}</table>"
            "<p class=note>Shaded differences are clear: their 95% interval excludes zero.</p>")


def _forest(cmp: Comparison) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = cmp.summary.set_index(["scenario", "metric"])
    d = cmp.comparison.set_index(["scenario", "metric"])
    alts = cmp.scenarios[1:]
    metrics = [m for m in HEADLINE if (cmp.base, m) in s.index]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(metrics) * max(1, len(alts)) + 1.2))
    y = 0
    ticks, labels = [], []
    for metric in metrics:
        base = s.loc[(cmp.base, metric), "mean"]
        for j, sc in enumerate(alts):
            if (sc.name, metric) not in d.index or not base:
                continue
            r = d.loc[(sc.name, metric)]
            lo, mid, hi = (100 * r[k] / abs(base) for k in ("ci_low", "diff_mean", "ci_high"))
            colour = COLOURS[(j + 1) % len(COLOURS)]
            if not math.isnan(lo):
                ax.plot([lo, hi], [y, y], color=colour, lw=2.5)
            ax.plot([mid], [y], "o", color=colour,
                    label=sc.name if metric == metrics[0] else None)
            ticks.append(y)
            labels.append(_label(metric) if j == 0 else "")
            y += 1
        y += 0.4
    ax.axvline(0, color="#444", lw=1)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"change from {cmp.base}, % of its mean (95% CI)")
    if alts:
        ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _band(ax: Any, ts: pd.DataFrame, column: str, name: str, colour: str,
          x: str = "month") -> None:
    grouped = ts.groupby(x)[column]
    xs, means, los, his = [], [], [], []
    for key, vals in grouped:
        mean, _, lo, hi, _ = t_interval(vals.to_numpy(dtype=float))
        xs.append(key)
        means.append(mean)
        los.append(mean if math.isnan(lo) else lo)
        his.append(mean if math.isnan(hi) else hi)
    ax.plot(xs, means, color=colour, lw=1.8, label=name)
    ax.fill_between(xs, los, his, color=colour, alpha=0.2, lw=0)


def _trends(cmp: Comparison) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts_all = cmp.timeseries()
    yearly = cmp.yearly()
    monthly = (("in_treatment", "People in treatment"),
               ("waiting", "Waiting (triage + keyworker)"),
               ("caseload_per_worker", "Caseload per keyworker"))
    annual = (("deaths", "Deaths a year"), ("cost_total_gbp", "Total cost a year (£)"))
    fig, axes = plt.subplots(3, 2, figsize=(10, 9))
    flat = axes.ravel()
    for i, sc in enumerate(cmp.scenarios):
        colour = COLOURS[i % len(COLOURS)]
        ts = ts_all[ts_all["scenario"] == sc.name].copy()
        ts["waiting"] = ts["keyworker_waiting"] + ts["triage_waiting"]
        ts["years"] = (ts["month"] - 1) / 12 - sc.run.warmup_years + 1 / 12
        for ax, (col, title) in zip(flat[:3], monthly, strict=True):
            _band(ax, ts, col, sc.name, colour, x="years")
            ax.set_title(title, fontsize=10)
        yr = yearly[yearly["scenario"] == sc.name]
        for ax, (metric, title) in zip(flat[3:5], annual, strict=True):
            _band(ax, yr[yr["metric"] == metric], "value", sc.name, colour, x="year")
            ax.set_title(title, fontsize=10)
    for ax in flat[:3]:
        ax.axvspan(ax.get_xlim()[0], 0, color="#eee", zorder=0)
        ax.set_xlabel("years from the end of the warm-up (grey: warm-up)", fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for ax in flat[3:5]:
        ax.set_xlabel("reporting year", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    flat[5].axis("off")
    flat[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _costs_html(cmp: Comparison) -> str:
    s = cmp.summary.set_index(["scenario", "metric"])
    rows = []
    for metric in [f"cost_{c}_gbp" for c in COST_SERVICES] + ["cost_total_gbp",
                                                             "cost_per_completion_gbp",
                                                             "successful_completions"]:
        cells = "".join(
            f"<td>{fmt(s.loc[(sc.name, metric), 'mean'], _unit(metric))}</td>"
            if (sc.name, metric) in s.index else "<td>–</td>" for sc in cmp.scenarios)
        rows.append(f"<tr><th>{html.escape(_label(metric))}</th>{cells}</tr>")
    head = "".join(f"<th>{html.escape(sc.name)}</th>" for sc in cmp.scenarios)
    return (f"<table><tr><th>a year, mean over replications</th>{head}</tr>{''.join(rows)}"
            "</table>")


def _changes_html(cmp: Comparison) -> str:
    base_text = resolved_yaml(cmp.scenarios[0]).splitlines()
    out = []
    for sc in cmp.scenarios[1:]:
        diff = difflib.unified_diff(base_text, resolved_yaml(sc).splitlines(),
                                    fromfile=cmp.base, tofile=sc.name, lineterm="", n=2)
        lines = []
        for line in diff:
            cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
            lines.append(f'<span class="{cls}">{html.escape(line)}</span>')
        body = "\n".join(lines) or "(no difference in the scenario files)"
        out.append(f"<h3>{html.escape(cmp.base)} → {html.escape(sc.name)}</h3><pre>{body}</pre>")
    return "".join(out)


def _assumptions_html(cmp: Comparison) -> str:
    items = "".join(f"<li>{html.escape(a)}</li>" for a in MODEL_ASSUMPTIONS)
    scen = []
    for sc in cmp.scenarios:
        pol = "".join(
            f"<li>{p.date}: {html.escape(p.note or 'policy')}</li>" for p in sc.policies)
        scen.append(f"<li><b>{html.escape(sc.name)}</b>: {html.escape(sc.description)}"
                    + (f"<ul>{pol}</ul>" if pol else "") + "</li>")
    return (f"<h3>The model</h3><ul>{items}</ul><h3>The scenarios</h3><ul>{''.join(scen)}"
            "</ul><p>Each scenario file cites the report or study behind its figures "
            "beside each value; national evidence is listed in "
            "<code>calibration/evidence.yaml</code> and each area's fit in "
            "<code>calibration/fitted/</code>.</p>")


def _provenance_html(cmp: Comparison, seconds: float) -> str:
    """The provenance table: version, seed, scenario hashes, replications, time (s)."""
    rows = [("treatsim version", __version__), ("seed", str(cmp.seed)),
            ("replications per scenario", str(cmp.reps)),
            ("report written", dt.datetime.now().strftime("%Y-%m-%d %H:%M")),
            ("run time", f"{seconds:.1f} s")]
    for sc in cmp.scenarios:
        digest = hashlib.sha256(resolved_yaml(sc).encode()).hexdigest()[:16]
        rows.append((f"scenario {sc.name}", f"sha256 {digest}; start {sc.run.start_date}, "
                     f"warm-up {sc.run.warmup_years} y, reporting {sc.run.years} y"))
    if cmp.precision_note:
        rows.append(("precision", cmp.precision_note))
    for w in cmp.warnings:
        rows.append(("warning", w))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #1f4e79;padding-bottom:.2em;
margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.35em .6em;text-align:right;vertical-align:top}
th:first-child{text-align:left}td.clear{background:#fff2cc}small{color:#666}
.answer p{font-size:1.05em;background:#f3f7fb;border-left:4px solid #1f4e79;padding:.6em .8em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
.add{color:#0a6b0a}.del{color:#a31515}.note{color:#555;font-size:.9em}.warn{color:#a31515}
img{max-width:100%}
"""


def _sections(cmp: Comparison, seconds: float, answer: str) -> dict[str, tuple[str, str]]:
    """Each section's id -> (heading, HTML)."""
    return {
        "answer": ("The answer", answer),
        "headline": ("Headline measures", _headline_html(cmp)),
        "differences": ("Differences from the baseline", _forest(cmp)),
        "trends": ("Over time", _trends(cmp)),
        "costs": ("Costs", _costs_html(cmp)),
        "changes": ("What changed between the scenario files", _changes_html(cmp)),
        "assumptions": ("Assumptions and sources", _assumptions_html(cmp)),
        "provenance": ("How this was run", _provenance_html(cmp, seconds)),
    }


def render(cmp: Comparison, seconds: float = 0.0, title: str | None = None) -> str:
    """The whole report as one HTML string."""
    title = title or f"{', '.join(s.name for s in cmp.scenarios[1:])} compared with {cmp.base}"
    warn = "".join(f"<p class=warn>{html.escape(w)}</p>" for w in cmp.warnings)
    answer = "".join(f"<p>{s}</p>" for s in answer_sentences(cmp))
    with matplotlib.rc_context({"text.parse_math": False}):  # a "$" in a name is text
        parts = _sections(cmp, seconds, answer + warn)
    body = "".join(f'<section id="{key}" class="{key}"><h2>{name}</h2>{content}</section>'
                   for key, (name, content) in parts.items())
    script = ("<script>window.addEventListener('load',function(){var i=document.images,"
              "ok=0;for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0)ok++}"
              "document.body.setAttribute('data-images',i.length);"
              "document.body.setAttribute('data-images-loaded',ok)});</script>")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f'<meta name="generator" content="treatsim {__version__}"><title>'
            f"{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=note>treatsim {__version__}, "
            f"{cmp.reps} replications per scenario on common random numbers, seed {cmp.seed}."
            f"</p>{body}{script}</body></html>")
