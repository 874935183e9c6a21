"""Hostile inputs: every bad file gets one clear paragraph, exit status 2, no traceback,
nothing written, no replication started.

The corpus below holds scenario, sweep and targets files that are malformed, malicious
or merely absurd: YAML bombs and traps, YAML 1.1 surprises in numbers, values that
validate but would break or hang a run, meaning errors, paths that point at files that
are not scenarios, names that would escape the results folder, terminal escapes. Each is
written into a fresh ``tmp_path`` and given to ``treatsim validate`` and to the command
that would run it (``run``, ``sweep`` or ``calibrate``, with ``--out tmp_path/out``),
in this process through :func:`sim.cli.main`. Cases that could hang or blow up a process
if the loader's budgets failed also run as real ``python -m sim`` processes with a
timeout.

Each case checks: exit status 2; ``FILE:LINE`` of the problem in the message (``FILE:``
alone where the file itself cannot be opened, so has no line); a phrase saying what is
wrong; no "Traceback"; nothing written (no ``out``, no ``results``, no new file); and, in
this process, no replication started (the model's ``run`` fails the test if called). A
process that does not end within :data:`HANG_SECONDS` is reported as hung: a guard
against hangs, not a speed limit (speed is measured in ``benchmarks/``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sim import cli
from sim.model import Model
from sim.scenario import (
    MAX_PROBLEMS,
    ScenarioError,
    load_scenario,
    scenario_warnings,
)
from sim.text import printable

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "example.yaml"
TOY = ROOT / "tests" / "data" / "calibration" / "toy.yaml"
TOY_SCENARIO = TOY.with_name("toy_scenario.yaml")
HANG_SECONDS = 120.0


@dataclass
class Case:
    """One hostile input: the files to write, the file given to the commands, where the
    error must point (``file:line`` or ``file:`` when the file has no line) and a phrase
    of its message."""

    id: str
    files: dict[str, str | bytes]
    where: str
    says: str
    main: str = "s.yaml"
    kind: str = "scenario"  # scenario | sweep | targets
    setup: Callable[[Path], None] | None = None
    absent: tuple[str, ...] = ()  # text the message must not contain
    process: bool = False  # also as a real ``python -m sim`` process
    commands: tuple[str, ...] = field(default=())


def child(body: str, base: Path = EXAMPLE) -> str:
    """A scenario that extends ``base`` (line 1) and overrides ``body`` (from line 2)."""
    return f"extends: {base}\n{body}"


def sweep(body: str, scenario: Path | str = EXAMPLE, name: str = "sw") -> str:
    """A sweep file: name (line 1), scenario (2), then ``body``."""
    return f"name: {name}\nscenario: {scenario}\n{body}"


LHS = "design: {method: lhs, samples: 4}\n"          # line 3
STAFF = "parameters:\n  - path: keyworkers.staff\n    range: [5, 20]\n"  # lines 4-6
METRIC = "metrics: [caseload_mean]\n"


def targets(replace: dict[str, str] | None = None, extra: str = "") -> str:
    """The toy targets file (scenario named by absolute path), with lines replaced."""
    text = TOY.read_text().replace("scenario: toy_scenario.yaml", f"scenario: {TOY_SCENARIO}")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text + extra


def _symlink(name: str, to: str) -> Callable[[Path], None]:
    return lambda tmp: os.symlink(to, tmp / name)


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda tmp: os.mkfifo(tmp / name)


def _chain(n: int) -> Callable[[Path], None]:
    """``c0.yaml`` extends ``c1.yaml`` ... extends ``c{n}.yaml`` (the example)."""
    def make(tmp: Path) -> None:
        for i in range(n):
            (tmp / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
        (tmp / f"c{n}.yaml").write_text(f"extends: {EXAMPLE}\n")
    return make


BOMB = "lol0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
MERGE_BOMB = "m0: &m0 {k0: 1, k1: 2, k2: 3}\n" + "".join(
    f"m{i}: &m{i}\n  <<: [" + ", ".join([f"*m{i - 1}"] * 9) + "]\n" for i in range(1, 10))
PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
SECRET = '{"auths": {"registry.example": {"auth": "c2VjcmV0LXRva2VuLTEyMw=="}}}\n'
BIG = "name: big\n" + ("# " + "x" * 78 + "\n") * 14_000  # 1.1 MB of comment


def _many_policies(n: int) -> str:
    return child("policies:\n" + "".join(
        f"  - {{date: 2024-01-01, set: {{modalities.ost.cost_per_day_gbp: {i + 1}}}}}\n"
        for i in range(n)))


CASES = [
    # ------------------------------------------------------------ A: YAML hazards
    Case("alias_bomb", {"s.yaml": BOMB}, "s.yaml:5:", "aliases", process=True),
    Case("merge_key_bomb", {"s.yaml": MERGE_BOMB}, "s.yaml:", "aliases", process=True),
    Case("recursive_alias_list", {"s.yaml": child("description: &a [1, *a]\n")},
         "s.yaml:2:", "recursive"),
    Case("recursive_alias_mapping", {"s.yaml": child("keyworkers: &k {staff: 3, x: *k}\n")},
         "s.yaml:2:", "recursive"),
    Case("deep_flow_nesting", {"s.yaml": child("description: " + "[" * 200 + "]" * 200
                                               + "\n")},
         "s.yaml:2:", "levels deep"),
    Case("deep_block_nesting", {"s.yaml": child("".join(
        "  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "x: 1\n")},
        "s.yaml:", "levels deep"),
    Case("deep_nesting_5000", {"s.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n"},
         "s.yaml:1:", "levels deep", process=True),
    Case("sixty_thousand_values", {"s.yaml": "a: [" + ",".join(["0"] * 60_000) + "]\n"},
         "s.yaml:1:", "more than 50,000 values"),
    Case("nul_byte", {"s.yaml": child("name: a\x00b\n")}, "s.yaml:2:", "control character"),
    Case("escape_byte", {"s.yaml": child("description: \x1b[2J\x1b[31mred\n")},
         "s.yaml:2:", "control character \\x1b", absent=("\x1b",)),
    Case("bell_in_key", {"s.yaml": child("keyworkers:\n  st\x07aff: 3\n")},
         "s.yaml:3:", "control character \\x07", absent=("\x07",)),
    Case("c1_next_line", {"s.yaml": child("description: a\x85b\n")}, "s.yaml:2:",
         "control character \\x85"),
    Case("line_separator", {"s.yaml": child("description: a\u2028b\n")}, "s.yaml:2:",
         "control character \\u2028"),
    Case("not_utf8", {"s.yaml": child("description: caf\xe9\n").encode("latin-1")},
         "s.yaml:2:", "not UTF-8"),
    Case("symlink_loop_extended", {"s.yaml": "extends: loop.yaml\n"}, "s.yaml:1:",
         "cannot read loop.yaml", setup=_symlink("loop.yaml", "loop.yaml")),
    Case("symlink_loop_given", {}, "s.yaml:", "cannot read file",
         setup=_symlink("s.yaml", "s.yaml")),
    Case("extends_chain_2000", {}, "c15.yaml:1:", "more than 16 files", main="c0.yaml",
         setup=_chain(2000)),
    Case("extends_cycle_of_three", {"s.yaml": "extends: b.yaml\n",
                                    "b.yaml": "extends: c.yaml\n",
                                    "c.yaml": "extends: s.yaml\n"},
         "c.yaml:1:", "forms a cycle"),
    Case("extends_folder", {"s.yaml": "extends: dir.yaml\n"}, "s.yaml:1:",
         "not a regular file", setup=lambda tmp: (tmp / "dir.yaml").mkdir()),
    Case("extends_device", {"s.yaml": "extends: zero.yaml\n"}, "s.yaml:1:",
         "not a regular file", setup=_symlink("zero.yaml", "/dev/zero")),
    Case("extends_fifo", {"s.yaml": "extends: fifo.yaml\n"}, "s.yaml:1:",
         "not a regular file", setup=_fifo("fifo.yaml")),
    Case("given_fifo", {}, "s.yaml:", "not a regular file", setup=_fifo("s.yaml"),
         process=True),
    Case("extends_huge_file", {"s.yaml": "extends: big.yaml\n", "big.yaml": BIG},
         "s.yaml:1:", "larger than 1024 KiB"),
    Case("given_huge_file", {"s.yaml": BIG}, "s.yaml:", "larger than 1024 KiB",
         process=True),
    Case("extends_empty_file", {"s.yaml": "extends: e.yaml\n", "e.yaml": ""}, "e.yaml:1:",
         "empty"),
    Case("extends_etc_passwd", {"s.yaml": "extends: /etc/passwd\n"}, "s.yaml:1:",
         "expected a .yaml file", absent=("x:0:0",)),
    Case("extends_passwd_lookalike", {"s.yaml": "name: a\nextends: p.yaml\n", "p.yaml": PASSWD},
         "p.yaml:1:", "must be a mapping", absent=("x:0:0", "nologin")),
    Case("extends_secret_mapping", {"s.yaml": "name: a\nextends: cfg.yaml\n",
                                    "cfg.yaml": SECRET},
         "s.yaml:2:", "not a scenario file", absent=("c2VjcmV0", "registry")),
    Case("fitted_etc_passwd", {"s.yaml": child("fitted: /etc/passwd\n")}, "s.yaml:2:",
         "expected a .yaml file", absent=("x:0:0",)),
    Case("fitted_missing_in_child", {"s.yaml": child("name: a\nfitted: gone.yaml\n")},
         "s.yaml:3:", "file not found: gone.yaml"),
    Case("fitted_not_a_fit", {"s.yaml": child("fitted: f.yaml\n"),
                              "f.yaml": "area: x\nloss: 1\n"},
         "s.yaml:2:", "not a calibration result"),
    Case("fitted_unknown_parameter", {"s.yaml": child("fitted: f.yaml\n"),
                                      "f.yaml": "parameters:\n  keyworkers.staf: 3\n"},
         "f.yaml:2:", "did you mean 'staff'"),
    Case("python_object_tag", {"s.yaml": child(
        "description: !!python/object/apply:os.system [echo hacked]\n")},
        "s.yaml:2:", "is not allowed"),
    Case("python_name_tag", {"s.yaml": child("description: !!python/name:os.system\n")},
         "s.yaml:2:", "is not allowed"),
    Case("binary_tag", {"s.yaml": child("name: !!binary aGVsbG8=\n")}, "s.yaml:2:",
         "is not allowed"),
    Case("two_documents", {"s.yaml": child("name: a\n---\nname: b\n")}, "s.yaml:",
         "only one YAML document"),
    Case("duplicate_keys_all_reported", {"s.yaml": child(
        "keyworkers:\n  staff: 1\n  staff: 2\nrun:\n  years: 1\n  years: 2\n")},
        "s.yaml:7:", "duplicate key"),
    Case("many_errors_counted", {"s.yaml": child("".join(f"bad_key_{i}: 1\n"
                                                         for i in range(25)))},
         "s.yaml:2:", f"and {25 - MAX_PROBLEMS} more problems"),
    Case("five_thousand_unknown_keys", {"s.yaml": child(
        "".join(f"k{i}: {i}\n" for i in range(5_000)))}, "s.yaml:2:",
        "and 4980 more problems"),
    # ------------------------------------------------------------ A: YAML 1.1 numbers
    Case("octal_count", {"s.yaml": child("keyworkers:\n  caseload_cap: 040\n")},
         "s.yaml:3:", "cannot start with 0"),
    Case("sexagesimal_staff", {"s.yaml": child("keyworkers:\n  staff: 1:30\n")},
         "s.yaml:3:", "base 60"),
    Case("sexagesimal_float", {"s.yaml": child("run:\n  follow_up_days: 1:30.5\n")},
         "s.yaml:3:", "base 60"),
    Case("bool_for_number", {"s.yaml": child("keyworkers:\n  staff: true\n")},
         "s.yaml:3:", "expected a number, got true"),
    Case("bool_in_distribution", {"s.yaml": child(
        "relapse:\n  time_to_relapse: {dist: weibull, shape: true, scale_days: 30}\n")},
        "s.yaml:3:", "shape: expected a number"),
    Case("hex_count", {"s.yaml": child("keyworkers:\n  caseload_cap: 0x10\n")},
         "s.yaml:3:", "decimal"),
    Case("yes_for_bool", {"s.yaml": child("modalities:\n  hat:\n    open: yes\n")},
         "s.yaml:4:", "expected true or false"),
    Case("quoted_number", {"s.yaml": child("keyworkers:\n  staff: \"18\"\n")},
         "s.yaml:3:", "remove the quotes"),
    Case("explicit_int_tag_octal", {"s.yaml": child("keyworkers:\n  caseload_cap: !!int 040\n")},
         "s.yaml:3:", "expected a number"),
    Case("fraction_for_count", {"s.yaml": child("keyworkers:\n  caseload_cap: 40.5\n")},
         "s.yaml:3:", "whole number"),
    Case("number_for_date", {"s.yaml": child("run:\n  start_date: 20220401\n")},
         "s.yaml:3:", "expected a date"),
    Case("bool_share", {"s.yaml": child("entry:\n  crack: {psychosocial: true}\n")},
         "s.yaml:3:", "expected a number"),
    Case("nan_staff", {"s.yaml": child("keyworkers:\n  staff: .nan\n")}, "s.yaml:3:",
         "finite"),
    # ------------------------------------------------------------ B: absurd values
    Case("seed_beyond_64_bits", {"s.yaml": child("run:\n  seed: 18446744073709551617\n")},
         "s.yaml:3:", "must be at most"),
    Case("start_date_9999", {"s.yaml": child("run:\n  start_date: 9999-12-31\n")},
         "s.yaml:3:", "must be at most 2200-12-31"),
    Case("policy_date_2999", {"s.yaml": child(
        "policies:\n  - {date: 2999-01-01, set: {keyworkers.staff: 3}}\n")},
        "s.yaml:3:", "must be at most 2200-12-31"),
    Case("staff_1e308", {"s.yaml": child("keyworkers:\n  staff: 1e308\n")}, "s.yaml:3:",
         "must be at most"),
    Case("follow_up_1e308", {"s.yaml": child("run:\n  follow_up_days: 1e308\n")},
         "s.yaml:3:", "must be at most 3650"),
    Case("medicine_block_1e-300", {"s.yaml": child(
        "modalities:\n  hat:\n    medicine_block_days: 1e-300\n")},
        "s.yaml:4:", "must be at least 1"),
    Case("years_100000", {"s.yaml": child("run:\n  years: 100000\n")}, "s.yaml:3:",
         "must be at most 200"),
    Case("warmup_a_million", {"s.yaml": child("run:\n  warmup_years: 1000000\n")},
         "s.yaml:3:", "must be at most 100"),
    Case("custody_rate_1e300", {"s.yaml": child(
        "population:\n  community:\n    custody: {per_year: 1e300}\n")},
        "s.yaml:4:", "must be at most 1000"),
    Case("population_1e9", {"s.yaml": child(
        "population:\n  initial:\n    community: 1000000000\n")},
        "s.yaml:4:", "must be at most 10000000"),
    Case("incidence_1e9", {"s.yaml": child("population:\n  incidence_per_year: 1e9\n")},
         "s.yaml:3:", "must be at most"),
    Case("multiplier_1e300", {"s.yaml": child(
        "referral:\n  gp:\n    multipliers: {sex: {male: 1e300}}\n")},
        "s.yaml:4:", "factor must be between 0 and 1000"),
    Case("scale_one_attosecond", {"s.yaml": child(
        "modalities:\n  ost:\n    dropout: {dist: weibull, shape: 0.5, scale_days: 1e-300}\n")},
        "s.yaml:4:", "one second"),
    Case("shape_1e-300", {"s.yaml": child(
        "relapse:\n  time_to_relapse: {dist: gamma, shape: 1e-300, scale_days: 30}\n")},
        "s.yaml:3:", "shape: must be between"),
    Case("replications_1e8", {"s.yaml": child("run:\n  replications: 100000000\n")},
         "s.yaml:3:", "must be at most 100000"),
    Case("rehab_price_1e-300", {"s.yaml": child(
        "modalities:\n  rehab:\n    price_per_week_gbp: 1e-300\n")},
        "s.yaml:4:", "must be at least 0.01"),
    Case("cost_1e300", {"s.yaml": child("extra_costs_per_year_gbp: {housing: 1e300}\n")},
         "s.yaml:2:", "must be at most"),
    Case("relapse_loop_without_time", {"s.yaml": child(
        "relapse:\n  time_to_relapse: {dist: fixed, days: 0}\n  return_to_treatment: 1\n")},
        "s.yaml:3:", "without time passing"),
    Case("pressure_table_150_long", {"s.yaml": child(
        "keyworkers:\n  pressure:\n    caseload: [" + ", ".join(str(i + 1) for i in range(150))
        + "]\n")}, "s.yaml:4:", "at most 100"),
    Case("policies_1001", {"s.yaml": _many_policies(1001)}, "s.yaml:2:", "at most 1000"),
    # ------------------------------------------------------------ C: meaning
    Case("two_policies_same_key_same_day", {"s.yaml": child(
        "policies:\n  - {date: 2024-01-01, set: {keyworkers.staff: 20}}\n"
        "  - {date: 2024-01-01, set: {keyworkers.staff: 25}}\n")},
        "s.yaml:4:", "policies[0] also changes keyworkers.staff"),
    Case("two_policies_nested_keys_same_day", {"s.yaml": child(
        "policies:\n  - {date: 2024-01-01, set: {keyworkers.pressure.caseload: [10]}}\n"
        "  - {date: 2024-01-01, set: {keyworkers.pressure: {caseload: [20]}}}\n")},
        "s.yaml:4:", "also changes"),
    Case("close_and_open_same_day", {"s.yaml": child(
        "policies:\n  - {date: 2024-01-01, close: hat, transition: {ost: 1}}\n"
        "  - {date: 2024-01-01, open: hat}\n")},
        "s.yaml:4:", "also changes modalities.hat.open"),
    Case("policy_sets_name", {"s.yaml": child(
        "policies:\n  - date: 2024-01-01\n    set: {name: other}\n")},
        "s.yaml:4:", "name"),
    Case("policy_sets_description", {"s.yaml": child(
        "policies:\n  - date: 2024-01-01\n    set:\n      description: other\n")},
        "s.yaml:5:", "cannot be changed by a policy"),
    Case("policy_sets_run", {"s.yaml": child(
        "policies:\n  - date: 2024-01-01\n    set: {run.years: 2}\n")},
        "s.yaml:4:", "run settings"),
    # ------------------------------------------------------------ E: names
    Case("name_escapes_results", {"s.yaml": child("name: ../precious\n")}, "s.yaml:2:",
         "names the output folder"),
    Case("name_dot", {"s.yaml": child("name: .\n")}, "s.yaml:2:", "names the output folder"),
    Case("name_dot_dot", {"s.yaml": child("name: ..\n")}, "s.yaml:2:",
         "names the output folder"),
    Case("name_with_slash", {"s.yaml": child("name: a/b\n")}, "s.yaml:2:",
         "names the output folder"),
    Case("name_hidden", {"s.yaml": child("name: .cache\n")}, "s.yaml:2:",
         "names the output folder"),
    Case("name_empty", {"s.yaml": child("name: ''\n")}, "s.yaml:2:", "names the output folder"),
    Case("name_too_long", {"s.yaml": child("name: " + "a" * 65 + "\n")}, "s.yaml:2:",
         "names the output folder"),
    Case("name_terminal_escape", {"s.yaml": child('name: "x\\e]0;pwned\\a\\e[31m"\n')},
         "s.yaml:2:", "\\x1b", absent=("\x1b", "\x07")),
    Case("name_not_text", {"s.yaml": child("name: [1, 2]\n")}, "s.yaml:2:", "expected text"),
    # ------------------------------------------------------------ sweeps
    Case("sweep_names_itself", {"s.yaml": sweep(LHS + STAFF + METRIC, "s.yaml")}, "s.yaml:2:",
         "names this file itself", kind="sweep"),
    Case("sweep_names_a_sweep", {"s.yaml": sweep(LHS + STAFF + METRIC, "o.yaml"),
                                 "o.yaml": sweep(LHS + STAFF + METRIC)},
         "s.yaml:2:", "is a sweep file", kind="sweep"),
    Case("sweep_names_targets", {"s.yaml": sweep(LHS + STAFF + METRIC, "t.yaml"),
                                 "t.yaml": targets()},
         "s.yaml:2:", "is a targets file", kind="sweep"),
    Case("sweep_names_secret_mapping", {"s.yaml": sweep(LHS + STAFF + METRIC, "cfg.yaml"),
                                        "cfg.yaml": 'name: "hunter2 password"\n'
                                                    'auths: {example: {auth: c2VjcmV0}}\n'},
         "s.yaml:2:", "not a scenario file", kind="sweep", absent=("hunter2", "c2VjcmV0")),
    Case("sweep_names_etc_passwd", {"s.yaml": sweep(LHS + STAFF + METRIC, "/etc/passwd")},
         "s.yaml:2:", "expected a .yaml file", kind="sweep", absent=("x:0:0",)),
    Case("sweep_1e8_replications", {"s.yaml": sweep(LHS + STAFF
                                                    + "replications: 100000000\n" + METRIC)},
         "s.yaml:7:", "must be at most 100000", kind="sweep"),
    Case("sweep_sobol_2_28", {"s.yaml": sweep("design: {method: sobol, samples: 268435456}\n"
                                              + STAFF + METRIC)},
         "s.yaml:3:", "must be at most 100000", kind="sweep"),
    Case("sweep_grid_1e7_points", {"s.yaml": sweep("design: {method: grid}\nparameters:\n" + "".join(
        f"  - {{path: {p}, levels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}\n" for p in (
            "keyworkers.staff", "triage.cost_per_assessment_gbp",
            "keyworkers.cost_per_worker_per_year_gbp", "modalities.ost.cost_per_day_gbp",
            "modalities.psychosocial.cost_per_day_gbp", "modalities.hat.fixed_cost_per_year_gbp",
            "modalities.detox.community_cost_per_day_gbp")) + METRIC)},
        "s.yaml:4:", "10,000,000 points", kind="sweep"),
    Case("sweep_grid_points_1e7", {"s.yaml": sweep(
        "design: {method: grid}\nparameters:\n  - {path: keyworkers.staff, range: [5, 20], "
        "points: 10000000}\n" + METRIC)}, "s.yaml:5:", "must be at most", kind="sweep"),
    Case("sweep_morris_too_many", {"s.yaml": sweep("design: {method: morris, samples: 60000}\n"
                                                   + STAFF + METRIC)},
         "s.yaml:3:", "100,000", kind="sweep"),
    Case("sweep_too_many_runs", {"s.yaml": sweep("design: {method: lhs, samples: 1000}\n"
                                                 + STAFF + "replications: 2000\n" + METRIC)},
         "s.yaml:7:", "runs; a sweep may have at most", kind="sweep"),
    Case("sweep_metric_twice", {"s.yaml": sweep(LHS + STAFF
                                                + "metrics:\n  - caseload_mean\n"
                                                "  - caseload_mean\n")},
         "s.yaml:9:", "listed twice", kind="sweep"),
    Case("sweep_metric_trailing_at", {"s.yaml": sweep(LHS + STAFF + "metrics: [caseload_mean@]\n")},
         "s.yaml:7:", "name@year", kind="sweep"),
    Case("sweep_metric_superscript_year", {"s.yaml": sweep(
        LHS + STAFF + "metrics: [caseload_mean@\u00b2]\n")}, "s.yaml:7:", "name@year",
        kind="sweep"),
    Case("sweep_metric_trailing_space", {"s.yaml": sweep(
        LHS + STAFF + "metrics: ['caseload_mean ']\n")}, "s.yaml:7:", "name@year",
        kind="sweep"),
    Case("sweep_name_dot_dot", {"s.yaml": sweep(LHS + STAFF + METRIC, name="..")},
         "s.yaml:1:", "names the output folder", kind="sweep"),
    Case("sweep_name_escapes", {"s.yaml": sweep(LHS + STAFF + METRIC, name="../../x")},
         "s.yaml:1:", "names the output folder", kind="sweep"),
    Case("sweep_seed_2_65", {"s.yaml": sweep("seed: 36893488147419103232\n" + LHS + STAFF
                                             + METRIC)},
         "s.yaml:3:", "must be at most", kind="sweep"),
    Case("sweep_samples_true", {"s.yaml": sweep("design: {method: lhs, samples: true}\n"
                                                + STAFF + METRIC)},
         "s.yaml:3:", "expected a number", kind="sweep"),
    Case("sweep_sets_name", {"s.yaml": sweep(LHS + "parameters:\n  - {path: name, range: [1, 2]}\n"
                                             + METRIC)},
         "s.yaml:5:", "cannot be changed", kind="sweep"),
    Case("sweep_breaks_a_policy", {"s.yaml": sweep(LHS + "parameters:\n  - path: "
                                                   "policies.0.set.keyworkers.staff\n"
                                                   "    range: [-5, 5]\n" + METRIC, "p.yaml"),
                                   "p.yaml": child("name: p\npolicies:\n  - {date: 2024-01-01, "
                                                   "set: {keyworkers.staff: 3}}\n")},
         "s.yaml:6:", "policies[0]: keyworkers.staff: must be greater than 0",
         kind="sweep"),
    Case("sweep_alias_bomb", {"s.yaml": sweep(LHS + STAFF + METRIC) + BOMB.replace("lol", "x")},
         "s.yaml:12:", "aliases", kind="sweep"),
    # ------------------------------------------------------------ targets
    Case("target_year_beyond_run", {"t.yaml": targets({"    metric: triaged_only_share\n":
                                                       "    metric: triaged_only_share\n"
                                                       "    year: 9\n"})},
         "t.yaml:21:", "so year must be 1 to 1", main="t.yaml", kind="targets"),
    Case("targets_reps_1e9", {"t.yaml": targets({"reps: 2": "reps: 1000000000"})},
         "t.yaml:5:", "must be at most 1000", main="t.yaml", kind="targets"),
    Case("targets_name_themselves", {"t.yaml": targets(
        {f"scenario: {TOY_SCENARIO}": "scenario: t.yaml"})},
        "t.yaml:3:", "names this file itself", main="t.yaml", kind="targets"),
    Case("targets_seed_2_70", {"t.yaml": targets({"seed: 3": "seed: 1180591620717411303424"})},
         "t.yaml:6:", "must be at most", main="t.yaml", kind="targets"),
]

RUN_COMMAND = {"scenario": "run", "sweep": "sweep", "targets": "calibrate"}


def _commands(case: Case) -> list[str]:
    """validate (not for targets files, which only ``calibrate`` reads), then the
    command that would run the file."""
    return (["validate"] if case.kind != "targets" else []) + [RUN_COMMAND[case.kind]]


def _args(case: Case, command: str, tmp: Path) -> list[str]:
    if command == "validate":
        return ["validate", case.main]
    extra = ["--reps", "1"] if command == "run" else []
    return [command, case.main, *extra, "--out", str(tmp / "out"), "--quiet"]


def _write(case: Case, tmp: Path) -> set[Path]:
    for name, content in case.files.items():
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.setup:
        case.setup(tmp)
    return set(tmp.rglob("*"))


def _check(case: Case, code: object, err: str, tmp: Path, before: set[Path]) -> None:
    assert code != "hung", f"no answer within {HANG_SECONDS:.0f} s"
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err, err
    assert case.where in err, f"expected {case.where!r} in: {err}"
    assert case.says in err, f"expected {case.says!r} in: {err}"
    for text in case.absent:
        assert text not in err, f"{text!r} echoed in: {err!r}"
    assert not (tmp / "out").exists() and not (tmp / "results").exists()
    assert set(tmp.rglob("*")) == before, "a command wrote a file"
    assert err.strip() and all(line.strip() for line in err.strip().splitlines()), err


def test_corpus_is_large_and_named_uniquely():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_in_process(case: Case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TREATSIM_PROGRESS", raising=False)
    monkeypatch.setattr(Model, "run", lambda self: pytest.fail("a replication started"))
    before = _write(case, tmp_path)
    for command in _commands(case):
        code = cli.main(_args(case, command, tmp_path))
        err = capsys.readouterr().err
        _check(case, code, err, tmp_path, before)


# --------------------------------------------------------------------------- processes

PROCESS_CASES = [c for c in CASES if c.process]


@pytest.fixture(scope="module")
def process_results(tmp_path_factory):
    """Run every (case, command) of PROCESS_CASES as ``python -m sim``, concurrently."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TREATSIM_PROGRESS", None)
    jobs = []
    for case in PROCESS_CASES:
        for command in _commands(case):
            tmp = tmp_path_factory.mktemp(f"{case.id}-{command}")
            jobs.append((case, command, tmp, _write(case, tmp)))

    def call(job):
        case, command, tmp, before = job
        try:
            proc = subprocess.run([sys.executable, "-m", "sim", *_args(case, command, tmp)],
                                  cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=HANG_SECONDS)
            code, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            code, err = "hung", ""
        return (case.id, command), (code, err, tmp, before)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(call, jobs))


