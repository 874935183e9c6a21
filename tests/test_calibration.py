"""Calibration machinery: targets files, the search and its resume, the fit report,
the outside evidence, and ``fitted:`` in scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.analysis.calibrate import calibrate, check_fit, find_seeds, load_targets, write_fit
from sim.scenario import ScenarioError, load_scenario

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / "tests" / "data" / "calibration" / "toy.yaml"


@pytest.mark.slow
def test_toy_calibration_resumes_exactly_from_its_cache(tmp_path):
    first = calibrate(TOY, out_dir=tmp_path / "a")
    assert first["evaluations"] >= 12 and first["replayed"] == 0
    # a rerun replays every evaluation from the cache and lands on the same answer
    again = calibrate(TOY, out_dir=tmp_path / "a")
    assert again["replayed"] == again["evaluations"] == first["evaluations"]
    assert again["parameters"] == first["parameters"] and again["loss"] == first["loss"]
    # a search stopped part-way (cache cut short, last line torn) resumes to the same end
    cache = next((tmp_path / "a" / ".cache").glob("*.jsonl"))
    lines = cache.read_text().splitlines()
    part = tmp_path / "b" / ".cache" / cache.name
    part.parent.mkdir(parents=True)
    part.write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[-1][:20])
    resumed = calibrate(TOY, out_dir=tmp_path / "b")
    assert 0 < resumed["replayed"] < resumed["evaluations"]
    assert resumed["parameters"] == first["parameters"] and resumed["loss"] == first["loss"]


@pytest.mark.slow
def test_fit_report_has_every_target_and_the_held_out_apart(tmp_path):
    fit = calibrate(TOY, out_dir=tmp_path, max_evaluations=10)
    rows = check_fit(fit["scenario"], fit["targets"], fit["parameters"], reps=3)
    paths = write_fit(fit, rows, tmp_path)
    doc = yaml.safe_load(paths["yaml"].read_text())
    assert set(doc["parameters"]) == {"referral.self.per_year", "triage.triaged_only"}
    assert {"loss", "seed", "date", "evaluations"} <= set(doc)
    md = paths["md"].read_text()
    assert "## Fitted targets" in md and "## Held-out targets" in md
    for t in fit["targets"].targets:
        assert f"| {t.name} |" in md and t.source.quote in md
    assert md.index("| engaged |") > md.index("## Held-out targets")
    assert paths["png"].stat().st_size > 10_000
    for r in rows:
        assert r["ci_low"] <= r["simulated"] <= r["ci_high"]
        assert r["within"] == (abs(r["simulated"] - r["target"]) <= r["tolerance"])


def _bad_targets(tmp_path: Path, replace: tuple[str, str]) -> Path:
    text = TOY.read_text().replace(*replace)
    assert text != TOY.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("scenario: toy_scenario.yaml",
                                f"scenario: {TOY.parent / 'toy_scenario.yaml'}"))
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("replace, line, key, message", [
    (("referral.self.per_year", "referral.slef.per_year"), 9, "free_parameters[0].path",
     "no parameter 'slef'"),
    (("{path: triage.triaged_only, low: 0.0, high: 0.3}",
      "{path: triage.triaged_only, low: 0.0, high: 1.3}"), 10, "free_parameters[1].high",
     "impossible bound 1.3"),
    (("low: 0.05, high: 0.8", "low: 0.9, high: 0.8"), 9, "free_parameters[0]",
     "low must be below high"),
    (("metric: triaged_only_share", "metric: triaged_only_shaer"), 20, "targets[1].metric",
     "did you mean 'triaged_only_share'"),
    (("quote: \"82% (716) were held", "quote: \"83% (716) were held"), 25,
     "targets[1].source.quote", "quote not found in 001_e3727d26ff13b526.txt"),
    (("    held_out: true\n    source: {file: 001_e3727d26ff13b526.txt, quote: \"total",
      "    source: {file: 001_e3727d26ff13b526.txt, quote: \"total"), None, "",
     "hold out at least two figures"),
    (("tolerance: 30", "tolerance: -30"), 15, "targets[0].tolerance",
     "must be greater than 0"),
])
def test_bad_targets_file_names_file_line_and_key(tmp_path, replace, line, key, message):
    assert find_seeds(TOY.parent) is not None, (
        "the source reports (shared/seeds beside the repository, or $TREATSIM_SEEDS) are "
        "needed to check that quotes appear in them")
    bad = _bad_targets(tmp_path, replace)
    with pytest.raises(ScenarioError) as err:
        load_targets(bad)
    text = err.value.message()
    assert message in text, text
    assert "bad.yaml" in text.splitlines()[0]
    if line:
        assert f"bad.yaml:{line}: {key}: " in text, text
    out = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(bad),
                          "--out", str(tmp_path / "out")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()


def test_england_uses_the_outside_evidence():
    evidence = yaml.safe_load((ROOT / "calibration" / "evidence.yaml").read_text())["evidence"]
    raw = load_scenario(ROOT / "scenarios" / "england.yaml").model_dump(by_alias=True)
    checked = 0
    for item in evidence:
        for path in item["sets"]:
            node = raw
            for part in path.split("."):
                node = node[int(part)] if isinstance(node, list) else node[part]
            expected = item.get("set_to", item["value"])
            assert node == pytest.approx(expected), (item["name"], path, node)
            checked += 1
        assert item["source"]
    assert checked >= 10


def test_every_judgement_states_its_range():
    """A judgement carries low and high of the value's shape, with the value between (low
    and high are the weak and strong ends of the effect, so either may be the larger)."""
    evidence = yaml.safe_load((ROOT / "calibration" / "evidence.yaml").read_text())["evidence"]
    judgements = [item for item in evidence if item.get("kind") == "judgement"]
    assert len(judgements) >= 6
    for item in judgements:
        value, low, high = (item[k] for k in ("value", "low", "high"))
        values, lows, highs = ([v] if not isinstance(v, list) else v for v in (value, low, high))
        assert len(values) == len(lows) == len(highs), item["name"]
        assert all(min(lo, hi) <= v <= max(lo, hi)
                   for v, lo, hi in zip(values, lows, highs, strict=True)), item["name"]
        assert "judgement" in item["source"].lower(), item["name"]
    names = [item["name"] for item in evidence]
    assert len(names) == len(set(names))


def test_every_parameter_has_a_prior():
    """Every entry carries the prior the uncertainty analysis draws from: a known dist and
    basis, a quote, and (unless fixed) low and high of the set value's shape in the set
    parameter's units, around the set value where the dist puts it there."""
    evidence = yaml.safe_load((ROOT / "calibration" / "evidence.yaml").read_text())["evidence"]
    dists = {"lognormal", "beta", "triangular", "uniform", "fixed"}
    for item in evidence:
        name = item["name"]
        prior = item.get("prior")
        assert isinstance(prior, dict), name
        assert set(prior) <= {"dist", "low", "high", "basis", "quote"}, (name, set(prior))
        assert prior["dist"] in dists, name
        assert prior["basis"] in {"ci95", "judgement", "fixed"}, name
        assert isinstance(prior.get("quote"), str) and prior["quote"].strip(), name
        if item.get("kind") == "judgement":
            assert prior["basis"] == "judgement", name
        if prior["dist"] == "fixed":
            assert "low" not in prior and "high" not in prior, name
            continue
        assert prior["basis"] != "fixed", name
        value = item.get("set_to", item["value"])
        low, high = prior["low"], prior["high"]
        values, lows, highs = ([v] if not isinstance(v, list) else v for v in (value, low, high))
        assert isinstance(low, list) == isinstance(high, list) == isinstance(value, list), name
        assert len(values) == len(lows) == len(highs), name
        for v, lo, hi in zip(values, lows, highs, strict=True):
            if prior["dist"] == "triangular":
                assert min(lo, hi) <= v <= max(lo, hi), (name, lo, v, hi)
            else:
                assert lo < hi, (name, lo, hi)
            if prior["dist"] in {"lognormal", "beta"}:
                assert lo < v < hi, (name, lo, v, hi)
            if prior["dist"] == "lognormal":
                assert lo > 0 and hi > 0, name
            if prior["dist"] == "beta":
                assert 0 < lo < 1 and 0 < hi < 1, name


