"""``compare --assume NAME=SETTING``: a judgement held at one setting for every compared
scenario, applied exactly as the judgement checks apply it, and then left out of the
checks, the tornado and the draws."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from helpers import ROOT, SMALL, example_data, with_overrides

from sim import cli
from sim.scenario import load_scenario, resolved_yaml
from sim.scenario.params import with_parameters
from sim.uncertainty.analysis import draw_settings, one_at_a_time
from sim.uncertainty.assume import (
    AssumeError,
    apply_assumptions,
    known_names,
    parse_assumptions,
)
from sim.uncertainty.priors import groups, scenario_priors
from sim.uncertainty.runs import scenario_values

BASE = ROOT / "scenarios" / "middlesbrough.yaml"
ALT = ROOT / "scenarios" / "middlesbrough_hat_end.yaml"
LOW = [1.0, 1.0, 1.0, 1.0]
SENTENCE = ("ASSUMED: the assumed effect of keyworker caseload on drop-out and completion "
            "at the low end of its range")


def _middlesbrough():
    scenarios = [load_scenario(BASE), load_scenario(ALT)]
    priors = scenario_priors([BASE, ALT], [s.name for s in scenarios])
    return scenarios, priors


# ------------------------------------------------------------------ parsing (unit)

@pytest.mark.unit
@pytest.mark.parametrize("texts, problem", [
    (["caseload_effect"], "expected NAME=SETTING"),
    (["caseload=low"], "no uncertain input or group is called 'caseload'"),
    (["caseload_effect=lowest"], "the setting must be one of low, neutral, high, central"),
    (["caseload_effect=low", "caseload_effect=high"], "caseload_effect is assumed more than once"),
    (["caseload_effect=low", "caseload_pressure_dropout=high"],
     "caseload_pressure_dropout is already assumed through caseload_effect"),
    (["caseload_effect=neutral"], "no neutral (no-effect) setting inside its range"),
    (["mortality_on_ost=neutral"], "no neutral (no-effect) setting inside its range"),
    (["ost_induction_days=low"], "no uncertain input or group is called"),  # fixed
])
def test_bad_assumptions_are_refused_with_the_known_names(texts, problem):
    _, priors = _middlesbrough()
    with pytest.raises(AssumeError) as err:
        parse_assumptions(texts, priors)
    message = str(err.value)
    assert message.startswith("--assume ") and problem in message
    assert "\n" not in message
    for name in ("caseload_effect", "mortality_on_ost", "caseload_pressure_dropout"):
        assert name in message


@pytest.mark.unit
def test_known_names_are_the_groups_then_the_members_of_groups():
    _, priors = _middlesbrough()
    names = known_names(priors)
    assert names[:len(groups(priors))] == list(groups(priors))
    assert names[len(groups(priors)):] == ["caseload_pressure_dropout",
                                           "caseload_pressure_completion"]
    assumed = parse_assumptions(["caseload_pressure_dropout=high",
                                 "middlesbrough_returning_clients_refer_more = neutral"],
                                priors)
    assert assumed.settings == {"caseload_pressure_dropout": "high",
                                "middlesbrough_returning_clients_refer_more": "neutral"}
    assert assumed.sentences()[1] == ("how much more readily people treated before come "
                                      "back at no effect")


@pytest.mark.unit
@pytest.mark.parametrize("extra", [[], ["--no-checks"], ["--draws", "3", "--drivers"]])
def test_the_command_refuses_a_bad_assumption_before_anything_runs(tmp_path, capsys, extra):
    out = tmp_path / "out"
    code = cli.main(["compare", str(BASE), str(ALT), "--reps", "2", "--out", str(out),
                     "--assume", "caseload_effect=low", "--assume", "caseload=high",
                     "--quiet", *extra])
    err = capsys.readouterr()
    assert code == 2
    assert "--assume caseload=high: no uncertain input or group is called 'caseload'" in err.err
    assert "caseload_effect" in err.err and "Traceback" not in err.err
    assert err.out == "" and not out.exists()


# ------------------------------------------------------------------ applying (unit)

@pytest.mark.unit
def test_an_assumed_low_setting_is_the_judgement_checks_low_setting():
    scenarios, priors = _middlesbrough()
    assumed = parse_assumptions(["caseload_effect=low"], priors)
    moved, changed = apply_assumptions(scenarios, priors, assumed)
    assert changed
    [check] = [s for g, name, s in one_at_a_time(priors, judgements_only=True)
               if (g, name) == ("caseload_effect", "low")]
    assert dict(assumed.setting().values) == dict(check.values)
    raws = [sc.model_dump(mode="python", by_alias=True) for sc in scenarios]
    for sc, raw, got in zip(scenarios, raws, moved, strict=True):
        values = scenario_values(raw, raws[0], priors, check)
        assert values  # both scenarios use the evidence's caseload tables
        assert resolved_yaml(got) == resolved_yaml(with_parameters(sc, values))
        assert got.keyworkers.pressure.dropout_multiplier == LOW
        assert got.keyworkers.pressure.completion_multiplier == LOW
        assert resolved_yaml(got) != resolved_yaml(sc)
    assert assumed.sentences() == [SENTENCE.removeprefix("ASSUMED: ") + ", which is no effect"]


@pytest.mark.unit
def test_assumed_priors_leave_the_checks_the_tornado_and_the_draws():
    _, priors = _middlesbrough()
    left = parse_assumptions(["caseload_effect=high"], priors).fixed(priors)
    assert {p.name for p in priors} - {p.name for p in left} == {
        "caseload_pressure_dropout", "caseload_pressure_completion"}
    for judgements_only in (True, False):
        oat = one_at_a_time(left, judgements_only=judgements_only)
        assert oat and "caseload_effect" not in {g for g, _, _ in oat}
    for setting in draw_settings(left, 3, seed=1):
        assert not {"caseload_pressure_dropout", "caseload_pressure_completion"} \
            & set(setting.values)
    one = parse_assumptions(["caseload_pressure_dropout=low"], priors).fixed(priors)
    assert [p.name for p in groups(one)["caseload_effect"]] == ["caseload_pressure_completion"]


# ------------------------------------------------------------------ a small comparison (model)

def _small_pair(tmp_path):
    """Two small example scenarios (3 and 10 keyworkers) and an evidence file with the
    caseload judgement and one other judgement."""
    paths = []
    for name, staff in (("three", 3), ("ten", 10)):
        data = with_overrides(example_data(), {**SMALL, "keyworkers.staff": staff})
        data["name"] = name
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    raw = yaml.safe_load(paths[0].read_text())
    pressure = raw["keyworkers"]["pressure"]
    evidence = [
        {"name": f"caseload_pressure_{part}", "kind": "judgement", "group": "caseload_effect",
         "label": "the effect of keyworker caseload", "value": pressure[f"{part}_multiplier"],
         "neutral": LOW, "source": "test", "sets": [f"keyworkers.pressure.{part}_multiplier"],
         "prior": {"dist": "triangular", "low": LOW, "high": high, "basis": "judgement",
                   "quote": "test"}}
        for part, high in (("dropout", [1.0, 1.3, 1.7, 2.2]),
                           ("completion", [1.0, 0.8, 0.65, 0.5]))]
    evidence.append({"name": "abandonment", "kind": "judgement", "label": "abandonment",
                     "value": raw["keyworkers"]["waiting_abandonment"]["per_year"],
                     "source": "test", "sets": ["keyworkers.waiting_abandonment.per_year"],
                     "prior": {"dist": "uniform", "low": 2.0, "high": 6.0,
                               "basis": "judgement", "quote": "test"}})
    ev = tmp_path / "evidence.yaml"
    ev.write_text(yaml.safe_dump({"evidence": evidence}, sort_keys=False))
    return paths, ev


@pytest.mark.model
def test_a_comparison_with_an_assumption_records_it_and_checks_the_rest(tmp_path, capsys):
    (base, alt), ev = _small_pair(tmp_path)
    out = tmp_path / "out"
    code = cli.main(["compare", str(base), str(alt), "--reps", "2", "--check-reps", "2",
                     "--evidence", str(ev), "--out", str(out), "--quiet",
                     "--assume", "caseload_effect=low"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.out.splitlines()[0] == ("ASSUMED: the effect of keyworker caseload at the "
                                           "low end of its range, which is no effect")
    meta = json.loads((out / "run.json").read_text())
    assert meta["assumptions"] == {"caseload_effect": "low"}
    checks = pd.read_csv(out / "judgement_checks.csv")
    assert set(checks["judgement"]) == {"abandonment"}
    for name in ("three", "ten"):
        dumped = yaml.safe_load((out / f"scenario-{name}.yaml").read_text())
        assert dumped["keyworkers"]["pressure"]["dropout_multiplier"] == LOW
    plain = tmp_path / "plain"
    code = cli.main(["compare", str(base), str(alt), "--reps", "2", "--no-checks",
                     "--out", str(plain), "--quiet"])
    assert code == 0
    assert json.loads((plain / "run.json").read_text())["assumptions"] == {}
    assert "ASSUMED" not in capsys.readouterr().out


# ------------------------------------------------------------------ the command line (slow)

@pytest.mark.slow
def test_compare_assume_on_middlesbrough_prints_writes_and_reports_it(tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.html"
    res = subprocess.run([sys.executable, "-m", "sim", "compare", str(BASE), str(ALT),
                          "--reps", "2", "--no-checks", "--assume", "caseload_effect=low",
                          "--out", str(out), "--report", str(report), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].startswith(SENTENCE)
    assert json.loads((out / "run.json").read_text())["assumptions"] == {
        "caseload_effect": "low"}
    scenarios, priors = _middlesbrough()
    [check] = [s for g, name, s in one_at_a_time(priors, judgements_only=True)
               if (g, name) == ("caseload_effect", "low")]
    raws = [sc.model_dump(mode="python", by_alias=True) for sc in scenarios]
    for sc, raw in zip(scenarios, raws, strict=True):
        expected = with_parameters(sc, scenario_values(raw, raws[0], priors, check))
        assert (out / f"scenario-{sc.name}.yaml").read_text() == resolved_yaml(expected)
    html = report.read_text(encoding="utf-8")
    answer = html[html.index('<section id="answer"'):html.index('<section id="headline"')]
    assert "Assumed for every scenario" in answer
    assert SENTENCE.removeprefix("ASSUMED: ") in answer
