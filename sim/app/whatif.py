"""The what-if page's controls, and the ``extends:`` what-if YAML they stand for.

Each control is one line of a what-if file: a value a policy sets on the change date,
or the HAT closure with its transition shares. :func:`controls_from` fills the controls
from a baseline and, optionally, one of its what-if files (a *preset*); lines of a preset
that no control covers are kept as they are. :func:`whatif_yaml` writes the file, and
:func:`check_whatif` validates it with the scenario loader exactly as if it were saved
beside the baseline, so the page's errors read as the command line's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from ..scenario import Scenario, ScenarioError, load_scenario
from ..scenario.yamlread import read_yaml
from ..vocab import TRANSITION_TARGETS

STAFF = "keyworkers.staff"
MODE = "keyworkers.mode"
CAP = "keyworkers.caseload_cap"
TRIAGE = "triage.capacity_per_week"
BEDS = "modalities.detox.inpatient_beds"
REHAB = "modalities.rehab.budget_per_year_gbp"
HAT_STEP = "modalities.ost.review.probabilities.hat"
CONTROLLED = (STAFF, MODE, CAP, TRIAGE, BEDS, REHAB, HAT_STEP)
"""The dotted paths the controls set; a preset's other lines are kept verbatim."""

WORDS = {STAFF: "keyworkers (full-time equivalents)", MODE: "keyworker caseloads",
         CAP: "caseload cap", TRIAGE: "assessments a week",
         BEDS: "inpatient detox beds", REHAB: "residential rehab budget (GBP a year)"}
"""Each control's path in words, for the what-if's description."""
VALUE_WORDS = {"queue": "capped", "pressure": "uncapped", None: "no limit"}

FILL_HAT_STEP = 0.02
"""Judgement: the chance at each OST review of a step to HAT that keeps its places full
(the value of the Middlesbrough "HAT kept full" what-if)."""

HAT_CHOICES = ("keep", "close", "fill")
TARGET_WORDS = {"ost": "OST", "ost_long_acting": "long-acting OST",
                "psychosocial": "psychosocial support", "detox": "detox", "rehab": "rehab",
                "planned_exit": "a planned exit"}
"""Where HAT patients may go, in words."""
DEFAULT_SHARES = {"ost_long_acting": 60, "detox": 20, "rehab": 20}
"""Transition shares (percent) offered when a HAT closure is first chosen: the judgement
of the Middlesbrough HAT-end what-if (most move to long-acting OST)."""


@dataclasses.dataclass(kw_only=True)
class Controls:
    """Every control of the page: what the what-if changes, and when.

    Money is in GBP a year, staff in full-time equivalents, capacities a week, shares in
    percent (0-100, adding up to 100).
    """

    base_file: str
    name: str
    description: str = ""
    preset: str = ""
    change_date: dt.date
    staff: float
    cap: bool
    cap_level: int
    triage_limited: bool
    triage_per_week: int
    detox_beds: int
    rehab_budget: float
    hat: str = "keep"
    hat_close_date: dt.date | None = None
    shares: dict[str, float] = dataclasses.field(default_factory=dict)
    extra_set: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_top: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_policies: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def reporting_start(base: Scenario) -> dt.date:
    """The first day of the base's reporting years (after the warm-up), the default
    change date."""
    start = base.run.start_date
    return start.replace(year=start.year + base.run.warmup_years)


def baseline_controls(base: Scenario, base_file: str | Path) -> Controls:
    """The controls at the baseline's own values: a what-if that changes nothing."""
    kw = base.keyworkers
    triage = base.triage.capacity_per_week
    return Controls(
        base_file=str(base_file), name=f"my_{base.name}_what_if",
        change_date=reporting_start(base), staff=float(kw.staff), cap=kw.mode == "queue",
        cap_level=int(kw.caseload_cap), triage_limited=triage is not None,
        triage_per_week=int(triage or 0), detox_beds=int(base.modalities.detox.inpatient_beds),
        rehab_budget=float(base.modalities.rehab.budget_per_year_gbp),
        shares={t: float(DEFAULT_SHARES.get(t, 0)) for t in TRANSITION_TARGETS})


def presets(base_file: str | Path) -> list[Path]:
    """The what-if files beside ``base_file`` that extend it, by name."""
    base_file = Path(base_file)
    out = []
    for path in sorted(base_file.parent.glob("*.yaml")):
        try:
            data, _ = read_yaml(path, str(path))
        except ScenarioError:
            continue
        if isinstance(data, dict) and data.get("extends") == base_file.name:
            out.append(path)
    return out


def controls_from(base: Scenario, base_file: str | Path, preset: str | Path | None = None
                  ) -> Controls:
    """The controls for ``base``, filled from the what-if file ``preset`` if given."""
    c = baseline_controls(base, base_file)
    if preset is None:
        return c
    data, _ = read_yaml(Path(preset), str(preset))
    c.preset = Path(preset).stem
    c.name = f"my_{data.get('name', c.preset)}"[:64]
    c.description = " ".join(str(data.get("description", "")).split())
    c.extra_top = {k: v for k, v in data.items()
                   if k not in ("extends", "name", "description", "policies", "$schema")}
    first = True
    for policy in data.get("policies") or []:
        if policy.get("close") == "hat":
            c.hat = "fill" if c.hat == "fill" else "close"
            c.hat_close_date = _date(policy["date"])
            c.shares = {t: round(100 * float(policy.get("transition", {}).get(t, 0)), 6)
                        for t in TRANSITION_TARGETS}
        elif "set" in policy and first:
            first = False
            c.change_date = _date(policy["date"])
            _take_sets(c, dict(policy["set"]))
        else:
            c.extra_policies.append(dict(policy))
    return c


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _take_sets(c: Controls, sets: dict[str, Any]) -> None:
    """Fill the controls from one policy's ``set``; keep the keys no control covers."""
    c.staff = float(sets.pop(STAFF, c.staff))
    if MODE in sets:
        c.cap = sets.pop(MODE) == "queue"
    c.cap_level = int(sets.pop(CAP, c.cap_level))
    if TRIAGE in sets:
        value = sets.pop(TRIAGE)
        c.triage_limited, c.triage_per_week = value is not None, int(value or 0)
    c.detox_beds = int(sets.pop(BEDS, c.detox_beds))
    c.rehab_budget = float(sets.pop(REHAB, c.rehab_budget))
    if HAT_STEP in sets:
        sets.pop(HAT_STEP)
        c.hat = "fill"
    c.extra_set = sets


