"""Bad scenario files give one short, precise error: ``FILE:LINE: key.path: message``.

Every file in ``tests/data/bad/`` breaks one thing (most ``extends`` the example scenario
and override a key). For each we check the first line of the error: the file (as the loader
shows it, relative to the working directory), the line of the offending key *in the file
that contains it*, the key path, and a message that says what is wrong. The command line
(``python -m sim validate`` / ``run``) must report the same, exit with status 2 and create
nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
EXAMPLE = ROOT / "scenarios" / "example.yaml"

# file name -> (line, key path or None for file-level errors, message substring[, file the
# error is reported in when it is not the file itself])
EXPECTED: dict[str, tuple] = {
    "typo_key.yaml": (4, "keyworkers.caseload_cpa", "did you mean 'caseload_cap'"),
    "typo_section.yaml": (3, "keywokers", "did you mean 'keyworkers'"),
    "wrong_type.yaml": (4, "keyworkers.staff", "expected a number, got 'eighteen'"),
    "negative_rate.yaml": (5, "referral.gp.per_year", "must be at least 0, got -0.1"),
    "entry_sum.yaml": (4, "entry.opiate", "must sum to 1, got 0.9"),
    "entry_partial.yaml": (4, "entry.opiate", "inherited from scenarios/example.yaml"),
    "review_sum.yaml": (6, "modalities.psychosocial.review.probabilities",
                        "must sum to 1, got 1.1"),
    "unknown_dist.yaml": (5, "modalities.ost.dropout",
                          "unknown distribution 'weibul' (did you mean 'weibull'?)"),
    "dist_missing_param.yaml": (4, "relapse.time_to_relapse.scale_days",
                                "required key is missing"),
    "dist_unknown_param.yaml": (4, "relapse.time_to_relapse.scale",
                                "did you mean 'scale_days'"),
    "caseload_cap_zero.yaml": (5, "keyworkers.caseload_cap", "must be at least 1, got 0"),
    "missing_extends.yaml": (2, "extends", "file not found: ../../../scenarios/no_such"),
    "cycle_a.yaml": (2, "extends", "forms a cycle", "cycle_b.yaml"),
    "cycle_b.yaml": (2, "extends", "forms a cycle", "cycle_a.yaml"),
    "policy_before_start.yaml": (5, "policies[0].date", "is before run.start_date 2022-04-01"),
    "policy_set_unknown.yaml": (6, "policies[0].set.keyworkers.staf",
                                "no parameter 'staf' in keyworkers (did you mean 'staff'?)"),
    "policy_set_invalid.yaml": (6, "policies[0].set.keyworkers.caseload_cap",
                                "must be at least 1, got 0"),
    "close_hat_no_transition.yaml": (5, "policies[0].close",
                                     "closing hat needs a transition plan"),
    "invalid_date.yaml": (4, "policies[0].date", "'2023-02-30': day is out of range"),
    "yaml_unclosed_bracket.yaml": (5, None, "is a closing '}' or a comma missing?"),
    "yaml_bad_indent.yaml": (5, None, "check the indentation"),
    "yaml_tab.yaml": (4, None, "indent with spaces, not tabs"),
    "empty.yaml": (1, None, "the file is empty"),
    "infinite_rate.yaml": (5, "referral.gp.per_year", "expected a finite number"),
    "policy_set_run.yaml": (6, "policies[0].set.run.start_date",
                            "run settings (dates, horizon, seed) cannot change"),
    "empirical_weights.yaml": (4, "relapse.time_to_relapse",
                               "weights must have one entry per value in days (3), got 2"),
    "top_level_list.yaml": (1, None, "must be a mapping of 'key: value' lines, got a list"),
    "not_utf8.yaml": (1, None, "not UTF-8"),
    "duplicate_key.yaml": (6, "keyworkers.staff", "duplicate key (first given on line 4)"),
    "multipliers_unknown_attr.yaml": (7, "referral.gp.multipliers.gender",
                                      "unknown attribute 'gender'"),
    "pressure_mismatch.yaml": (4, "keyworkers.pressure", "must have the same length"),
    "start_date_not_date.yaml": (4, "run.start_date", "expected a date like 2022-12-06"),
    "no_extends_missing_section.yaml": (2, "relapse", "required key is missing"),
}

NAMES = sorted(EXPECTED)
MAX_LINES = 5


def _shown(name: str) -> str:
    """The file as the loader shows it when run from ROOT."""
    return f"tests/data/bad/{name}"


def _prefix(name: str) -> str:
    line, key, _msg, *other = EXPECTED[name]
    where = f"{_shown(other[0] if other else name)}:{line}: "
    return where + (f"{key}: " if key else "")


def _error(path: Path | str) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def test_every_bad_file_has_an_expectation():
    on_disk = {p.name for p in BAD.glob("*.yaml")}
    assert on_disk == set(EXPECTED), "add the new file to EXPECTED (or remove the stale row)"
    assert len(on_disk) >= 18


def test_example_is_valid():
    load_scenario(EXAMPLE)


@pytest.mark.parametrize("name", NAMES)
def test_bad_file_error(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    _line, key, msg, *_ = EXPECTED[name]
    text = _error(BAD / name)
    first = text.splitlines()[0]

    assert "Traceback" not in text
    assert first.startswith(_prefix(name)), f"got: {first}"
    if key is not None:
        assert f": {key}: " in first
    assert msg in first, f"got: {first}"
    # one paragraph: a handful of lines, none blank, each naming a file and line
    lines = text.split("\n")
    assert 1 <= len(lines) <= MAX_LINES, text
    for line in lines:
        assert line.strip(), text
        assert ".yaml:" in line.split(" ", 1)[0], text
    # message() is the same text
    with pytest.raises(ScenarioError) as info:
        load_scenario(BAD / name)
    assert info.value.message() == text


@pytest.mark.parametrize("name", ["typo_key.yaml", "missing_extends.yaml", "empty.yaml"])
def test_path_shown_outside_the_working_directory(name, tmp_path, monkeypatch):
    """From elsewhere the loader shows the path as given; the file name still comes first."""
    monkeypatch.chdir(tmp_path)
    first = _error(BAD / name).splitlines()[0]
    head = first.split(":", 1)[0]
    assert head.endswith(name), first
    assert f":{EXPECTED[name][0]}:" in first


def test_missing_file():
    first = _error(BAD / "no_such_file.yaml").splitlines()[0]
    assert "no_such_file.yaml" in first and "file not found" in first


def test_error_from_baseline_points_into_baseline(tmp_path):
    """A bad key inherited from the baseline is reported at its line in the baseline."""
    base = tmp_path / "base.yaml"
    base.write_text(EXAMPLE.read_text().replace("caseload_cap: 40", "caseload_cap: 0"))
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n")
    first = _error(child).splitlines()[0]
    line = next(i for i, t in enumerate(base.read_text().splitlines(), 1) if "caseload_cap" in t)
    assert f"base.yaml:{line}: keyworkers.caseload_cap: must be at least 1" in first


def test_child_can_switch_distribution_family(tmp_path):
    """A mapping that names its ``dist`` replaces the baseline's distribution whole."""
    child = tmp_path / "child.yaml"
    child.write_text(
        f"extends: {os.path.relpath(EXAMPLE, tmp_path)}\n"
        "relapse:\n  time_to_relapse: {dist: lognormal, mean_days: 900, sd_days: 600}\n"
        "modalities:\n  ost:\n    dropout: {scale_days: 3000}\n"
    )
    s = load_scenario(child)
    assert s.relapse.time_to_relapse.dist == "lognormal"
    assert s.modalities.ost.dropout.dist == "weibull"  # partial override still merges
    assert s.modalities.ost.dropout.scale_days == 3000
    assert s.modalities.ost.dropout.shape == 0.55


