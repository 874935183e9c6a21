"""The ``treatsim`` argument parser: a sub-command each, and the checks of the numbers
given on the command line."""

from __future__ import annotations

import argparse
from typing import Any

from .. import __version__
from ..scenario import MAX_SEED


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``treatsim`` and every one of its commands."""
    ap = argparse.ArgumentParser(
        prog="treatsim",
        description="Simulate a local adult drug treatment system from a YAML scenario.",
    )
    ap.add_argument("--version", action="version", version=f"treatsim {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_validate, _add_compare, _add_calibrate, _add_sweep,
                _add_sensitivity, _add_schema, _add_validate_model, _add_app):
        add(sub)
    return ap


def _add_run(sub: argparse._SubParsersAction) -> None:
    """The ``run`` command: replications of one scenario."""
    r = sub.add_parser("run", help="run replications of a scenario and write its tables")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--reps", type=_positive, help="replications (default: run.replications)")
    r.add_argument("--seed", type=_seed, help="base seed (default: run.seed)")
    r.add_argument("--workers", type=_positive, default=1,
                   help="processes to run replications on (default 1)")
    r.add_argument("--out", help="output folder (default results/<scenario name>)")
    r.add_argument("--all", action="store_true", help="print every metric, not the headline")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_force(r)


def _add_validate(sub: argparse._SubParsersAction) -> None:
    """The ``validate`` command: check files without running them."""
    v = sub.add_parser("validate", help="check scenario and sweep files without running them")
    v.add_argument("files", nargs="+")


def _add_compare(sub: argparse._SubParsersAction) -> None:
    """The ``compare`` command: scenarios on common random numbers."""
    m = sub.add_parser("compare", help="compare scenarios on common random numbers")
    m.add_argument("base", help="the baseline scenario")
    m.add_argument("alternatives", nargs="+", help="what-if scenarios")
    g = m.add_mutually_exclusive_group()
    g.add_argument("--reps", type=_positive, help="replications (default: the base's)")
    g.add_argument("--precision", type=_share,
                   help="add replications until headline 95%% CI half-widths are within "
                        "this share of their means, e.g. 0.05")
    m.add_argument("--max-reps", type=_positive, default=100,
                   help="cap on replications with --precision (default 100)")
    m.add_argument("--seed", type=_seed, help="shared seed (default: the base's)")
    m.add_argument("--workers", type=_positive, default=1)
    m.add_argument("--report", help="write the HTML report to this file")
    m.add_argument("--report-pdf", help="also print the report to this PDF (headless Chromium)")
    m.add_argument("--out", help="folder for the tables (default results/compare-BASE)")
    m.add_argument("--quiet", action="store_true", help="no progress")
    u = m.add_argument_group("parameter uncertainty")
    u.add_argument("--draws", type=_non_negative, default=0,
                   help="parameter sets drawn from the priors (and the area's posterior, "
                        "if fitted) for uncertainty intervals (default 0: none)")
    u.add_argument("--draw-reps", type=_positive, default=5,
                   help="replications per parameter set (default 5)")
    u.add_argument("--drivers", action="store_true",
                   help="tornado: every uncertain input alone at both ends of its range")
    u.add_argument("--no-checks", action="store_true",
                   help="skip rerunning the answer with each judgement at its low, "
                        "no-effect and high setting")
    u.add_argument("--check-reps", type=_positive,
                   help="replications per judgement setting (default: as the comparison, at most 5)")
    u.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the draws and checks on this Dask scheduler's cluster")
    u.add_argument("--dask-local", type=_positive, metavar="N",
                   help="run the draws and checks on a local Dask cluster of N processes")
    u.add_argument("--assume", action="append", default=[], metavar="NAME=SETTING",
                   help="hold a judgement (a group in the judgement checks, or one prior) "
                        "at low, neutral, high or central for every scenario; it is then "
                        "left out of the checks, --drivers and --draws (repeatable)")
    u.add_argument("--evidence", default=None,
                   help="evidence file with the priors (default calibration/evidence.yaml)")
    _add_force(m)


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    """The ``calibrate`` command: fit free parameters to cited targets."""
    c = sub.add_parser("calibrate", help="fit a baseline's free parameters to cited targets")
    c.add_argument("targets", help="calibration/targets/<area>.yaml")
    c.add_argument("--reps", type=_positive, help="replications per point (default: file)")
    c.add_argument("--workers", type=_positive, default=1, help="processes (default 1)")
    c.add_argument("--max-evaluations", type=_positive, help="search budget (default: file)")
    c.add_argument("--check-reps", type=_positive, default=20,
                   help="replications for the final check of every target (default 20)")
    c.add_argument("--fresh", action="store_true",
                   help="forget cached evaluations (by default a rerun resumes)")
    c.add_argument("--out", help="folder for the fit (default calibration/fitted)")
    c.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(c)
    _add_posterior(c)


def _add_posterior(c: argparse.ArgumentParser) -> None:
    """The posterior options of ``calibrate`` (ABC-SMC after, or instead of, the fit)."""
    p = c.add_argument_group("posterior (ABC-SMC; writes AREA_posterior.parquet, .md, .png)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--posterior", action="store_true",
                      help="after the point fit, find the posterior: weighted plausible "
                           "parameter sets")
    mode.add_argument("--posterior-only", action="store_true",
                      help="find the posterior without a point fit (the fit's files are "
                           "left as they are)")
    p.add_argument("--particles", type=_in_range(10, 100_000),
                   help="accepted parameter sets per generation (default 200)")
    p.add_argument("--generations", type=_in_range(1, 100),
                   help="most generations (default 5)")
    p.add_argument("--epsilon", type=_tolerances,
                   help="final threshold, in tolerances (default 1: within tolerance)")
    p.add_argument("--predictive-sets", type=_in_range(1, 10_000),
                   help="posterior sets re-simulated for the predictive check (default 40)")
    p.add_argument("--predictive-reps", type=_in_range(1, 1_000),
                   help="replications of each of those sets (default 3)")


def _in_range(low: int, high: int) -> Any:
    """An argument type: a whole number from ``low`` to ``high``."""
    def check(text: str) -> int:
        value = _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {value}")
        return value
    return check


def _tolerances(text: str) -> float:
    """A threshold in tolerances: a number above 0 and at most 100 (argument type)."""
    value = _float(text, "1")
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 100, got {value}")
    return value


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    """The ``sweep`` command: the runs of a sweep file."""
    w = sub.add_parser("sweep", help="run a sweep file: a design of parameter points, "
                       "replications of each, one table row per run")
    w.add_argument("sweep", help="sweep YAML file (scenarios/sweeps/)")
    ex = w.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=_positive, default=1,
                    help="processes on this machine (default 1: run in this process)")
    ex.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run on the Dask cluster with this scheduler (workers need treatsim "
                         "installed)")
    ex.add_argument("--dask-local", type=_positive, metavar="N",
                    help="start a local Dask cluster of N worker processes and run on it")
    w.add_argument("--out", help="sweep folder (default results/sweeps/<sweep name>)")
    w.add_argument("--resume", action="store_true",
                   help="continue the sweep in --out, skipping its finished runs")
    w.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(w)


def _add_sensitivity(sub: argparse._SubParsersAction) -> None:
    """The ``sensitivity`` command: indices of a finished sweep."""
    a = sub.add_parser("sensitivity", help="Sobol or Morris indices (or a grid's response) "
                       "of a finished sweep, with tables and plots")
    a.add_argument("results", help="the sweep's folder")
    a.add_argument("--metrics", nargs="+", help="metrics to analyse (default: all kept)")
    a.add_argument("--response", nargs="+", metavar="PARAMETER",
                   help="one or two parameters for a grid's response plot")
    a.add_argument("--out", help="folder for tables and plots (default RESULTS/sensitivity)")
    _add_force(a)


def _add_schema(sub: argparse._SubParsersAction) -> None:
    """The ``schema`` command: the JSON Schema of scenario or sweep files."""
    s = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    s.add_argument("--out", help="write to this file instead of standard output")
    s.add_argument("--sweep", action="store_true", help="the schema of sweep files instead")
    _add_force(s)


def _add_validate_model(sub: argparse._SubParsersAction) -> None:
    """The ``validate-model`` command: the baselines against published figures."""
    v = sub.add_parser("validate-model", help="run the calibrated area baselines and compare "
                       "them with published figures they were not fitted to")
    v.add_argument("--validation", default="calibration/validation/england.yaml",
                   help="the validation file (default calibration/validation/england.yaml)")
    v.add_argument("--areas", help="comma-separated area names or scenario files (default: "
                   "the five calibrated areas)")
    v.add_argument("--reps", type=_positive, default=10,
                   help="replications per area (default 10)")
    v.add_argument("--workers", type=_positive, default=1, help="processes (default 1)")
    v.add_argument("--out", help="output folder (default results/validation)")
    v.add_argument("--quiet", action="store_true", help="no progress")
    _add_force(v)


def _add_app(sub: argparse._SubParsersAction) -> None:
    """The ``app`` command: the what-if page in the browser."""
    a = sub.add_parser("app", help="start the what-if page in the browser (local, Streamlit)")
    a.add_argument("--port", type=_in_range(1, 65535), default=8501,
                   help="port (default 8501)")
    a.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 serves a team, see the README)")
    a.add_argument("--workers", type=_positive,
                   help="processes for one run (default: all cores); runs from several "
                        "tabs queue behind each other")
    a.add_argument("--out", default="results/app",
                   help="the page's own results folder (default results/app)")
    a.add_argument("--scenarios", help="the scenarios folder (default scenarios/)")


def _add_force(parser: argparse.ArgumentParser) -> None:
    """The ``--force`` option that every writing command has."""
    parser.add_argument(
        "--force", action="store_true",
        help="go ahead where treatsim would refuse: an existing path that it did not write "
             "is moved aside (never deleted), and a run estimated to need more memory than "
             "this machine has, or more than a day, is started")


def _positive(text: str) -> int:
    """A whole number of at least 1 (argument type)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    """A whole number of 0 or more (argument type)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _seed(text: str) -> int:
    """A seed: a whole number from 0 to 2**63 - 1 (argument type)."""
    value = _non_negative(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be at most 2**63 - 1, got {value}")
    return value


def _float(text: str, example: str) -> float:
    """A number (argument type); the error shows ``example``."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as {example}, got "
                                         f"{text!r}") from None


def _share(text: str) -> float:
    """A share strictly between 0 and 1, e.g. 0.05 (argument type)."""
    value = _float(text, "0.05")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _int(text: str) -> int:
    """A whole number (argument type)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
