"""The report's words: what changed between the scenarios (in sentences, from the
policies and the settings that differ), how well the baseline fits its area, the
definitions, and what the model leaves out.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
from pathlib import Path
from typing import Any

from ..metrics import HEADLINE, METRICS
from ..scenario import ScenarioError, resolved_yaml
from ..scenario.params import PolicyError, get_parameter
from ..scenario.yamlread import read_yaml
from .compare import Comparison
from .report_format import (
    Image,
    fmt,
    fmt_money,
    full_description,
    label,
    long_date,
    short_title,
    unit,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"hat": "heroin-assisted treatment (HAT)", "rehab": "residential rehab"}
SERVICE_COLUMNS = {"hat": "in_hat", "rehab": "in_rehab"}
TARGETS = {"ost": "oral OST (opioid substitution)", "ost_long_acting": "long-acting OST",
           "psychosocial": "psychosocial support", "detox": "detox",
           "rehab": "residential rehab", "planned_exit": "a planned exit"}
PARAMETERS = {
    "keyworkers.staff": "keyworkers (full-time equivalent)",
    "keyworkers.caseload_cap": "the cap on each keyworker's caseload",
    "keyworkers.mode": "how keyworker places work",
    "modalities.hat.places": "HAT places",
    "modalities.detox.inpatient_beds": "inpatient detox beds",
    "modalities.detox.inpatient_share": "the share of detoxes done as an inpatient",
    "modalities.rehab.budget_per_year_gbp": "the residential rehab budget a year",
    "population.incidence_per_year": "new people with problem drug use a year",
}
MODES = {"queue": "capped caseloads with a waiting list",
         "pressure": "no cap, so caseloads grow under pressure"}
MAX_CHANGES = 8

LIMITS = (
    "Drugs only: alcohol-only clients, about three in ten of everyone in treatment in "
    "England, are not modelled, so totals are not comparable with all-substance figures.",
    "One area with closed borders: people can move away and leave the model, but nobody "
    "moves in from neighbouring areas or uses services across a border.",
    "How keyworker caseloads change drop-out and completion is a stated judgement, not a "
    "measurement: no study measures the effect above 40 people per keyworker. Any answer "
    "that changes caseloads rests on it.",
    "Housing need changes drop-out risk, but there is no explicit recovery housing, "
    "housing service or homelessness pathway.",
    "Costs are unit costs (staff per worker-year, treatment per day, rehab per week, HAT "
    "fixed and medicine costs), not the commissioner's budgets or contracts; overheads and "
    "costs to health, justice and other services are left out.",
    "Outcomes stop at treatment and deaths: quality of life, crime, employment, housing "
    "and families are not measured, and people under 18 are outside the model.",
    "A policy takes full effect on its date: new keyworkers need no recruitment or "
    "training time, and a closing service moves all its patients on one day.",
    "Many rates are England-wide figures or stated judgements where the area's own "
    "reports give none, and each baseline is fitted to only a few local figures.",
)

INTERVAL_MEANING = (
    "A 95% interval from replications shows how precisely the runs pin down the model's "
    "average with its inputs as set: if the comparison were repeated many times with "
    "fresh random numbers, 95 such intervals in 100 would contain that average. It does "
    "not include doubt about the inputs themselves; the uncertainty interval, where shown, "
    "does.")


# --------------------------------------------------------------------------- what changed


def _value(key: str, value: Any) -> str:
    if key == "keyworkers.mode":
        return MODES.get(str(value), str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if key.endswith("_gbp") or "_gbp." in key:
            return fmt_money(value)
        if key.endswith("share") or ".probabilities." in key:
            return f"{100 * value:.1f}%".replace(".0%", "%")
        return f"{value:,g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(key, v)}" for k, v in value.items())
    return "none" if value is None else str(value)


def _parameter(key: str) -> str:
    return PARAMETERS.get(key) or "the setting " + " › ".join(
        p.replace("_", " ") for p in key.split("."))


def _before(sc: Any, day: float, key: str) -> Any:
    """The value of ``key`` in force in ``sc`` just before model day ``day``."""
    phase = sc.phases()[0][1]
    for start, ph in sc.phases():
        if start < day:
            phase = ph
    try:
        return get_parameter(phase.model_dump(mode="python", by_alias=True), key)
    except PolicyError:
        return None


def _people_in(cmp: Comparison, sc: Any, service: str, day: float) -> float | None:
    """Mean over replications of the people in ``service`` at the last month's end
    before ``day``."""
    ts = cmp.results[sc.name].timeseries
    column = SERVICE_COLUMNS.get(service)
    before = ts[ts["day"] <= day]
    if column not in ts or before.empty:
        return None
    last = before["day"].max()
    return float(before[before["day"] == last][column].mean())


def _policy_sentences(cmp: Comparison, sc: Any, p: Any) -> list[str]:
    when = f"On {long_date(p.date)}"
    day = sc.day_of(p.date)
    out = []
    if p.close:
        moves = ", ".join(f"{100 * share:.0f}% to {TARGETS.get(t, t)}"
                          for t, share in sorted((p.transition or {}).items(),
                                                 key=lambda kv: -kv[1]) if share > 0)
        people = _people_in(cmp, sc, p.close, day)
        who = f"its patients (about {people:.0f} at the time)" if people else "its patients"
        out.append(f"{when} {SERVICES.get(p.close, p.close)} closes; {who} move {moves}.")
    if p.open:
        out.append(f"{when} {SERVICES.get(p.open, p.open)} opens.")
    for key, new in p.set.items():
        old = _before(sc, day, key)
        was = f" (from {_value(key, old)})" if old is not None and old != new else ""
        out.append(f"{when} {_parameter(key)} becomes {_value(key, new)}{was}.")
    return out


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(data, list):
        out = {}
        for i, v in enumerate(data):
            out.update(_flat(v, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): data}


def _setting_sentences(base: Any, sc: Any) -> list[str]:
    """Sentences for the settings that differ from the start (policies aside)."""
    skip = ("name", "description", "policies", "run")
    a = _flat({k: v for k, v in json.loads(base.model_dump_json(by_alias=True)).items()
               if k not in skip})
    b = _flat({k: v for k, v in json.loads(sc.model_dump_json(by_alias=True)).items()
               if k not in skip})
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    out = [f"From the start, {_parameter(k)} is {_value(k, b.get(k))} instead of "
           f"{_value(k, a.get(k))}." for k in keys[:MAX_CHANGES]]
    if len(keys) > MAX_CHANGES:
        out.append(f"{len(keys) - MAX_CHANGES} more settings differ; the full list is "
                   "below.")
    return out


def _raw_diff(cmp: Comparison, sc: Any) -> list[dict[str, str]]:
    base_text = resolved_yaml(cmp.scenarios[0]).splitlines()
    diff = difflib.unified_diff(base_text, resolved_yaml(sc).splitlines(), fromfile=cmp.base,
                                tofile=sc.name, lineterm="", n=2)
    return [{"text": line, "cls": "add" if line.startswith("+") else
             "del" if line.startswith("-") else ""} for line in diff]


def changes(cmp: Comparison) -> list[dict[str, Any]]:
    """For each alternative: its description, what changes in sentences and the raw
    difference between the two resolved scenario files."""
    base = cmp.scenarios[0]
    out = []
    for sc in cmp.scenarios[1:]:
        sentences = _setting_sentences(base, sc)
        for p in sc.policies:
            if p not in base.policies:
                sentences += _policy_sentences(cmp, sc, p)
        for p in base.policies:
            if p not in sc.policies:
                sentences.append(f"The baseline's change on {long_date(p.date)} "
                                 f"({p.note or 'a policy'}) does not happen.")
        out.append({"title": short_title(sc), "description": full_description(sc),
                    "sentences": sentences or ["Nothing in the scenario files differs."],
                    "diff": _raw_diff(cmp, sc), "files": f"{cmp.base} → {sc.name}"})
    return out


# --------------------------------------------------------------------------- fit


def fitted_file(sc: Any) -> Path | None:
    """The calibration result of the baseline's area: ``calibration/fitted/<name>.yaml``
    beside the repository (or the working folder), else the fitted file the scenario's
    parameters were read from; None when there is none."""
    names = [REPO_ROOT / "calibration" / "fitted" / f"{sc.name}.yaml",
             Path.cwd() / "calibration" / "fitted" / f"{sc.name}.yaml"]
    names += sorted({Path(f) for f, _ in sc.source_lines[1].values()
                     if Path(f).parent.name == "fitted"})
    return next((p for p in names if p.is_file()), None)


def _target_row(t: dict[str, Any]) -> dict[str, str]:
    u = unit(str(t.get("metric", "")))
    tol = t.get("tolerance")
    return {"name": str(t.get("name", "")), "measure": label(str(t.get("metric", ""))),
            "role": "held out" if t.get("held_out") else "fitted",
            "reported": fmt(t.get("reported"), u),
            "tolerance": "±" + fmt(tol, u) if isinstance(tol, int | float) else "–",
            "simulated": fmt(t.get("simulated"), u),
            "within": "yes" if t.get("within") else "no"}


def _date(value: Any) -> str:
    try:
        return long_date(dt.date.fromisoformat(str(value)))
    except ValueError:
        return str(value or "an unrecorded date")


def fit(sc: Any) -> dict[str, Any]:
    """How well the baseline fits its area, from its calibration result: the targets
    against the simulated values, how many were fitted and held out, and the fit's
    chart. ``{"calibrated": False}`` when the baseline is not calibrated."""
    path = fitted_file(sc)
    if path is None:
        return {"calibrated": False, "name": short_title(sc)}
    try:
        data, _ = read_yaml(path, str(path))
    except (ScenarioError, OSError) as exc:  # a broken fit file does not stop the report
        return {"calibrated": False, "name": short_title(sc), "problem": str(exc)}
    targets = [t for t in data.get("targets") or [] if isinstance(t, dict)]
    rows = [_target_row(t) for t in targets]
    chart = None
    png_path = path.with_name(f"{path.stem}_fit.png")
    if png_path.is_file():
        area = str(data.get("area", sc.name)).replace("_", " ").title()
        chart = Image("data:image/png;base64," + base64.b64encode(png_path.read_bytes())
                      .decode(), f"Chart of each calibration target for {area}: the "
                      "figure reported for the area with its tolerance beside the value "
                      "the model simulates, for the targets it was fitted to and those "
                      "held out.")
    return {"calibrated": True, "name": short_title(sc), "file": path.name,
            "area": str(data.get("area", "")).replace("_", " ").title(),
            "date": _date(data.get("date")), "reps": data.get("reps"), "rows": rows,
            "fitted": sum(r["role"] == "fitted" for r in rows),
            "held_out": sum(r["role"] == "held out" for r in rows),
            "within": sum(r["within"] == "yes" for r in rows), "chart": chart}


# --------------------------------------------------------------------------- definitions


def definitions(extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Every headline measure (and ``extra`` ones) with its definition and unit."""
    out = []
    for metric in (*HEADLINE, *[m for m in extra if m not in HEADLINE]):
        info = METRICS.get(metric)
        if info:
            out.append({"label": info["label"], "definition": info["definition"],
                        "unit": {"share": "%", "GBP": "£"}.get(info["unit"],
                                                                info["unit"])})
    return out
