"""External validation (``treatsim validate-model``): each measure on hand-built records
whose answer is known exactly, censoring of cohort windows, the ``within`` rule, file
errors with file:line: key, and a small run of the command."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, small, small_scenario_file

from sim.analysis.validation import (
    Figure,
    ValidationFile,
    ValidationRun,
    load_validation,
    summary_rows,
    within,
)
from sim.analysis.validation_cohorts import Replication
from sim.analysis.validation_measures import MEASURES, ModelSpec, measure_value
from sim.cli import main
from sim.metrics import key_values, replication_tables
from sim.model import (
    Death,
    Episode,
    LedgerEntry,
    Records,
    Relapse,
    Segment,
    simulate,
    table_of,
)
from sim.scenario import ScenarioError

pytestmark = pytest.mark.model

Y0, Y1 = 365.0, 730.0  # the reporting year of the records below (1 warm-up year)


def ep(pid: int, n: int, referral: float, exit_day: float | None, reason: str | None,
       path: tuple[str, ...] = ("ost",), inpatient: bool = False,
       substance: str = "opiate", start: float | None = None) -> Episode:
    """An episode that started treatment on its referral day (or ``start``)."""
    return Episode(pid=pid, episode=n, initial=False, source="self", referral_day=referral,
                   substance=substance, sex="male", age_band="30-49", injecting=False,
                   mental_health=False, housing_need=False, previously_treated=n > 0,
                   start_day=referral if start is None else start, exit_day=exit_day,
                   exit_reason=reason, path=list(path), inpatient_detox=inpatient)


def rec(episodes: list[Episode], deaths: tuple[Death, ...] | list[Death] = (),
        relapses: tuple[Relapse, ...] | list[Relapse] = (),
        segments: tuple[Segment, ...] | list[Segment] = (), end_day: float = 1130.0
        ) -> Replication:
    """One replication's records: a warm-up year, one reporting year, run to ``end_day``."""
    return Replication(Records(
        horizon_days=Y1, end_day=end_day, warmup_years=1, years=1, initial_people=0,
        incidence=0, episodes=list(episodes), segments=table_of(Segment, segments),
        deaths=list(deaths), ledger=table_of(LedgerEntry, []), snapshots=[], during_year={},
        relapses=list(relapses)))


def death(pid: int, day: float, state: str = "community", substance: str = "opiate") -> Death:
    return Death(day=day, pid=pid, state=state, modality=None, days_since_exit=None,
                 substance=substance)


def value(replication: Replication, **spec: object) -> float:
    return measure_value(replication, ModelSpec(**spec))


# ------------------------------------------------------------------ cohort measures

def three_exits() -> list[Episode]:
    """Three planned exits in the reporting year (pids 1-3); pid 1 comes back on day 450;
    pid 4 exits before it (left out), pid 5 drops out in it."""
    return [ep(1, 0, 300, 400, "completed"), ep(1, 1, 450, None, None),
            ep(2, 0, 300, 500, "completed", ("ost", "detox"), inpatient=True),
            ep(3, 0, 300, 600, "completed"), ep(3, 1, 900, None, None),
            ep(4, 0, 100, 300, "completed"), ep(5, 0, 300, 420, "dropped_out")]


def test_represented_within_counts_the_next_referral_within_the_window():
    r = rec(three_exits())
    assert value(r, measure="represented_within", days=182) == pytest.approx(1 / 3)
    assert value(r, measure="represented_within", days=300) == pytest.approx(2 / 3)
    assert value(r, measure="not_represented_within", days=182) == pytest.approx(2 / 3)
    assert value(r, measure="represented_within", days=182,
                 after=["completed", "dropped_out"]) == pytest.approx(1 / 4)
    assert value(r, measure="represented_within", days=182, route="detox",
                 inpatient=True) == 0.0
    assert math.isnan(value(r, measure="represented_within", days=182, route="rehab"))


def test_a_window_that_runs_past_the_end_of_the_run_is_not_counted():
    r = rec(three_exits(), end_day=1130.0)
    # planned exits on days 400, 500 and 600; the run ends on day 1130
    assert value(r, measure="represented_within", days=600) == pytest.approx(1 / 2)
    assert value(r, measure="represented_within", days=700) == 1.0  # only day 400 fits
    assert math.isnan(value(r, measure="represented_within", days=800))  # none fits
    longer = rec(three_exits(), end_day=2000.0)
    assert value(longer, measure="represented_within", days=600) == pytest.approx(2 / 3)
    assert MEASURES["represented_within"].follows
    assert ModelSpec(measure="represented_within", days=600).window_days == 600
    assert ModelSpec(measure="in_treatment_longer_than", days=600).window_days == 0