def test_fitted_key_applies_parameters_last(tmp_path):
    (tmp_path / "fit.yaml").write_text(
        "parameters:\n  referral.self.per_year: 0.33\n"
        "  modalities.ost.review.probabilities.planned_exit: 0.04\n")
    (tmp_path / "s.yaml").write_text(
        f"extends: {ROOT / 'scenarios' / 'england.yaml'}\nfitted: fit.yaml\n"
        "referral: {self: {per_year: 0.9}}\n")
    sc = load_scenario(tmp_path / "s.yaml")
    assert sc.referral.self_.per_year == 0.33
    probs = sc.modalities.ost.review.probabilities
    assert probs["planned_exit"] == 0.04 and sum(probs.values()) == pytest.approx(1)
    (tmp_path / "fit.yaml").write_text("parameters:\n  referral.selff.per_year: 0.33\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "s.yaml")
    assert "fit.yaml:2: parameters.referral.selff.per_year: no parameter 'selff'" in str(err.value)


@pytest.mark.slow
def test_calibrate_command_writes_the_fit(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(TOY), "--out",
                          str(tmp_path), "--check-reps", "3", "--max-evaluations", "10"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "fitted targets within tolerance" in out.stdout
    assert "evaluations, best loss" in out.stderr
    assert (tmp_path / "toy.yaml").exists() and (tmp_path / "toy_fit.md").exists()
    assert json.loads(json.dumps(yaml.safe_load((tmp_path / "toy.yaml").read_text())))["reps"] == 3


def test_the_cache_is_named_by_everything_an_evaluation_depends_on(tmp_path, monkeypatch):
    """A cache made by other code, other targets or another scenario is never replayed."""
    import sim.analysis.calibrate as calibrate_module
    from sim.analysis.calibrate import cache_name
    from sim.scenario import with_parameters

    targets, scenario, _ = load_targets(TOY)
    name = cache_name(targets, scenario, 3)
    assert name == cache_name(targets, scenario, 3)
    assert name.startswith(f"{targets.area}-s{targets.seed}-r3-") and name.endswith(".jsonl")
    assert cache_name(targets, scenario, 4) != name
    other = with_parameters(scenario, {"triage.triaged_only": 0.123})
    assert cache_name(targets, other, 3) != name
    assert cache_name(targets.model_copy(update={"seed": 99}), scenario, 3) != name
    code = tmp_path / "sim"
    code.mkdir()
    (code / "model.py").write_text("RATE = 1\n")
    monkeypatch.setattr(calibrate_module, "SIM", code)
    before = cache_name(targets, scenario, 3)
    (code / "model.py").write_text("RATE = 2\n")
    assert cache_name(targets, scenario, 3) != before
