"""Comparing scenarios on common random numbers.

Every scenario runs replications ``0..n-1`` of one seed, so replication *i* of each sees
the same people with the same attributes and first referral times; a metric's
difference is then taken replication by replication (a paired comparison), which
removes most of the noise the scenarios share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..execute.runner import Results, run
from ..metrics import HEADLINE
from ..scenario import Scenario
from ..stats import paired_difference, per_replication, summarise, t_interval

MSER_BATCH = 5


@dataclass
class Comparison:
    """The runs of a base scenario and its alternatives, with their summaries.

    :ivar assumptions: ``compare --assume``: each assumed judgement (a prior group or a
        prior, by name) -> its setting (``low``, ``neutral``, ``high`` or ``central``),
        already applied to ``scenarios``; empty when nothing is assumed.
    :ivar assumption_sentences: the same in words, one sentence each ("the assumed
        effect of keyworker caseload … at the low end of its range").
    """

    base: str
    scenarios: list[Scenario]
    results: dict[str, Results]
    summary: pd.DataFrame
    comparison: pd.DataFrame
    seed: int
    reps: int
    warnings: list[str] = field(default_factory=list)
    precision_note: str = ""
    assumptions: dict[str, str] = field(default_factory=dict)
    assumption_sentences: list[str] = field(default_factory=list)

    def yearly(self) -> pd.DataFrame:
        """Every scenario's yearly table, stacked."""
        return pd.concat([r.yearly for r in self.results.values()], ignore_index=True)

    def timeseries(self) -> pd.DataFrame:
        """Every scenario's monthly table, stacked."""
        return pd.concat([r.timeseries for r in self.results.values()], ignore_index=True)


def mser_truncation(series: np.ndarray, batch: int = MSER_BATCH) -> int:
    """MSER-5 truncation point: the number of leading observations to delete.

    Batch means of ``batch`` observations; the truncation ``d`` (in batches) minimises
    ``var(batches[d:]) / (n - d)^2`` over the first half of the series (White 1997).
    Returns the truncation in observations.
    """
    n = len(series) // batch
    if n < 4:
        return 0
    means = series[: n * batch].reshape(n, batch).mean(axis=1)
    best, best_d = math.inf, 0
    for d in range(n // 2):
        rest = means[d:]
        stat = rest.var() / len(rest) ** 2
        if stat < best:
            best, best_d = stat, d
    return best_d * batch


def warmup_warnings(scenario: Scenario, timeseries: pd.DataFrame) -> list[str]:
    """Warn when MSER-5 on the monthly in-treatment series wants a longer warm-up."""
    mean_series = (timeseries.groupby("month")["in_treatment"].mean()
                   .sort_index().to_numpy(dtype=float))
    cut = mser_truncation(mean_series)
    warm = 12 * scenario.run.warmup_years
    if cut > warm:
        return [f"{scenario.name}: MSER-5 on people in treatment suggests a warm-up of "
                f"{cut} months; the scenario has {warm} (run.warmup_years). Early reporting "
                "years may still carry the starting conditions."]
    return []


def compare(base: Scenario, alternatives: list[Scenario], reps: int | None = None,
            seed: int | None = None, workers: int = 1, precision: float | None = None,
            max_reps: int = 100,
            progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Run ``base`` and ``alternatives`` on common random numbers and compare them.

    :param reps: replications per scenario (default: the base scenario's).
    :param seed: the shared seed (default: the base scenario's).
    :param precision: if given, add replications (in batches) until every headline
        metric's 95% CI half-width is within ``precision`` x |mean| in every scenario,
        up to ``max_reps``.
    :param progress: called as ``progress(scenario_name, done, total)``.
    :raises KeyboardInterrupt: when interrupted (Ctrl-C, or SIGTERM through the command
        line) before every scenario has every replication: a comparison is paired
        replication by replication, so none is made from part of them.
    """
    scenarios = [base, *alternatives]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ to be compared, got {names}")
    for alt in alternatives:
        for key in ("start_date", "warmup_years", "years", "follow_up_days"):
            a, b = getattr(base.run, key), getattr(alt.run, key)
            if a != b:
                raise ValueError(f"{alt.name}: run.{key} is {b} but {base.name} has {a}; "
                                 "compared scenarios must cover the same years")
    seed = base.run.seed if seed is None else seed
    n = reps or (10 if precision else base.run.replications)
    results: dict[str, Results] = {}
    note = ""
    while True:
        for sc in scenarios:
            done = results.get(sc.name)
            have = len(done.reps) if done else 0
            if have < n:
                more = _run_more(sc, have, n, seed, workers, progress)
                results[sc.name] = _merge(done, more) if done else more
        if precision is None:
            break
        worst = _worst_precision(results)
        if worst <= precision:
            note = (f"{n} replications reach the requested precision: every headline "
                    f"metric's 95% CI half-width is within {precision:.0%} of its mean "
                    f"(worst {worst:.1%}).")
            break
        if n >= max_reps:
            note = (f"stopped at the cap of {max_reps} replications: the worst headline "
                    f"CI half-width is {worst:.1%} of its mean (asked {precision:.0%}).")
            break
        n = min(max_reps, max(n + 2, int(math.ceil(n * 1.5))))
    yearly = pd.concat([results[s].yearly for s in names], ignore_index=True)
    comparison = pd.concat(
        [paired_difference(yearly, base.name, alt.name) for alt in alternatives],
        ignore_index=True) if alternatives else pd.DataFrame()
    warnings = []
    for sc in scenarios:
        warnings += warmup_warnings(sc, results[sc.name].timeseries)
    return Comparison(base=base.name, scenarios=scenarios, results=results,
                      summary=summarise(yearly), comparison=comparison, seed=seed,
                      reps=n, warnings=warnings, precision_note=note)


def _run_more(sc: Scenario, have: int, want: int, seed: int, workers: int,
              progress: Callable[[str, int, int], None] | None) -> Results:
    def cb(done: int, total: int) -> None:
        if progress:
            progress(sc.name, have + done, want)

    res = run(sc, reps=want - have, seed=seed, workers=workers, progress=cb, first_rep=have)
    if not res.complete:  # interrupted part-way: a comparison needs every replication
        raise KeyboardInterrupt
    return res


def _merge(a: Results, b: Results) -> Results:
    yearly = pd.concat([a.yearly, b.yearly], ignore_index=True)
    return Results(
        scenario=a.scenario, seed=a.seed, reps=a.reps + b.reps,
        people=pd.concat([a.people, b.people], ignore_index=True), yearly=yearly,
        timeseries=pd.concat([a.timeseries, b.timeseries], ignore_index=True),
        summary=summarise(yearly), seconds=a.seconds + b.seconds, events=a.events + b.events,
        complete=a.complete and b.complete,
    )


def _worst_precision(results: dict[str, Results]) -> float:
    worst = 0.0
    for res in results.values():
        reps = per_replication(res.yearly)
        for metric in HEADLINE:
            vals = reps.loc[reps["metric"] == metric, "value"].to_numpy()
            mean, _, lo, hi, n = t_interval(vals)
            if n < 2 or math.isnan(lo) or mean == 0:
                continue
            worst = max(worst, (hi - lo) / 2 / abs(mean))
    return worst