def test_relapsed_within_follows_the_relapse_of_that_exit():
    relapses = [Relapse(day=410, pid=1, days_since_exit=10, route="ost", inpatient=False,
                        returned=True),
                Relapse(day=503, pid=2, days_since_exit=3, route="detox", inpatient=True,
                        returned=False),
                Relapse(day=310, pid=4, days_since_exit=10, route="ost", inpatient=False,
                        returned=False)]
    r = rec(three_exits(), relapses=relapses)
    assert value(r, measure="relapsed_within", days=7) == pytest.approx(1 / 3)
    assert value(r, measure="relapsed_within", days=30) == pytest.approx(2 / 3)
    assert value(r, measure="relapsed_within", days=7, route="detox", inpatient=True) == 1.0
    assert value(r, measure="relapsed_within", days=30, route="ost") == pytest.approx(1 / 2)


def test_deaths_after_exit_as_a_share_a_rate_and_a_rate_ratio():
    deaths = [death(2, 510), death(3, 800)]  # 10 days after exit; 200 days after exit
    r = rec(three_exits(), deaths=deaths)
    assert value(r, measure="died_within_after_exit", days=28) == pytest.approx(1 / 3)
    assert value(r, measure="died_within_after_exit", days=365) == pytest.approx(2 / 3)
    assert value(r, measure="died_within_after_exit", days=28, scale=137) == \
        pytest.approx(137 / 3)
    # 28 days: 1 death in 28 + 10 + 28 = 66 person-days
    assert value(r, measure="death_rate_after_exit", days=28) == \
        pytest.approx(100 / (66 / 365))
    # later, days 28-365: pid 1 337 days, pid 3 172 days until death, pid 2 dead: 1 death
    early, late = 1 / 66, 1 / (337 + 172)
    assert value(r, measure="death_rate_ratio_after_exit", days=28, until=365) == \
        pytest.approx(early / late)


def test_abstinent_at_needs_a_completed_latest_episode_and_no_relapse_since():
    episodes = three_exits() + [ep(6, 0, 300, 450, "completed"), ep(6, 1, 460, 500,
                                                                      "completed")]
    relapses = [Relapse(day=455, pid=6, days_since_exit=5, route="ost", inpatient=False,
                        returned=True),
                Relapse(day=650, pid=2, days_since_exit=150, route="detox", inpatient=True,
                        returned=False)]
    r = rec(episodes, deaths=[death(3, 610)], relapses=relapses)
    # 100 days on: pid 1 back in treatment, pid 2 abstinent (relapses later), pid 3 dead
    # (left out); pid 6 exits on 450 and 500: relapsed in between, abstinent 100 days on
    assert value(r, measure="abstinent_at", days=100) == pytest.approx(3 / 4)
    # 200 days on: pid 2 has relapsed (day 650)
    assert value(r, measure="abstinent_at", days=200) == pytest.approx(2 / 4)


# ------------------------------------------------------------------ yearly measures

def test_deaths_in_treatment_share_per_person_in_treatment_in_the_year():
    episodes = [ep(1, 0, 100, None, None), ep(2, 0, 400, 500, "died"),
                ep(3, 0, 300, 380, "completed", substance="crack"),
                ep(4, 0, 800, None, None)]  # starts after the year
    deaths = [death(2, 500, "in_treatment"), death(5, 600, "community"),
              death(1, 900, "in_treatment")]
    r = rec(episodes, deaths=deaths)
    assert value(r, measure="deaths_in_treatment_share") == pytest.approx(1 / 3)
    assert value(r, measure="deaths_in_treatment_per_100") == pytest.approx(100 / 3)
    assert value(r, measure="deaths_in_treatment_share", group="opiate") == pytest.approx(1 / 2)
    assert value(r, measure="deaths_in_treatment_share", group="non_opiate") == 0.0