@pytest.mark.slow
@pytest.mark.parametrize("case,command", [
    pytest.param(c, cmd, id=f"{c.id}-{cmd}") for c in PROCESS_CASES for cmd in _commands(c)])
def test_hostile_input_as_a_process(case: Case, command: str, process_results):
    code, err, tmp, before = process_results[(case.id, command)]
    _check(case, code, err, tmp, before)


# --------------------------------------------------------------------------- details


def test_every_problem_of_a_file_is_listed(tmp_path):
    """Pydantic's errors and the loader's are all reported, not one per try."""
    bad = tmp_path / "s.yaml"
    bad.write_text(child("keyworkers:\n  staff: -1\n  caseload_cap: 0\nrun:\n  years: 0\n"
                         "  seed: -1\nreferral:\n  gp: {per_year: -1}\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert len(info.value.problems) == 5
    lines = {p[1] for p in info.value.problems}
    assert lines == {3, 4, 6, 7, 9}
    dup = tmp_path / "d.yaml"
    dup.write_text(child("a: 1\na: 2\nb: 1\nb: 2\n"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(dup)
    assert [p[1] for p in info.value.problems] == [3, 5]


def test_problems_beyond_the_limit_are_counted(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text(child("".join(f"k{i}: 1\n" for i in range(MAX_PROBLEMS + 7))))
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    text = info.value.message()
    assert len(text.splitlines()) == MAX_PROBLEMS + 1
    assert text.splitlines()[-1].endswith("and 7 more problems")


def test_printable_escapes_control_characters():
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("\x00\x07\x9b\u202e\u2028") == "\\x00\\x07\\x9b\\u202e\\u2028"
    assert printable("line\nnext\ttab é ✓") == "line\nnext\ttab é ✓"
    error = ScenarioError([("f\x1b.yaml", 3, "k\ney", "bad \x1b[2J value")])
    assert error.message() == "f\\x1b.yaml:3: k\\ney: bad \\x1b[2J value"


def test_policy_after_the_run_is_a_warning(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(child("name: late\npolicies:\n"
                          "  - {date: 2023-06-01, set: {keyworkers.staff: 20}}\n"
                          "  - date: 2040-01-01\n    set: {keyworkers.staff: 25}\n"))
    scenario = load_scenario(path)
    warnings = scenario_warnings(scenario)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}:5: policies[1].date: 2040-01-01 is after the run")
    assert "changes nothing that is reported" in warnings[0]
    assert scenario_warnings(load_scenario(EXAMPLE)) == []


def test_yaml_1_2_numbers_still_read(tmp_path):
    """Decimal numbers in every spelling a scenario uses still load."""
    path = tmp_path / "s.yaml"
    path.write_text(child("keyworkers: {staff: 1.2e1, caseload_cap: 4_0}\n"
                          "referral: {gp: {per_year: .05}}\n"
                          "population: {incidence_per_year: 150}\n"))
    s = load_scenario(path)
    assert s.keyworkers.staff == 12.0 and s.keyworkers.caseload_cap == 40
    assert s.referral.gp.per_year == 0.05


def test_shipped_files_still_validate(monkeypatch):
    monkeypatch.chdir(ROOT)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml"))
    assert cli.main(["validate", *files]) == 0


def test_outputs_json_files_are_untouched():
    """The corpus writes only into temporary folders (a guard for the guard)."""
    assert not (ROOT / "results" / "precious").exists()
    assert json.loads((ROOT / "scenarios" / "schema.json").read_text())["title"]


def test_is_sweep_file_never_blocks_or_recurses(tmp_path):
    from sim.scenario import is_sweep_file

    assert is_sweep_file(ROOT / "scenarios" / "sweeps" / "example_lhs.yaml")
    assert not is_sweep_file(EXAMPLE)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    os.mkfifo(tmp_path / "fifo.yaml")
    for path in (deep, tmp_path / "fifo.yaml", tmp_path / "missing.yaml", Path("/dev/zero")):
        assert not is_sweep_file(path)


# --------------------------------------------------------------------------- limits


def _big_scenario(tmp: Path, people: int, years: int, reps: int = 1) -> Path:
    path = tmp / "big.yaml"
    path.write_text(child(f"name: big\nrun: {{warmup_years: 0, years: {years}, "
                          f"replications: {reps}}}\npopulation:\n  initial: "
                          f"{{community: {people}, in_treatment: 0}}\n"
                          "  incidence_per_year: 0\n"))
    return path


def test_limits_big_but_legal_run_is_valid_but_too_big(tmp_path, monkeypatch, capsys):
    from sim.execute.limits import estimate_run, too_big

    monkeypatch.chdir(tmp_path)
    path = _big_scenario(tmp_path, 5_000_000, 200)
    assert cli.main(["validate", str(path)]) == 0  # every field is within its bounds
    capsys.readouterr()
    est = estimate_run(load_scenario(path), reps=1)
    assert est.runs == 1 and est.person_years == pytest.approx(1e9, rel=0.01)
    assert est.peak_bytes > 35e9  # about 7 KB a person
    assert 6 * 3600 < est.seconds < 86_400
    message = too_big(est, memory_bytes=32e9)
    assert message is not None and "more memory than this machine's 32 GB" in message
    assert "about 1.0e9 person-years over 1 run" in message
    assert too_big(est, memory_bytes=1e12) is None  # 11 hours, within a day
    ten = estimate_run(load_scenario(path), reps=10)
    assert "more than a day" in too_big(ten, memory_bytes=1e15)


def test_the_command_refuses_work_too_big_for_the_machine_before_running(tmp_path,
                                                                        monkeypatch, capsys):
    """5 million people for 200 years: `run` and `compare` exit 2 at once with the
    estimate, write nothing, and say that --force would run it anyway."""
    import sim.execute.runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim.execute.runner, "run", lambda *a, **k: pytest.fail("simulated"))
    path = _big_scenario(tmp_path, 5_000_000, 200)
    for args in (["run", str(path)], ["compare", str(EXAMPLE), str(path), "--reps", "2"]):
        assert cli.main([*args, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "too big to run: about" in err and "person-years" in err, err
        assert "add --force to run anyway" in err and "Traceback" not in err
        assert not (tmp_path / "results").exists()


def test_limits_shipped_runs_and_sweeps_fit():
    from sim.execute.limits import estimate_run, estimate_sweep, sum_estimates, too_big
    from sim.sweep import load_sweep

    scenario = load_scenario(ROOT / "scenarios" / "middlesbrough.yaml")
    one = estimate_run(scenario, reps=10)
    init = scenario.population.initial
    years = 3 + 3 + 183 / 365
    expected = (init.community + init.in_treatment
                + scenario.population.incidence_per_year * years / 2) * years
    assert one.person_years == pytest.approx(10 * expected)
    assert too_big(one, memory_bytes=8e9) is None
    assert one.describe().startswith("about 1.5e5 person-years over 10 runs: ~")
    two = estimate_run(scenario, reps=10, workers=2)
    assert two.peak_bytes > one.peak_bytes
    assert two.seconds <= one.seconds
    plan = load_sweep(ROOT / "scenarios" / "sweeps" / "middlesbrough_sobol.yaml")
    swept = estimate_sweep(plan, workers=2)
    assert swept.runs == plan.points * plan.sweep.replications == 896
    assert too_big(swept, memory_bytes=8e9) is None
    total = sum_estimates([one, swept])
    assert total.runs == 906 and total.seconds == pytest.approx(one.seconds + swept.seconds)
    assert total.peak_bytes <= one.peak_bytes + swept.peak_bytes
    assert sum_estimates([]).runs == 0
