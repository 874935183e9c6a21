"""The page's controls: each widget is one line of the what-if (or one option of the
run), filled from the chosen preset whenever the area or the preset changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from ..scenario import Scenario
from ..vocab import TRANSITION_TARGETS
from .runs import RunOptions
from .whatif import HAT_CHOICES, TARGET_WORDS, Controls, controls_from

HAT_WORDS = {"keep": "keep it as it is", "close": "close it, moving its patients",
             "fill": "keep its places full"}
SETTINGS = ("low", "central", "high")
NO_PRESET = "(none: start from the baseline)"
MAX_PAGE_SEED = 2**53 - 1
"""The largest seed a browser's number box holds exactly (the command line takes up to
2**63 - 1)."""
DRAW_REPS = 5
"""Replications per parameter set (``compare --draw-reps``'s default)."""


def reset() -> None:
    """Ask for the controls to be filled again from the area's preset."""
    st.session_state["fill"] = True


def area_changed() -> None:
    """A new area: no preset yet, and the controls at its baseline's values."""
    st.session_state["preset"] = NO_PRESET
    reset()


def _fill(c: Controls, base: Scenario) -> None:
    """Put ``c`` into the widgets."""
    s = st.session_state
    s.update({"w_name": c.name, "w_date": c.change_date, "w_staff": float(c.staff),
              "w_cap": c.cap, "w_cap_level": int(c.cap_level),
              "w_triage_on": c.triage_limited, "w_triage": int(c.triage_per_week),
              "w_beds": int(c.detox_beds), "w_rehab": float(c.rehab_budget), "w_hat": c.hat,
              "w_hat_date": c.hat_close_date or c.change_date,
              "w_hat_then_close": c.hat_close_date is not None,
              "w_seed": int(base.run.seed), "w_reps": int(base.run.replications)})
    for t in TRANSITION_TARGETS:
        s[f"w_share_{t}"] = float(c.shares.get(t, 0.0))
    s["fill"] = False


def controls(base: Scenario, base_file: Path, preset: Path | None
             ) -> tuple[Controls, Controls]:
    """The controls as the widgets set them (filled from ``preset`` first if asked),
    and the controls as ``preset`` (or the baseline) sets them."""
    start = controls_from(base, base_file, preset)
    if st.session_state.get("fill", True) or "w_staff" not in st.session_state:
        _fill(start, base)
    first = base.run.start_date
    last = first.replace(year=first.year + base.run.warmup_years + base.run.years)
    st.subheader("3. What changes")
    a, b, c = st.columns(3)
    with a:
        name = st.text_input("Name of the what-if (letters, digits, _ and -)", key="w_name")
        day = st.date_input("Change date", key="w_date", min_value=first, max_value=last,
                            format="YYYY-MM-DD")
        staff = st.number_input("Keyworkers (full-time equivalents)", 0.5, 100_000.0,
                                step=0.5, format="%.1f", key="w_staff")
        cap = st.toggle("Cap keyworker caseloads", key="w_cap")
        cap_level = st.number_input("Caseload cap (people per keyworker)", 1, 10_000,
                                    key="w_cap_level", disabled=not cap)
    with b:
        limited = st.toggle("Limit assessments (triage) a week", key="w_triage_on")
        triage = st.number_input("Assessments a week", 0, 1_000_000, key="w_triage",
                                 disabled=not limited)
        beds = st.number_input("Inpatient detox beds", 0, 100_000, key="w_beds")
        rehab = st.number_input("Residential rehab budget (£ a year)", 0.0, 1e12,
                                step=10_000.0, format="%.0f", key="w_rehab")
    with c:
        hat, hat_date, shares = _hat(base, day)
    return Controls(
        base_file=str(base_file), name=name.strip(), preset=start.preset,
        change_date=day, staff=float(staff), cap=cap, cap_level=int(cap_level),
        triage_limited=limited, triage_per_week=int(triage), detox_beds=int(beds),
        rehab_budget=float(rehab), hat=hat, hat_close_date=hat_date, shares=shares,
        extra_set=start.extra_set, extra_top=start.extra_top,
        extra_policies=start.extra_policies, description=start.description), start


def _hat(base: Scenario, day: dt.date) -> tuple[str, dt.date | None, dict[str, float]]:
    """The HAT control: keep, close with transition shares, or fill (then perhaps close)."""
    shares = {t: float(st.session_state.get(f"w_share_{t}", 0.0)) for t in TRANSITION_TARGETS}
    if not (base.modalities.hat.open and base.modalities.hat.places):
        st.caption("This area has no heroin-assisted treatment (HAT) to change.")
        return "keep", None, shares
    hat = st.radio("Heroin-assisted treatment (HAT)", HAT_CHOICES, key="w_hat",
                   format_func=HAT_WORDS.get)
    closes = hat == "close" or (hat == "fill" and st.checkbox(
        "then close it", key="w_hat_then_close"))
    if not closes:
        return hat, None, shares
    when = st.date_input("HAT closes on", key="w_hat_date", format="YYYY-MM-DD")
    st.caption("Where its patients go (percent, adding up to 100):")
    cols = st.columns(2)
    for i, t in enumerate(TRANSITION_TARGETS):
        with cols[i % 2]:
            shares[t] = float(st.number_input(TARGET_WORDS[t], 0.0, 100.0, step=5.0,
                                              key=f"w_share_{t}"))
    total = sum(shares.values())
    if abs(total - 100) > 1e-6:
        st.error(f"These add up to {total:g}%, not 100%.", icon="⚠️")
    else:
        st.caption("They add up to 100%.")
    return hat, when, shares


def run_options(base: Scenario, base_file: Path) -> RunOptions:
    """The run's options: replications or precision, seed, draws, checks, assumptions."""
    with st.sidebar:
        st.header("Runs")
        how = st.radio("How many runs", ("replications", "target precision"), key="w_how",
                       horizontal=True)
        reps = int(st.number_input("Replications of each scenario", 2, 200, key="w_reps"))
        precision = None
        if how == "target precision":
            precision = st.number_input("Every headline 95% interval within (% of the mean)",
                                        1.0, 50.0, 5.0, step=1.0, key="w_precision") / 100
        seed = int(st.number_input("Seed", 0, MAX_PAGE_SEED, key="w_seed"))
        draws = int(st.number_input("Parameter sets to draw (0: none; each adds "
                                    f"{DRAW_REPS} runs of each scenario)", 0, 500, 0,
                                    key="w_draws"))
        checks = st.toggle("Check each judgement at the ends of its range (what drives "
                           "this answer)", True, key="w_checks")
        check_reps = int(st.number_input("Replications per check", 2, 50, 3,
                                         key="w_check_reps", disabled=not checks))
        assumed = _assumptions(base, base_file)
    return RunOptions(seed=seed, reps=reps, precision=precision, draws=draws, checks=checks,
                      check_reps=check_reps, assumptions=assumed)


def _assumptions(base: Scenario, base_file: Path) -> tuple[tuple[str, str], ...]:
    """A low / central / high choice for each stated judgement the baseline uses; those
    the last run found to drive its answer first, and marked."""
    from ..uncertainty.analysis import group_label
    from .judgements import judgement_groups

    found = judgement_groups(base, base_file)
    drivers = [g for g in st.session_state.get("drivers", []) if g in found]
    order = [*drivers, *(g for g in found if g not in drivers)]
    out = []
    with st.expander(f"Assumptions ({len(found)} stated judgements)", expanded=bool(drivers)):
        st.caption("Each is a judgement, not a measurement. Both scenarios use the setting "
                   "chosen here. ⚑ marks those the last run's checks found to drive its "
                   "answer.")
        for group in order:
            words = group_label(found[group]) + (" ⚑" if group in drivers else "")
            pick = st.radio(words, SETTINGS, index=1, horizontal=True,
                            key=f"w_assume_{group}")
            if pick != "central":
                out.append((group, pick))
    return tuple(out)


def expected_units(base: Scenario, base_file: Path, options: RunOptions) -> int:
    """Replications and runs the command will report, for the progress bar."""
    from .judgements import check_settings

    n = 2 * (options.reps if not options.precision else 10)
    if options.draws:
        n += 2 * (options.draws + 1) * DRAW_REPS
    if options.checks:
        n += 2 * options.check_reps * check_settings(base, base_file, options)
    return n
