"""Scenario files: the pydantic models of the YAML, the loader and the JSON Schema.

A scenario is one YAML file (or a short file that ``extends`` another and overrides a
few keys). It is validated once, at load, into a frozen :class:`Scenario`; the model
never sees raw YAML. Every key is declared with its unit: rates are ``per_year``,
durations are declared distributions in days (see :mod:`sim.distributions`), deaths are
``per_100_person_years``, money is ``_gbp``.

The data flow::

    YAML file --yamlread.read_yaml--> (data, lines)       budgets, YAML 1.2 numbers, a
                                                          line for every key path
              --loader.load_scenario--> merged data       ``extends`` merged, ``fitted:``
                                                          parameters set last
              --validate.parse_scenario--> Scenario       frozen; policies checked by
                                                          applying them (Scenario.phases)

Errors are collected into one :class:`ScenarioError` whose lines each name the file,
the line and the key path, e.g.
``scenarios/x.yaml:23: keyworkers.caseload_cap: must be at least 1, got 0``.

The modules, each importing only those above it: :mod:`sim.vocab` (the words of the
domain), ``wording`` (how values are shown), ``bounds`` (limits and number types),
``params`` (dotted parameter paths), ``fields``, ``models_population``,
``models_services`` and ``models`` (the sections and :class:`Scenario`), ``errors``,
``yamlread``, ``timeline`` (policies in time), ``validate``, ``loader`` and ``schema``.
"""

from __future__ import annotations

from ..vocab import (
    ATTRIBUTE_LEVELS,
    CLOSABLE,
    MODALITIES,
    SOURCES,
    SUBSTANCES,
    TRANSITION_TARGETS,
)
from .bounds import (
    MAX_DATE,
    MAX_DAYS,
    MAX_DURATION_DAYS,
    MAX_FACTOR,
    MAX_FOLLOW_UP_DAYS,
    MAX_GBP,
    MAX_PEOPLE,
    MAX_RATE,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_YEARS,
    MIN_DATE,
    NAME_PATTERN,
    SECOND_DAYS,
    SUM_TOLERANCE,
    Count,
    Date,
    Days,
    Factor,
    Money,
    Per100PY,
    PerYear,
    Probability,
    StepDays,
)
from .errors import (
    EXPLAIN,
    MAX_PROBLEMS,
    ScenarioError,
    describe_error,
    format_path,
    locate,
    validation_error,
)
from .fields import DeathRate, DeathWindow, Duration, Multipliers, Rate, Strict
from .loader import (
    MAX_EXTENDS,
    SCENARIO_SUFFIXES,
    TOP_KEYS,
    file_kind,
    is_sweep_file,
    load_model_file,
    load_referenced_scenario,
    load_scenario,
)
from .models import Policy, Scenario
from .models_population import (
    Attributes,
    Community,
    InitialPopulation,
    Population,
    PrisonRelease,
    Referral,
    RunSettings,
)
from .models_services import (
    HAT,
    OST,
    Detox,
    Exits,
    Keyworkers,
    Modalities,
    Mortality,
    Pressure,
    Psychosocial,
    Rehab,
    Relapse,
    Review,
    Triage,
)
from .params import FIXED_KEYS, PolicyError, get_parameter, set_parameter, with_parameters
from .schema import json_schema, resolved_yaml, scenario_hash
from .timeline import scenario_warnings
from .validate import parse_scenario
from .wording import Lines, Problem
from .yamlread import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, read_yaml

_describe = describe_error
"""Old name of :func:`describe_error` (kept until its callers switch)."""

__all__ = [
    # vocabulary (defined in sim.vocab)
    "ATTRIBUTE_LEVELS", "CLOSABLE", "MODALITIES", "SOURCES", "SUBSTANCES",
    "TRANSITION_TARGETS",
    # bounds and number types
    "MAX_DATE", "MAX_DAYS", "MAX_DURATION_DAYS", "MAX_FACTOR", "MAX_FOLLOW_UP_DAYS",
    "MAX_GBP", "MAX_PEOPLE", "MAX_RATE", "MAX_REPLICATIONS", "MAX_SEED", "MAX_YEARS",
    "MIN_DATE", "NAME_PATTERN", "SECOND_DAYS", "SUM_TOLERANCE", "Count", "Date", "Days",
    "Factor", "Money", "Per100PY", "PerYear", "Probability", "StepDays",
    # models
    "Attributes", "Community", "DeathRate", "DeathWindow", "Detox", "Duration", "Exits",
    "HAT", "InitialPopulation", "Keyworkers", "Modalities", "Mortality", "Multipliers",
    "OST", "Policy", "Population", "Pressure", "PrisonRelease", "Psychosocial", "Rate",
    "Referral", "Rehab", "Relapse", "Review", "RunSettings", "Scenario", "Strict", "Triage",
    # errors
    "EXPLAIN", "MAX_PROBLEMS", "Lines", "Problem", "ScenarioError", "describe_error",
    "format_path", "locate", "validation_error",
    # reading and loading
    "MAX_DEPTH", "MAX_EXTENDS", "MAX_FILE_BYTES", "MAX_NODES", "SCENARIO_SUFFIXES",
    "TOP_KEYS", "file_kind", "is_sweep_file", "load_model_file", "load_referenced_scenario",
    "load_scenario", "parse_scenario", "read_yaml",
    # parameters, time, output
    "FIXED_KEYS", "PolicyError", "get_parameter", "set_parameter", "with_parameters",
    "scenario_warnings", "json_schema", "resolved_yaml", "scenario_hash",
]