def test_exit_mix_rehab_share_step_outcome_and_long_stays():
    episodes = [ep(1, 0, 400, 450, "completed"), ep(2, 0, 400, 500, "dropped_out"),
                ep(3, 0, 400, 600, "died"), ep(4, 0, 400, 650, "transferred"),
                ep(5, 0, 400, 700, "completed", ("ost", "rehab")),
                ep(9, 0, 400, 480, "withdrawn"), ep(10, 0, 400, 490, "declined"),
                ep(6, 0, -2000, None, None), ep(7, 0, 100, None, None),
                ep(8, 0, 450, None, None, ("rehab", "ost"))]
    segments = [Segment(5, 0, "ost", 400, 620, "rehab"),
                Segment(5, 0, "rehab", 620, 700, "completed"),
                Segment(8, 0, "rehab", 450, 560, "ost"),
                Segment(8, 0, "ost", 560, 1130, "ongoing"),
                Segment(6, 0, "ost", -2000, 1130, "ongoing"),
                Segment(7, 0, "psychosocial", 100, 1130, "ongoing")]
    r = rec(episodes, segments=segments)
    assert value(r, measure="exit_mix", reason="completed") == pytest.approx(2 / 7)
    assert value(r, measure="exit_mix", reason="died") == pytest.approx(1 / 7)
    assert value(r, measure="exit_mix", reason="unplanned") == pytest.approx(3 / 7)
    assert value(r, measure="rehab_share") == pytest.approx(2 / 10)
    assert value(r, measure="step_outcome", modality="rehab", reason="completed") == 0.5
    # open at day 730: pid 6 (2,730 days), 7 (630), 8 (280); on OST then: 6 and 8
    assert value(r, measure="in_treatment_longer_than", days=1826) == pytest.approx(1 / 3)
    assert value(r, measure="in_treatment_longer_than", days=1826, modality="ost") == 0.5


def test_the_metric_measure_is_the_yearly_metric_of_the_run():
    scenario = small()
    records = simulate(scenario, 3, 0)
    yearly = replication_tables(records, scenario.name, 0, 3)["yearly"]
    expected = key_values(yearly, ["planned_exit_share"])["planned_exit_share"]
    assert value(Replication(records), measure="metric", name="planned_exit_share") == \
        pytest.approx(expected)
    assert math.isnan(value(Replication(records), measure="not_modelled", reason="why not"))


# ------------------------------------------------------------------ rules and files