# --------------------------------------------------------------------------- CLI
#
# ``python -m sim`` takes about a second to start (scipy, pandas), so rather than two
# processes per bad file we start three, concurrently: the real ``python -m sim validate``
# on every bad file at once, the real ``python -m sim run`` on one bad file, and one
# driver process that runs ``python -m sim validate FILE`` and ``python -m sim run FILE
# ...`` for every file the way ``-m`` does (``runpy.run_module("sim", run_name="__main__")``
# with ``sys.argv`` set), recording each exit status and stderr separately.


DRIVER = """
import contextlib, io, json, runpy, sys, traceback
results = {}
for key, args in json.loads(sys.argv[1]):
    err = io.StringIO()
    sys.argv = ["-m", *args]
    code = None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            runpy.run_module("sim", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = "exception"
    results[key] = [code, err.getvalue()]
sys.stdout.write(json.dumps(results))
"""


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Exit status, stderr and output dir of validate/run on every bad file (and real runs)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TREATSIM_PROGRESS", None)
    tmp = tmp_path_factory.mktemp("cli")

    def call(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )

    jobs, outs = [], {}
    for name in NAMES:
        outs[name] = tmp / name.removesuffix(".yaml") / "out"
        jobs.append([f"{name}|validate", ["validate", _shown(name)]])
        jobs.append([f"{name}|run", ["run", _shown(name), "--reps", "1", "--out",
                                     str(outs[name])]])
    real_out = tmp / "real" / "out"
    with ThreadPoolExecutor(max_workers=3) as pool:
        driver = pool.submit(call, ["-c", DRIVER, json.dumps(jobs)])
        validate_all = pool.submit(call, ["-m", "sim", "validate",
                                          *(_shown(n) for n in NAMES)])
        run_one = pool.submit(call, ["-m", "sim", "run", _shown("typo_key.yaml"),
                                     "--reps", "1", "--out", str(real_out)])
        d = driver.result()
        assert d.returncode == 0, d.stderr
        per_file = {tuple(k.split("|")): (code, err) for k, (code, err)
                    in json.loads(d.stdout).items()}
        return {"per_file": per_file, "outs": outs, "validate_all": validate_all.result(),
                "run_one": (run_one.result(), real_out)}


def _check_stderr(name: str, code: object, stderr: str) -> None:
    where = _prefix(name).split(": ", 1)[0]  # FILE:LINE
    assert code == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert where in stderr, stderr
    assert EXPECTED[name][2] in stderr, stderr
    assert len(stderr.strip().splitlines()) <= MAX_LINES + 3, stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", NAMES)
def test_cli_reports_bad_file(name, command, cli_results):
    code, stderr = cli_results["per_file"][(name, command)]
    _check_stderr(name, code, stderr)
    if command == "run":
        out = cli_results["outs"][name]
        assert not out.exists() and not out.parent.exists(), "run created output for a bad file"


@pytest.mark.slow
def test_cli_real_processes(cli_results):
    """The real ``python -m sim`` entry point: validate many files at once, run one."""
    proc = cli_results["validate_all"]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for name in NAMES:
        assert _prefix(name).split(": ", 1)[0] + ":" in proc.stderr, name
    proc, out = cli_results["run_one"]
    _check_stderr("typo_key.yaml", proc.returncode, proc.stderr)
    assert not out.exists() and not out.parent.exists()
