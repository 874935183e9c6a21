"""The uncertainty behind a comparison: parameter draws, judgement checks and tornados.

Three analyses of a finished :class:`~sim.analysis.compare.Comparison`, all on common
random numbers with it (the same seed, replications ``0..R-1``):

* **draws** (``compare --draws N``): N parameter sets from the priors (and an area's
  posterior, where one exists). A draw's difference is its mean paired difference over
  ``R`` replications, minus the same at the central parameters on the same replications:
  on common random numbers that deviation is the parameters' effect with most Monte
  Carlo noise cancelled. The uncertainty interval adds the 2.5th-97.5th centile spread
  of the deviations to the comparison's Monte Carlo half-widths in quadrature, around
  the comparison's difference shifted by the mean deviation; with no parameter spread it
  is the Monte Carlo interval exactly.
* **checks** ("the answer if this judgement is wrong"): each judgement at its low,
  neutral (no effect, where it is a judgement of an effect) and high setting, the rest
  central.
* **tornado** (``--drivers``): every uncertain input alone at the low and the high end
  of its range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..execute.executors import Executor
from ..metrics import BETTER, HEADLINE, METRICS, format_diff, format_interval
from ..stats import t_interval
from ..streams import derive_seed
from .priors import Prior, groups
from .results import Uncertainty
from .runs import KEYS, Setting, run_settings

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.compare import Comparison

Progress = Callable[[str, int, int], None]

CHECK_REPS = 5
"""Default replications per judgement check or tornado setting (at most the
comparison's): each setting is compared with the central parameters replication by
replication on common random numbers, which needs few replications."""


def draw_settings(priors: list[Prior], n: int, seed: int,
                  posterior: pd.DataFrame | None = None) -> list[Setting]:
    """``n`` parameter sets: one uniform quantile per prior group (a group moves
    together), and a posterior row drawn by weight when ``posterior`` is given (its
    columns other than ``weight`` and ``distance`` are dotted paths)."""
    rng = np.random.default_rng(derive_seed(seed, 0, "@parameter-draws"))
    by_group = groups(priors)
    out = []
    for d in range(n):
        values: dict[str, Any] = {}
        for members in by_group.values():
            q = float(rng.random())
            for prior in members:
                values[prior.name] = prior.at(q)
        if posterior is not None and len(posterior):
            row = posterior.iloc[int(rng.choice(len(posterior), p=_weights(posterior)))]
            values.update({k: float(v) for k, v in row.items()
                           if k not in ("weight", "distance")})
        out.append(Setting(f"draw {d}", values))
    return out


def _weights(posterior: pd.DataFrame) -> np.ndarray:
    w = posterior["weight"].to_numpy(dtype=float)
    return w / w.sum()


def one_at_a_time(priors: list[Prior], judgements_only: bool) -> list[tuple[str, str, Setting]]:
    """(group, setting name, setting) for each group at ``low``, ``high`` and, where it
    differs from both, ``neutral``; only groups holding a judgement if asked."""
    out = []
    for group, members in groups(priors).items():
        if judgements_only and not any(p.kind == "judgement" for p in members):
            continue
        for name in ("low", "neutral", "high"):
            if name == "neutral" and not has_neutral(members):
                continue
            out.append((group, name, Setting(f"{group} {name}", setting_values(members, name))))
    return out


def setting_values(members: list[Prior], setting: str) -> dict[str, Any]:
    """Each member's value at ``setting`` (``low``, ``neutral``, ``high`` or
    ``central``), by prior name; the central value where a member has no such setting."""
    out = {}
    for p in members:
        value = p.setting(setting)
        out[p.name] = p.central if value is None else value
    return out


def no_effect(members: list[Prior], setting: str) -> bool:
    """Whether ``setting`` (``low``, ``neutral``, ``central`` or ``high``) of a group's
    members means no effect: their neutral value."""
    if setting == "central":
        return False
    if setting == "neutral":
        return True
    with_neutral = [p for p in members if p.neutral is not None]
    return bool(with_neutral) and all(p.setting(setting) == p.neutral for p in with_neutral)


def has_neutral(members: list[Prior]) -> bool:
    """Whether a group has a no-effect setting of its own, inside its range (a
    ``neutral`` value that is neither its low nor its high end)."""
    return any(p.neutral is not None and p.neutral != p.low and p.neutral != p.high
               for p in members)


def group_label(members: list[Prior]) -> str:
    """A prior group in plain words (its members' labels, joined)."""
    return "; ".join(dict.fromkeys(p.label for p in members))


def analyse(cmp: Comparison, priors: list[Prior], executor: Executor, draws: int = 0,
            draw_reps: int = 5, checks: bool = True, drivers: bool = False,
            check_reps: int | None = None, posterior: pd.DataFrame | None = None,
            source: str = "", progress: Progress | None = None) -> Uncertainty:
    """The :class:`~sim.uncertainty.results.Uncertainty` of ``cmp``.

    :param draws: parameter sets to draw (0: none).
    :param draw_reps: replications per parameter set.
    :param checks: run each judgement at its low, neutral and high setting.
    :param drivers: run every uncertain input at both ends (the tornado).
    :param check_reps: replications per check or tornado setting (default: the
        comparison's, at most :data:`CHECK_REPS`).
    """
    scenarios = list(cmp.scenarios)
    raws = [sc.model_dump(mode="python", by_alias=True) for sc in scenarios]
    alts = [sc.name for sc in scenarios[1:]]
    out = Uncertainty(source=source if draws else "", draws=draws, reps_per_draw=draw_reps)
    if not alts:
        return out

    def runner(label: str, settings: list[Setting], reps: int) -> np.ndarray:
        cb = (lambda done, total: progress(label, done, total)) if progress else None
        vals = run_settings(scenarios, raws, priors, settings, cmp.seed, reps, executor, cb)
        return vals[:, 1:] - vals[:, :1]  # (settings, alternatives, reps, keys)

    if draws:
        diffs = runner("parameter draws", [Setting("central", {}),
                                           *draw_settings(priors, draws, cmp.seed, posterior)],
                       draw_reps)
        out.intervals, out.per_draw = _intervals(cmp, alts, diffs)
    if checks or drivers:
        oat = one_at_a_time(priors, judgements_only=not drivers)
        diffs = runner("judgement checks" if not drivers else "one at a time",
                       [Setting("central", {}), *(s for _, _, s in oat)],
                       check_reps or min(cmp.reps, CHECK_REPS))
        out.checks, out.tornado = _one_at_a_time(priors, alts, oat, diffs, drivers)
        out.warnings = judgement_warnings(cmp, out.checks)
    return out


def _main(cmp: Comparison, alt: str, metric: str) -> tuple[float, float, float]:
    """The comparison's (difference, ci_low, ci_high) for ``alt`` and ``metric``."""
    d = cmp.comparison
    row = d[(d["scenario"] == alt) & (d["metric"] == metric)]
    if row.empty:
        return math.nan, math.nan, math.nan
    r = row.iloc[0]
    return float(r["diff_mean"]), float(r["ci_low"]), float(r["ci_high"])


def _intervals(cmp: Comparison, alts: list[str], diffs: np.ndarray
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``intervals`` and ``per_draw`` tables from the draws' differences (setting 0
    is the central parameter set on the same replications)."""
    with np.errstate(all="ignore"):
        means = np.nanmean(diffs, axis=2)  # (settings, alternatives, keys)
    dev = means[1:] - means[:1]
    rows, per_draw = [], []
    for a, alt in enumerate(alts):
        for k, metric in enumerate(KEYS):
            main, lo, hi = _main(cmp, alt, metric)
            if math.isnan(main):
                main = float(means[0, a, k])
            shifts = dev[:, a, k]
            shifts = shifts[~np.isnan(shifts)]
            for d, value in enumerate(dev[:, a, k]):
                per_draw.append({"scenario": alt, "draw": d, "metric": metric,
                                 "diff": main + float(value)})
            if metric not in HEADLINE or not len(shifts):
                continue
            rows.append({"scenario": alt, "metric": metric,
                         **_interval(main, lo, hi, shifts, BETTER.get(metric, 0))})
    return pd.DataFrame(rows), pd.DataFrame(per_draw)


def _interval(main: float, lo: float, hi: float, shifts: np.ndarray, better: int
              ) -> dict[str, float]:
    """diff_mean, ui_low, ui_high and p_better from the Monte Carlo interval
    (``lo``..``hi`` around ``main``) and the draws' deviations ``shifts``."""
    mean = float(shifts.mean())
    low, high = np.percentile(shifts, [2.5, 97.5])
    below = max(0.0, mean - float(low))
    above = max(0.0, float(high) - mean)
    mc_below = main - lo if not math.isnan(lo) else 0.0
    mc_above = hi - main if not math.isnan(hi) else 0.0
    centre = main + mean
    moved = main + shifts
    p_better = (float(np.mean(better * moved > 0)) if better and np.any(moved != 0)
                else math.nan)
    return {"diff_mean": centre, "ui_low": centre - math.hypot(below, mc_below),
            "ui_high": centre + math.hypot(above, mc_above), "p_better": p_better}


def _one_at_a_time(priors: list[Prior], alts: list[str],
                   oat: list[tuple[str, str, Setting]], diffs: np.ndarray, drivers: bool
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``checks`` and ``tornado`` tables (setting 0 of ``diffs`` is central)."""
    members = groups(priors)
    checks, ends = [], {}
    for a, alt in enumerate(alts):
        for k, metric in enumerate(KEYS):
            if metric not in HEADLINE:
                continue
            central = diffs[0, a, :, k]
            ends[(alt, metric, "", "central")] = t_interval(central)[0]
            for s, (group, name, _) in enumerate(oat, start=1):
                ends[(alt, metric, group, name)] = t_interval(diffs[s, a, :, k])[0]
                if any(p.kind == "judgement" for p in members[group]):
                    named = [name, "central"]
                    if no_effect(members[group], name):
                        named.append("neutral")  # an end of the range that is no effect
                    checks += [_check_row(alt, metric, group, members[group], setting,
                                          central if setting == "central" else
                                          diffs[s, a, :, k], central)
                               for setting in named]
    checks_df = pd.DataFrame(checks).drop_duplicates(
        subset=["scenario", "metric", "judgement", "setting"]) if checks else pd.DataFrame()
    return checks_df, _tornado(members, alts, oat, ends) if drivers else pd.DataFrame()


def _check_row(alt: str, metric: str, group: str, members: list[Prior], setting: str,
               values: np.ndarray, central: np.ndarray) -> dict[str, Any]:
    """One row of the checks table. ``moved`` says whether the setting changed the
    difference beyond Monte Carlo noise: the 95% interval of (setting - central),
    replication by replication, excludes zero."""
    mean, _, lo, hi, _ = t_interval(values)
    shift, _, shift_lo, shift_hi, _ = t_interval(values - central)
    return {"scenario": alt, "metric": metric, "judgement": group,
            "label": group_label(members), "setting": setting,
            "no_effect": no_effect(members, setting), "diff_mean": mean, "ci_low": lo,
            "ci_high": hi, "shift": shift, "moved": bool(shift_lo > 0 or shift_hi < 0)}


def _tornado(members: dict[str, list[Prior]], alts: list[str],
             oat: list[tuple[str, str, Setting]], ends: dict) -> pd.DataFrame:
    """One row per alternative x headline metric x prior group, widest swing first."""
    rows = []
    seen = list(dict.fromkeys(group for group, _, _ in oat))
    for alt in alts:
        for metric in HEADLINE:
            block = []
            for group in seen:
                kind = "judgement" if any(p.kind == "judgement"
                                          for p in members[group]) else "cited"
                block.append({"scenario": alt, "metric": metric, "parameter": group,
                              "label": group_label(members[group]), "kind": kind,
                              "low_diff": ends.get((alt, metric, group, "low"), math.nan),
                              "high_diff": ends.get((alt, metric, group, "high"), math.nan),
                              "central_diff": ends.get((alt, metric, "", "central"),
                                                       math.nan)})
            block.sort(key=lambda r: -_swing(r))
            rows += block
    return pd.DataFrame(rows)


def _swing(row: dict[str, Any]) -> float:
    s = abs(row["high_diff"] - row["low_diff"])
    return -1.0 if math.isnan(s) else s


def judgement_warnings(cmp: Comparison, checks: pd.DataFrame) -> list[str]:
    """One paragraph per alternative x judgement for the clear answers (a difference
    whose 95% interval excludes zero, on a metric with a better direction) whose sign
    changes, or whose interval reaches zero, when the judgement is set at an end of its
    range or to no effect. The answer at a setting is the comparison's, moved by the
    setting's mean shift from the central parameters on the same replications (its
    interval moved with it), and the shift must be beyond Monte Carlo noise (``moved``)."""
    if checks.empty:
        return []
    several = len(cmp.scenarios) > 2
    out = []
    for (alt, _group), block in checks.groupby(["scenario", "judgement"], sort=False):
        changed = []
        for metric, rows in block.groupby("metric", sort=False):
            main, lo, hi = _main(cmp, str(alt), str(metric))
            if not BETTER.get(str(metric)) or math.isnan(lo) or lo <= 0 <= hi:
                continue
            for row in rows.itertuples():
                if row.setting == "central":
                    continue
                if row.moved and (np.sign(main + row.shift) != np.sign(main)
                                  or lo + row.shift <= 0 <= hi + row.shift):
                    changed.append(_phrase(str(metric), main, row))
                    break
        if changed:
            label = block["label"].iloc[0]
            out.append((f"{alt}: " if several else "") + "This answer rests on a judgement, "
                       f"not a measurement: {label}. " + " ".join(changed))
    return out


def _phrase(metric: str, main: float, row: Any) -> str:
    """'With no effect, the difference in planned exits is +0.1 points (95% interval
    −1.3 points to +1.5 points) instead of +5.1 points.'"""
    unit = METRICS[metric]["unit"]
    label = METRICS[metric]["label"]
    where = ("With no effect" if row.no_effect else
             {"low": "At the low end of its range",
              "high": "At the high end of its range"}[row.setting])
    name = label if label[1:2].isupper() else label[0].lower() + label[1:]
    return (f"{where}, the difference in {name} is "
            f"{format_diff(row.diff_mean, unit)} (95% interval "
            f"{format_interval(row.ci_low, row.ci_high, unit)}) instead of "
            f"{format_diff(main, unit)}.")
