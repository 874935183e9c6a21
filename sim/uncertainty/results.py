"""What the uncertainty analysis of a comparison hands to the CLI and the report.

All differences are alternative minus base, in the metric's own unit (a share as a
fraction, so 0.049 is 4.9 percentage points; money in GBP; days; people).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SETTINGS = ("low", "neutral", "central", "high")
"""Settings of a judgement in :attr:`Uncertainty.checks`: the low and high ends of its
stated range, ``neutral`` (no effect, where the judgement is of an effect) and
``central`` (the value the baseline uses)."""


@dataclass
class Uncertainty:
    """Parameter uncertainty behind one comparison.

    :ivar source: where the parameter sets came from, in words ("the priors in
        calibration/evidence.yaml", "the Middlesbrough posterior (400 sets) and the
        priors"); empty when no parameter sets were drawn.
    :ivar draws: parameter sets run (0 when only the judgement checks ran).
    :ivar reps_per_draw: replications per parameter set (and per check setting).
    :ivar intervals: one row per alternative (``scenario``) x headline ``metric``:
        ``diff_mean`` (mean over draws of the draw's mean paired difference), ``ui_low``
        and ``ui_high`` (2.5th and 97.5th centiles over draws of the draw means: the
        uncertainty interval over parameter sets) and ``p_better`` (share of draws whose
        mean difference is in the better direction of :data:`sim.metrics.BETTER`; NaN
        for a metric with no better direction). Empty when ``draws`` is 0.
    :ivar per_draw: one row per alternative x ``draw`` x metric: ``diff`` (the draw's
        mean paired difference over its replications). Feeds the cost-effectiveness
        plane (``successful_completions`` against ``cost_total_gbp``).
    :ivar checks: "the answer if this judgement is wrong": one row per alternative x
        headline metric x ``judgement`` (its name in evidence.yaml) x ``setting`` (one
        of :data:`SETTINGS`), with ``label`` (the judgement in plain words),
        ``diff_mean``, ``ci_low``, ``ci_high`` (95% t-interval over replications).
    :ivar tornado: one row per alternative x headline metric x ``parameter`` (an
        evidence name) with ``label``, ``kind`` ("judgement" or "cited"), ``low_diff``
        and ``high_diff`` (the mean difference with that parameter alone at the low and
        high end of its range, everything else central) and ``central_diff``; sorted
        by ``abs(high_diff - low_diff)``, largest first, within each alternative x metric.
    :ivar warnings: plain sentences for the top of the report and the CLI, one for each
        headline answer whose sign changes within a judgement's range.
    """

    source: str = ""
    draws: int = 0
    reps_per_draw: int = 0
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_draw: pd.DataFrame = field(default_factory=pd.DataFrame)
    checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    tornado: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