def _sets(c: Controls, base: Scenario) -> dict[str, Any]:
    """The values the change-date policy sets: each control that differs from the
    baseline, then the preset's other lines."""
    kw = base.keyworkers
    out: dict[str, Any] = {}
    if c.staff != kw.staff:
        out[STAFF] = _number(c.staff)
    if c.cap != (kw.mode == "queue"):
        out[MODE] = "queue" if c.cap else "pressure"
    if c.cap and (MODE in out or c.cap_level != kw.caseload_cap):
        out[CAP] = int(c.cap_level)  # a cap switched on is written with its level
    triage = int(c.triage_per_week) if c.triage_limited else None
    if triage != base.triage.capacity_per_week:
        out[TRIAGE] = triage
    if c.detox_beds != base.modalities.detox.inpatient_beds:
        out[BEDS] = int(c.detox_beds)
    if c.rehab_budget != base.modalities.rehab.budget_per_year_gbp:
        out[REHAB] = _number(c.rehab_budget)
    if c.hat == "fill":
        out[HAT_STEP] = FILL_HAT_STEP
    out.update(c.extra_set)
    return out


def _number(x: float) -> int | float:
    """A whole number as an int, so the file reads 19 rather than 19.0."""
    return int(x) if float(x).is_integer() else float(x)


def policies(c: Controls, base: Scenario) -> list[dict[str, Any]]:
    """The what-if's policies in date order (a HAT closure before other changes on the
    same day, as the HAT-end what-if has them)."""
    out: list[tuple[dt.date, int, dict[str, Any]]] = []
    if c.hat in ("close", "fill") and (c.hat == "close" or c.hat_close_date):
        day = c.hat_close_date or c.change_date
        shares = {t: round(v / 100, 6) for t, v in c.shares.items() if v}
        out.append((day, 0, {"date": day, "note": "HAT closes; patients moved by their "
                             "transition plans", "close": "hat", "transition": shares}))
    sets = _sets(c, base)
    if sets:
        out.append((c.change_date, 1, {"date": c.change_date,
                                       "note": "changes made on the what-if page",
                                       "set": sets}))
    out += [(_date(p["date"]), 2, p) for p in c.extra_policies]
    return [p for _, _, p in sorted(out, key=lambda x: (x[0], x[1]))]


def whatif_yaml(c: Controls, base: Scenario, extends: str | None = None,
                command: str = "") -> str:
    """The what-if file: comments saying where it came from and how to rerun it, then
    ``extends``, ``name``, ``description``, the preset's other top-level keys and the
    policies.

    :param extends: the baseline as the file names it (default: its file name, for a
        file saved beside it).
    """
    head = ["# A what-if made on the treatsim what-if page"
            + (f", starting from {c.preset}.yaml" if c.preset else "") + ".",
            "# Save it beside the baseline (scenarios/) and rerun the page's answer with:",
            f"#   {command}" if command else "#   treatsim compare BASELINE THIS_FILE"]
    body: dict[str, Any] = {"extends": extends or Path(c.base_file).name, "name": c.name,
                            "description": c.description or describe(c, base)}
    body.update(c.extra_top)
    pols = policies(c, base)
    if pols:
        body["policies"] = pols
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=88,
                          allow_unicode=True)
    return "\n".join(head) + "\n" + text


def describe(c: Controls, base: Scenario) -> str:
    """The what-if's changes in words, for its description: "Keyworkers (full-time
    equivalents) 11 → 15, from 2022-04-01. ..."."""
    from ..scenario.params import get_parameter

    raw = base.model_dump(mode="python", by_alias=True)
    day = c.change_date.isoformat()
    said = []
    for key, value in _sets(c, base).items():
        if key == HAT_STEP:
            continue
        said.append(f"{WORDS.get(key, key)} {_word(get_parameter(raw, key))} → "
                    f"{_word(value)}")
    parts = [f"{'; '.join(said)}, from {day}"] if said else []
    parts = [parts[0][:1].upper() + parts[0][1:]] if parts else []
    if c.hat == "fill":
        parts.append(f"HAT places kept full from {day}")
    if c.hat == "close" or (c.hat == "fill" and c.hat_close_date):
        moves = ", ".join(f"{v:g}% to {TARGET_WORDS.get(t, t)}"
                          for t, v in c.shares.items() if v)
        parts.append(f"HAT closes on {(c.hat_close_date or c.change_date).isoformat()} "
                     f"({moves})")
    return ". ".join(parts) + "." if parts else f"{base.name} unchanged."


def _word(value: Any) -> str:
    if isinstance(value, str) or value is None:
        return VALUE_WORDS.get(value, str(value))
    return f"{_number(value):,}" if isinstance(value, int | float) else str(value)


def check_whatif(text: str, base_file: str | Path, name: str) -> Scenario:
    """Validate the what-if ``text`` as the file ``<name>.yaml`` beside ``base_file``,
    without writing it.

    :raises ScenarioError: as the command line would report it.
    """
    return load_scenario(Path(base_file).parent / f"{name}.yaml", text=text)
