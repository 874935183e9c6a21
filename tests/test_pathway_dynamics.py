"""Pathway dynamics: relapse by how treatment ended, no recovery cliff, a route to
sustained recovery, deaths in custody and after release, tolerance windows by substance.

Each new piece is off by default (the example's golden tables do not move); these tests
switch each on at values strong enough that its effect is certain, and check the records.
"""

from __future__ import annotations

import math

import pytest
from helpers import small

from sim.model import simulate
from sim.scenario import ScenarioError

pytestmark = pytest.mark.model

NEVER = {"dist": "fixed", "days": 100_000}


def test_relapse_follows_the_exit_route():
    sc = small({
        "run.years": 3,
        "relapse.time_to_relapse": NEVER,
        "relapse.by_route": {
            "detox_inpatient": {"time_to_relapse": {"dist": "fixed", "days": 1}},
            "psychosocial": {"time_to_relapse": {"dist": "fixed", "days": 30}},
        },
        "modalities.detox.inpatient_beds": 3,
        "modalities.detox.inpatient_share": 1.0,
    })
    rec = simulate(sc, 3, 0)
    routes = {(r.route, r.inpatient) for r in rec.relapses}
    assert routes <= {("detox", True), ("psychosocial", False)}
    assert ("psychosocial", False) in routes
    for r in rec.relapses:
        expected = 1.0 if r.route == "detox" else 30.0
        assert r.days_since_exit == pytest.approx(expected)


def test_without_the_cliff_relapse_continues_after_two_years():
    base = {"run.years": 6, "run.warmup_years": 0,
            "relapse.time_to_relapse": {"dist": "weibull", "shape": 0.6, "scale_days": 1100}}
    cliff = simulate(small(base), 4, 0)
    none = simulate(small({**base, "relapse.sustained_recovery_days": None}), 4, 0)
    assert max(r.days_since_exit for r in cliff.relapses) <= 730 + 1e-6
    late = [r for r in none.relapses if r.days_since_exit > 730]
    assert len(late) >= 5


def test_the_recovery_hazard_takes_people_out_of_relapse():
    base = {"run.years": 3, "relapse.sustained_recovery_days": None}
    slow = simulate(small(base), 5, 0)
    fast = simulate(small({**base, "relapse.recovery.per_year": 50.0}), 5, 0)
    # with a mean of about a week to sustained recovery, few relapse
    assert len(fast.relapses) < len(slow.relapses) / 3
    assert fast.final_states["recovered"] > slow.final_states["recovered"]


def test_deaths_in_custody():
    base = {"run.years": 3, "population.community.custody.per_year": 1.0}
    none = simulate(small(base), 6, 0)
    many = simulate(small({**base, "mortality.custody.per_100_person_years": 300.0}), 6, 0)
    assert not [d for d in none.deaths if d.state == "custody"]
    assert len([d for d in many.deaths if d.state == "custody"]) >= 10


def test_windows_after_release_and_exit_apply_to_the_substance_groups_named():
    quiet = {"mortality.community.per_100_person_years": 0.0,
             "mortality.in_treatment": {}, "mortality.ost_induction.per_100_person_years": 0.0,
             "mortality.after_treatment.per_100_person_years": 0.0,
             "population.community.custody.per_year": 1.0, "run.years": 3}
    released = simulate(small({
        **quiet, "mortality.after_exit": [],
        "mortality.after_release": [{"until_day": 28, "per_100_person_years": 500.0}],
        "mortality.after_exit_substances": ["opiate"]}), 7, 0)
    assert len(released.deaths) >= 5
    assert {d.substance for d in released.deaths} == {"opiate"}
    exits = simulate(small({
        **quiet, "mortality.after_exit": [{"until_day": 28, "per_100_person_years": 500.0}],
        "mortality.after_exit_substances": ["non_opiate"]}), 7, 0)
    assert len(exits.deaths) >= 5
    assert {d.substance for d in exits.deaths} == {"non_opiate"}
    assert all(d.days_since_exit is not None and d.days_since_exit < 28 for d in exits.deaths)


def test_a_route_that_could_loop_without_time_passing_is_refused():
    data = {"relapse.by_route": {"rehab": {"time_to_relapse": {"dist": "fixed", "days": 0},
                                           "return_to_treatment": 0.5}}}
    with pytest.raises(ScenarioError, match="by_route.rehab.time_to_relapse"):
        small(data)


