"""Monitor records -> the tidy tables every run writes.

Tables, every row carrying ``scenario``, ``rep`` and ``seed``:

* ``people``: one row per treatment episode (presentation), from referral to exit;
* ``yearly``: one row per replication x reporting year x metric (long format);
* ``timeseries``: the monthly snapshots (in treatment, waiting list, caseload, ...).

Years are model years of 365 days from the scenario's start date. Warm-up years are
left out; reporting year 1 is the first year after the warm-up. Every metric is
defined in :data:`METRICS` (name -> label, unit, definition); names are stable
identifiers, labels are for reports.

The modules: :mod:`~sim.metrics.catalogue` (the metrics, their units and how values are
written), :mod:`~sim.metrics.tables` (the ``people`` and ``timeseries`` tables, and all
tables of a replication) and :mod:`~sim.metrics.yearly` (the ``yearly`` table).
"""

from __future__ import annotations

from .catalogue import (
    BETTER,
    HEADLINE,
    METRICS,
    format_diff,
    format_interval,
    format_metric,
    format_money,
    format_value,
    metric_info,
    unknown_metric,
)
from .tables import people_table, replication_tables, timeseries_table
from .yearly import key_values, yearly_metrics

__all__ = [
    "BETTER",
    "HEADLINE",
    "METRICS",
    "format_diff",
    "format_interval",
    "format_money",
    "format_metric",
    "format_value",
    "key_values",
    "metric_info",
    "people_table",
    "replication_tables",
    "timeseries_table",
    "unknown_metric",
    "yearly_metrics",
]