@pytest.mark.parametrize(("spec", "words"), [
    ({"measure": "represented_withn", "days": 1}, "did you mean 'represented_within'"),
    ({"measure": "represented_within"}, "days: measure represented_within needs days"),
    ({"measure": "rehab_share", "days": 3}, "days: measure rehab_share takes no days"),
    ({"measure": "exit_mix", "reason": "left"}, "'left' is not an exit reason"),
    ({"measure": "step_outcome", "modality": "ost", "reason": "unplanned"},
     "'unplanned' is not an exit reason"),
    ({"measure": "represented_within", "days": 9, "after": ["unplanned"]},
     "'unplanned' is not an exit reason"),
    ({"measure": "relapsed_within", "days": 7, "route": "spa"}, "'spa' is not a modality"),
    ({"measure": "metric", "name": "phof"}, "unknown metric 'phof'"),
])
def test_a_spec_that_does_not_fit_its_measure_is_refused(spec, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        ModelSpec(**spec)


def figure(**extra: object) -> Figure:
    base = {"name": "f", "figure": "a share", "value": 0.4, "unit": "share", "source": "s",
            "model": {"measure": "rehab_share"}}
    return Figure(**{**base, **extra})


def test_within_by_each_compare_rule():
    assert within(figure(), 0.35, 0.45) == "yes"
    assert within(figure(), 0.45, 0.55) == "no"
    assert within(figure(interval=[0.42, 0.5]), 0.45, 0.55) == "yes"
    assert within(figure(compare="upper_bound"), 0.2, 0.3) == "yes"
    assert within(figure(compare="upper_bound"), 0.5, 0.6) == "no"
    assert within(figure(compare="lower_bound"), 0.5, 0.6) == "yes"
    assert within(figure(compare="order_of_magnitude"), 1.3, 2.0) == "no"  # 0.4 x 3.16 = 1.26
    assert within(figure(compare="order_of_magnitude"), 0.9, 1.0) == "yes"
    assert within(figure(), math.nan, math.nan) == "n/a"


def test_summary_rows_pool_the_areas_per_replication():
    vf = ValidationFile(figures=[figure(), figure(name="g", model={
        "measure": "not_modelled", "reason": "not a model state"})])
    run = ValidationRun(["a", "b"], 3, 0.0, {"a": 1, "b": 2})
    run.values = {"f": np.array([[0.1, 0.2, 0.3], [0.5, np.nan, 0.7]])}
    rows = summary_rows(vf, run, {"a": {}, "b": {}})
    pooled = next(r for r in rows if r["area"] == "all areas")
    assert pooled["model_mean"] == pytest.approx((0.3 + 0.2 + 0.5) / 3)
    assert pooled["n"] == 3
    assert next(r for r in rows if r["area"] == "b")["n"] == 2
    assert rows[-1]["within"] == "not modelled" and rows[-1]["note"] == "not a model state"


def test_the_england_validation_file_loads_and_maps_every_figure():
    vf = load_validation(ROOT / "calibration" / "validation" / "england.yaml")
    assert all(f.model is not None for f in vf.figures)
    assert vf.follow_up_days() > 0


BAD = """figures:
- name: ok
  figure: a figure
  value: 0.4
  unit: share
  source: somewhere
  model: {measure: represented_within, dayz: 182}
"""


def test_a_bad_validation_file_names_file_line_and_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(ScenarioError) as err:
        load_validation(path)
    assert "bad.yaml:7: figures[0].model.dayz" in err.value.message()
    out = tmp_path / "out"
    assert main(["validate-model", "--validation", str(path), "--areas", "x.yaml",
                 "--out", str(out), "--quiet"]) == 2
    assert "bad.yaml:7: figures[0].model.dayz" in capsys.readouterr().err
    assert not out.exists()


SMALL_FILE = """figures:
- name: back_within_6_months
  figure: Planned exits followed by a referral within 182 days
  value: 0.2
  unit: share
  source: made up for the test
  model: {measure: represented_within, days: 182}
- name: planned_exits
  figure: Share of exits that are planned
  value: 0.45
  interval: [0.4, 0.5]
  unit: share of exits
  source: made up for the test
  model: {measure: metric, name: planned_exit_share}
- name: beyond_the_model
  figure: Something the model cannot produce
  value: 3
  unit: count
  source: made up for the test
  model: {measure: not_modelled, reason: "not a model state"}
"""


@pytest.mark.slow
@pytest.mark.slow
def test_the_command_writes_the_table_and_exits_0_whatever_the_verdicts(tmp_path, capsys):
    scenario = small_scenario_file(tmp_path)
    vfile = tmp_path / "validation.yaml"
    vfile.write_text(SMALL_FILE)
    args = ["validate-model", "--validation", str(vfile), "--areas", str(scenario),
            "--reps", "2", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    printed = capsys.readouterr().out
    assert "back_within_6_months" in printed and "not modelled: beyond_the_model" in printed
    rows = list(csv.DictReader((tmp_path / "one" / "validation.csv").open()))
    assert [r["figure"] for r in rows] == ["back_within_6_months", "planned_exits",
                                           "beyond_the_model"]
    assert rows[0]["area"] == "example" and rows[0]["n"] == "2"
    assert {r["within"] for r in rows[:2]} <= {"yes", "no"}
    assert "| planned_exits | example |" in (tmp_path / "one" / "validation.md").read_text()
    # seeded: the same table again, and its own folder may be replaced
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two")]) == 0
    assert (tmp_path / "one" / "validation.csv").read_bytes() == \
        (tmp_path / "two" / "validation.csv").read_bytes()
    # a folder of the user's is never replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main([*args, "--out", str(mine)]) == 2
    assert (mine / "notes.txt").read_text() == "mine"


def test_the_default_output_is_results_validation():
    from sim.cli.validate_model import DEFAULT_OUT
    assert DEFAULT_OUT == Path("results") / "validation"


def test_the_death_rate_counts_drug_related_deaths_only_when_asked_and_known():
    people = [ep(1, 0, 300, None, None), ep(2, 0, 300, None, None)]
    known = [death(1, 500)._replace(drug_related=True), death(2, 600)._replace(drug_related=False)]
    all_cause = value(rec(people, deaths=known), measure="death_rate_per_100py")
    drug = value(rec(people, deaths=known), measure="death_rate_per_100py", drug_related=True)
    assert drug == pytest.approx(all_cause / 2)
    unknown = [death(1, 500), death(2, 600)]
    assert math.isnan(value(rec(people, deaths=unknown), measure="death_rate_per_100py",
                            drug_related=True))