def test_the_review_hazard_gives_the_review_share_over_one_interval():
    from sim.model.stay import review_hazard
    from sim.vocab import REVIEW_DAYS

    for share in (0.02, 0.26, 0.9):
        assert 1 - math.exp(-review_hazard(share) * REVIEW_DAYS) == pytest.approx(share)
    assert review_hazard(0.0) == 0.0
    assert review_hazard(1.0) == math.inf


def _completed_stays(rec, modality: str) -> list[float]:
    """Lengths (days) of completed stays in ``modality`` that started after day 0."""
    return [s.end_day - s.start_day for s in rec.segments
            if s.modality == modality and s.end_reason == "completed" and s.start_day > 0]


def test_planned_exits_in_continuous_time_leave_between_reviews():
    at_review = simulate(small({"run.years": 3}), 8, 0)
    continuous = simulate(small({
        "run.years": 3,
        "modalities.ost.review.planned_exit_timing": "continuous",
        "modalities.psychosocial.review.planned_exit_timing": "continuous"}), 8, 0)
    for modality in ("ost", "psychosocial"):
        stays = _completed_stays(at_review, modality)
        assert stays and all(math.isclose(d % 84, 0, abs_tol=1e-6)
                             or math.isclose(d % 84, 84, abs_tol=1e-6) for d in stays)
        free = _completed_stays(continuous, modality)
        off_review = [d for d in free if not math.isclose(d % 84, 0, abs_tol=1e-6)]
        assert len(off_review) >= 0.9 * len(free) > 0
    assert any(d < 84 for d in _completed_stays(continuous, "psychosocial"))


@pytest.mark.slow
def test_continuous_planned_exits_keep_the_share_per_interval():
    """Psychosocial stays with nothing but planned exits (share 0.26 a review): the share
    completed within the first 84 days is 0.26 in both timings, inside a 95% interval."""
    quiet = {"run.years": 4, "run.warmup_years": 0,
             "modalities.psychosocial.dropout": NEVER, "exits.transfer.per_year": 0.0,
             "mortality.in_treatment": {}, "entry.crack": {"psychosocial": 1.0},
             "entry.non_opiate": {"psychosocial": 1.0}}
    for timing in ("at_review", "continuous"):
        sc = small({**quiet, "modalities.psychosocial.review.planned_exit_timing": timing})
        stays = [s for seed in range(3) for s in simulate(sc, 10 + seed, 0).segments
                 if s.modality == "psychosocial" and s.start_day > 0
                 and s.start_day + 84 < sc.run.horizon_days]
        within = [s.end_reason == "completed" and s.end_day - s.start_day <= 84 + 1e-9
                  for s in stays]
        n, share = len(within), sum(within) / len(within)
        half = 1.96 * math.sqrt(0.26 * 0.74 / n)
        assert n > 300 and abs(share - 0.26) < half, (timing, n, share)


def test_drug_related_deaths_are_drawn_by_place_without_moving_any_other_draw():
    base = {"run.years": 3, "population.community.custody.per_year": 1.0,
            "mortality.custody.per_100_person_years": 50.0}
    unknown = simulate(small(base), 9, 0)
    assert unknown.deaths and all(d.drug_related is None for d in unknown.deaths)
    places = {"community": 1.0, "in_treatment": 0.0, "custody": 1.0, "after_exit": 1.0,
              "after_treatment": 0.0, "waiting": 1.0, "after_release": 1.0}
    shared = simulate(small({**base, "mortality.drug_related_share": places}), 9, 0)
    # the causes come from a stream of their own: every death is where and when it was
    assert [(d.day, d.pid, d.place) for d in shared.deaths] == \
        [(d.day, d.pid, d.place) for d in unknown.deaths]
    assert {d.place for d in shared.deaths} >= {"community", "in_treatment", "custody"}
    assert all(d.drug_related == bool(places[d.place]) for d in shared.deaths)
    assert all(d.place == "in_treatment" for d in shared.deaths if d.state == "in_treatment")


def test_death_and_custody_compete_with_the_waits_when_switched_on():
    base = {"run.years": 3, "triage.capacity_per_week": 1,
            "population.community.custody.per_year": 2.0,
            "mortality.community.per_100_person_years": 20.0}
    off = simulate(small(base), 11, 0)
    on = simulate(small({**base, "triage.waiting_risks": True}), 11, 0)
    assert not [e for e in off.episodes if e.exit_reason == "custody_waiting"]
    assert not [e for e in off.episodes
                if e.exit_reason == "died_waiting" and e.triage_day is None]
    custody = [e for e in on.episodes if e.exit_reason == "custody_waiting"]
    assert len(custody) >= 5 and any(e.triage_day is None for e in custody)
    died = [e for e in on.episodes if e.exit_reason == "died_waiting" and e.triage_day is None]
    assert died
    assert {d.place for d in on.deaths if d.state == "triage_wait"} == {"waiting"}


def test_unplanned_exits_are_recorded_as_england_records_them_without_moving_a_draw():
    from sim.metrics import replication_tables

    plain = simulate(small({"run.years": 3}), 12, 0)
    split = simulate(small({"run.years": 3, "exits.unplanned": {
        "dropped_out": 0.5, "withdrawn": 0.3, "declined": 0.2}}), 12, 0)
    unplanned = ("dropped_out", "withdrawn", "declined")
    a = [(e.pid, e.exit_day, e.exit_reason in unplanned) for e in plain.episodes]
    b = [(e.pid, e.exit_day, e.exit_reason in unplanned) for e in split.episodes]
    assert a == b  # the same exits on the same days; only their names differ
    kinds = [e.exit_reason for e in split.episodes if e.exit_reason in unplanned]
    assert set(kinds) == set(unplanned) and len(kinds) >= 100
    assert abs(kinds.count("withdrawn") / len(kinds) - 0.3) < 1.96 * (0.3 * 0.7 / len(kinds)) ** 0.5
    yearly = [replication_tables(r, "s", 0, 12)["yearly"] for r in (plain, split)]
    for metric in ("exits", "planned_exit_share", "early_unplanned_exit_share"):
        values = [y.loc[y["metric"] == metric, "value"].tolist() for y in yearly]
        assert values[0] == values[1], metric


def test_transfers_within_the_area_keep_people_in_treatment_with_a_new_episode():
    from sim.metrics import replication_tables

    base = {"run.years": 3, "exits.transfer.per_year": 1.0}
    rec = simulate(small({**base, "exits.transfer_within_share": 1.0}), 13, 0)
    moved = [e for e in rec.episodes if e.transfer_in]
    assert len(moved) >= 20
    by_pid = {}
    for e in rec.episodes:
        by_pid.setdefault(e.pid, []).append(e)
    for e in moved:
        before = by_pid[e.pid][e.episode - 1]
        assert before.exit_reason == "transferred" and before.exit_day == e.start_day
        assert e.triage_day is None and e.path[0] == before.path[-1]
    # nobody left the area or went into custody by transfer
    assert not [d for d in rec.deaths if d.state == "custody"]
    yearly = replication_tables(rec, "s", 0, 13)["yearly"]
    starts = yearly.loc[yearly["metric"] == "treatment_starts", "value"].sum()
    y0, y1 = 365.0 * rec.warmup_years, 365.0 * (rec.warmup_years + rec.years)
    first_starts = sum(1 for e in rec.episodes if not e.initial and not e.transfer_in
                       and e.start_day is not None and y0 <= e.start_day < y1)
    assert starts == first_starts


def _after_exit_death_routes(rec) -> list[str]:
    """The exit route behind each death in an after-exit window: the person's exit on the
    day ``days_since_exit`` before the death (to rounding: the death's day less its days
    since exit need not give the exit's day to the last bit)."""
    exits: dict[int, list[tuple[float, str]]] = {}
    for e in rec.episodes:
        if e.exit_day is not None:
            exits.setdefault(e.pid, []).append((e.exit_day, e.route))
    routes = []
    for d in rec.deaths:
        if d.place == "after_exit":
            day = d.day - d.days_since_exit
            exit_day, route = min(exits[d.pid], key=lambda x: abs(x[0] - day))
            assert exit_day == pytest.approx(day, abs=1e-6)
            routes.append(route)
    return routes


def test_the_after_exit_windows_scale_by_how_treatment_ended():
    quiet = {"mortality.community.per_100_person_years": 0.0,
             "mortality.in_treatment": {}, "mortality.ost_induction.per_100_person_years": 0.0,
             "mortality.after_treatment.per_100_person_years": 0.0, "run.years": 3,
             "mortality.after_exit": [{"until_day": 28, "per_100_person_years": 300.0}]}
    plain = _after_exit_death_routes(simulate(small(quiet), 13, 0))
    assert plain.count("ost") >= 5
    scaled = _after_exit_death_routes(simulate(small(
        {**quiet, "mortality.after_exit_multipliers": {"ost": 1e-9}}), 13, 0))
    assert len(scaled) >= 5 and "ost" not in scaled  # no deaths in the window after OST
