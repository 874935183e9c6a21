"""Behaviour of the model: conservation, reproducibility, common random numbers,
coverage of the pathway, and timed policies."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import ROOT, pathway_structure, scenario, small

import sim
from sim.metrics import replication_tables
from sim.model import Model, simulate
from sim.model.people import STATE_NAMES
from sim.streams import Streams

pytestmark = pytest.mark.model


@pytest.mark.parametrize("structure", [False, True], ids=["example", "pathway_structure"])
def test_people_are_conserved_at_every_year_end(example, structure):
    """community + waiting + in treatment + after treatment (+ custody, recovered)
    + dead + moved away = initial + incidence, and every counter matches the people; also
    with England's pathway structure on (custody from the waits, transfers within the
    area, relapse straight back to treatment)."""
    if structure:
        example = scenario(pathway_structure())
    model = Model(example, Streams(3, 0))
    model.start()
    initial = example.population.initial.community + example.population.initial.in_treatment
    for year in range(1, example.run.warmup_years + example.run.years + 1):
        model.world.env.run(until=365.0 * year + 1e-6)
        assert model.audit() == []
        counts = dict(zip(STATE_NAMES, model.world.monitor.counts, strict=True))
        assert all(v >= 0 for v in counts.values())
        assert sum(counts.values()) == initial + model.world.monitor.incidence
    snaps = model.finish().snapshots
    for snap in snaps:
        assert sum(snap[s] for s in STATE_NAMES) == initial + snap["incidence_cum"]


@pytest.mark.slow
def test_same_seed_same_tables_serial_and_process_pool():
    sc = small()
    serial = sim.run(sc, reps=3, seed=11, workers=1)
    pooled = sim.run(sc, reps=3, seed=11, workers=2)
    for name in ("people", "yearly", "timeseries", "summary"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(pooled, name))
    other = sim.run(sc, reps=1, seed=12)
    assert not other.people["referral_day"].equals(serial.people.query("rep == 0")
                                                   ["referral_day"])


def test_common_random_numbers_staff_change_keeps_referrals_and_attributes():
    """Two scenarios differing only in keyworker staff: every person's first referral
    happens at the same time with the same attributes in replication i of both."""
    base = small({"keyworkers.mode": "queue", "keyworkers.staff": 5})
    alt = small({"keyworkers.mode": "queue", "keyworkers.staff": 4})
    cols = ["pid", "referral_day", "source", "substance", "sex", "age_band", "injecting",
            "mental_health", "housing_need"]
    firsts = []
    for sc in (base, alt):
        people = replication_tables(simulate(sc, 21, 0), sc.name, 0, 21)["people"]
        first = people.sort_values(["pid", "episode"]).groupby("pid").head(1)
        # people in treatment on day 0 are left out: their first referral is history
        firsts.append(first[~first["initial"]][cols].reset_index(drop=True))
    a, b = firsts
    assert len(a) > 200
    pd.testing.assert_frame_equal(a, b)
    # ... and the difference in staff did change what happened after referral
    waits = [replication_tables(simulate(sc, 21, 0), sc.name, 0, 21)["people"]
             ["wait_keyworker_days"].mean() for sc in (base, alt)]
    assert waits[1] > waits[0]


def test_every_modality_and_exit_reason_is_reached(example):
    people = replication_tables(simulate(example, 5, 0), "example", 0, 5)["people"]
    steps = set(">".join(people["path"]).split(">"))
    for modality in ("ost", "psychosocial", "hat", "detox", "rehab"):
        assert modality in steps
    assert people["inpatient_detox"].any()
    assert set(people["ost_formulation"].dropna()) == {"oral", "long_acting_injectable"}
    assert set(people["ost_setting"].dropna()) == {"specialist", "gp_shared_care"}
    reasons = set(people["exit_reason"])
    for reason in ("completed", "dropped_out", "transferred", "died", "triaged_only",
                   "ongoing"):
        assert reason in reasons
    assert set(people["source"]) >= {"self", "gp", "criminal_justice", "prison_release"}
    queued = small({"keyworkers.mode": "queue", "keyworkers.staff": 3})
    q = replication_tables(simulate(queued, 5, 0), "q", 0, 5)["people"]
    assert (q["exit_reason"] == "gave_up_waiting").any()
    assert (q["wait_keyworker_days"] > 0).any()


def test_model_and_metrics_agree_on_people_in_treatment_during_each_year(example):
    rec = simulate(example, 8, 0)
    yearly = replication_tables(rec, "example", 0, 8)["yearly"]
    got = yearly[yearly["metric"] == "in_treatment_during"].sort_values("year")["value"]
    w = example.run.warmup_years
    assert list(got) == rec.during_year["in_treatment"][w:w + example.run.years]


def test_a_policy_takes_effect_on_its_date():
    sc = small({"policies": [
        {"date": "2023-10-01", "set": {"keyworkers.staff": 10, "population.incidence_per_year": 0}},
    ]})
    day = sc.day_of(sc.policies[0].date)
    model = Model(sc, Streams(4, 0))
    model.start()
    model.world.env.run(until=day - 1e-6)
    assert model.world.keyworkers.staff == 5
    incidence_before = model.world.monitor.incidence
    model.world.env.run(until=day + 1e-6)
    assert model.world.keyworkers.staff == 10
    assert model.world.parameters.population.incidence_per_year == 0
    model.world.env.run(until=model.world.end_day)
    assert model.world.monitor.incidence == incidence_before
    rec = model.finish()
    assert rec.policy_log == [(day, "keyworkers.staff = 10; population.incidence_per_year = 0")]
    staff = [(s["day"], s["staff"]) for s in rec.snapshots]
    assert all(v == (5 if d < day else 10) for d, v in staff)


@pytest.mark.parametrize("seed", [1, 2])
def test_closing_hat_moves_every_patient_by_the_plan(seed):
    plan = {"detox": 0.3, "rehab": 0.2, "ost_long_acting": 0.5}
    sc = small({
        "modalities.hat.places": 10,
        "entry.opiate": {"ost": 0.7, "hat": 0.3},
        "policies": [{"date": "2023-12-06", "close": "hat", "transition": plan}],
    })
    day = sc.day_of(sc.policies[0].date)
    model = Model(sc, Streams(seed, 0))
    model.start()
    model.world.env.run(until=day - 1e-6)
    in_hat = {p.pid for p in model.world.occupants["hat"]}
    assert len(in_hat) >= 5
    model.world.env.run(until=model.world.end_day)
    rec = model.finish()
    moved = {pid: target for when, pid, service, target in rec.transitions
             if service == "hat" and when == day}
    assert set(moved) == in_hat  # every one of them, no one else
    segs = pd.DataFrame(rec.segments, columns=["pid", "ep", "modality", "start", "end",
                                               "reason"])
    for pid, target in moved.items():
        mine = segs[segs["pid"] == pid].sort_values("start")
        hat_seg = mine[(mine["modality"] == "hat") & (mine["end"] == day)]
        assert list(hat_seg["reason"]) == ["transition"]
        nxt = mine[(mine["start"] == day) & (mine["modality"] != "hat")]
        expected = {"ost_long_acting": {"ost"}, "rehab": {"rehab"},
                    "detox": {"detox", "detox_inpatient"}}[target]
        assert set(nxt["modality"]) & expected, (pid, target, mine)
        later_ost = mine[(mine["modality"] == "ost") & (mine["start"] > day)]
        if target == "ost_long_acting" and later_ost.empty:
            ep = [e for e in rec.episodes if e.pid == pid][-1]
            assert ep.ost_formulation == "long_acting_injectable"
    assert not ((segs["modality"] == "hat") & (segs["start"] >= day)).any()
    assert all(s["hat_occupied"] == 0 for s in rec.snapshots if s["day"] > day)
    fixed = [e for e in rec.ledger if e[0] == "hat_fixed"]
    assert fixed and max(e[2] for e in fixed) <= day + 1e-9
    assert model.audit() == []


def test_opening_a_service_and_closing_rehab():
    """HAT closed at the start and opened on a date takes patients only from then;
    closing rehab moves its residents by the plan."""
    sc = small({
        "modalities.hat.open": False, "modalities.hat.places": 6,
        "entry.opiate": {"ost": 0.7, "hat": 0.3},
        "modalities.rehab.budget_per_year_gbp": 2_000_000,
        "entry.non_opiate": {"psychosocial": 0.5, "rehab": 0.5},
        "policies": [
            {"date": "2023-06-01", "open": "hat"},
            {"date": "2023-09-01", "close": "rehab", "transition": {"psychosocial": 1.0}},
        ],
    })
    opened, closed = (sc.day_of(p.date) for p in sc.policies)
    model = Model(sc, Streams(6, 0))
    model.start()
    model.world.env.run(until=closed - 1e-6)
    in_rehab = {p.pid for p in model.world.occupants["rehab"]}
    assert in_rehab
    model.world.env.run(until=model.world.end_day)
    rec = model.finish()
    segs = pd.DataFrame(rec.segments, columns=["pid", "ep", "modality", "start", "end",
                                               "reason"])
    hat = segs[segs["modality"] == "hat"]
    assert len(hat) > 0 and hat["start"].min() >= opened
    moved = {pid for _, pid, service, target in rec.transitions if service == "rehab"}
    assert moved == in_rehab
    assert not ((segs["modality"] == "rehab") & (segs["start"] >= closed)).any()
    after = segs[segs["pid"].isin(moved) & (segs["start"] == closed)]
    assert set(after["modality"]) == {"psychosocial"}
    assert model.audit() == []


@pytest.mark.slow
def test_relapses_that_return_straight_to_treatment_raise_re_presentation():
    shares = []
    for back in (0.0, 0.8):
        sc = small({"relapse.return_to_treatment": back,
                    "relapse.time_to_relapse": {"dist": "exponential", "mean_days": 200}})
        yearly = sim.run(sc, reps=3, seed=2).summary.set_index("metric")
        shares.append(yearly.loc["representation_share", "mean"])
        people = sim.run(sc, reps=1, seed=2).people
        direct = people[(people["source"] == "self") & people["previously_treated"]]
        assert len(direct) > 0
    assert shares[1] > shares[0] + 0.1, shares


@pytest.mark.slow
def test_planned_exits_can_depend_on_the_review_number():
    """A high planned-exit share at the first two reviews empties short stays faster
    and leaves the long-stay population (over 1 year) alone."""
    early = {"modalities.psychosocial.review.planned_exit_by_review": [3.0, 2.0],
             "modalities.ost.review.planned_exit_by_review": [4.0, 2.0]}
    res = [sim.run(small(o), reps=4, seed=9).summary.set_index("metric")["mean"]
           for o in ({}, early)]
    assert res[1]["short_stay_exit_share"] > res[0]["short_stay_exit_share"] + 0.03
    assert res[1]["planned_exit_share"] > res[0]["planned_exit_share"]


def test_rehab_refusals_are_counted_in_the_year_they_happen():
    sc = small({"modalities.rehab.budget_per_year_gbp": 5000,
                "entry.non_opiate": {"psychosocial": 0.5, "rehab": 0.5}})
    rec = simulate(sc, 3, 0)
    yearly = replication_tables(rec, "r", 0, 3)["yearly"]
    got = yearly[yearly["metric"] == "rehab_refused"].sort_values("year")["value"].tolist()
    w = sc.run.warmup_years
    expected = [sum(1 for d in rec.rehab_refusals if 365 * (w + k) <= d < 365 * (w + k + 1))
                for k in range(sc.run.years)]
    assert got == expected and sum(got) > 0
    paths = replication_tables(rec, "r", 0, 3)["people"]["path"].str.count("rehab_refused")
    assert paths.sum() == len(rec.rehab_refusals)  # each refusal also marks its episode


def test_people_whose_life_ended_free_their_stream_caches_and_generator(example):
    model = Model(example, Streams(3, 0))
    model.run()
    gone = [p for p in model.world.people if STATE_NAMES[p.state] in ("dead", "moved_away")]
    assert gone and all(p.rng is None and p.factors is None and not p.is_alive
                        and p.generator is None and p.target is None for p in gone)
    assert all(p.rng is not None for p in model.world.people if p not in gone)


def test_a_multiplier_on_a_dynamic_attribute_follows_the_attribute():
    from sim.model.draws import PersonStream
    from sim.model.people import Person

    person = Person(0, PersonStream((1, 2, 3, 4, 5, 6)), {"substance": "opiate"})
    table = {"ost_setting": {"gp_shared_care": 0.7}, "substance": {"opiate": 2.0}}
    assert person.factor(table) == 2.0
    person.set_attr("ost_setting", "gp_shared_care")
    assert person.factor(table) == pytest.approx(1.4)
    person.set_attr("ost_setting", None)
    assert person.factor(table) == 2.0


def test_the_profile_key_names_every_attribute_a_person_can_have(example):
    """Rates are kept per profile key: it must see every attribute (those drawn at entry
    and the dynamic ones), and nothing else may be set during a life."""
    from sim.model.draws import PersonStream
    from sim.model.people import ATTRIBUTE_NAMES, DYNAMIC_ATTRIBUTES, Person, draw_attributes

    def stream(k):
        return PersonStream((k, 2, 3, 4, 5, 6))

    drawn = draw_attributes(stream(1), example.population.attributes)
    assert set(drawn) | DYNAMIC_ATTRIBUTES == set(ATTRIBUTE_NAMES)
    a, b = Person(0, stream(1), dict(drawn)), Person(1, stream(2), dict(drawn))
    a.set_attr("source", "gp")
    a.set_attr("ost_setting", "specialist")
    b.set_attr("ost_setting", "specialist")
    b.set_attr("source", "gp")  # the same levels set in another order
    assert a.profile_key() == b.profile_key()
    b.set_attr("ost_setting", None)
    assert a.profile_key() != b.profile_key()
    with pytest.raises(ValueError, match="substance"):
        a.set_attr("substance", "crack")


def test_people_with_the_same_levels_share_one_profile_whatever_the_path_to_it():
    """A person holds only their profile's number: the same levels are the same profile,
    reached by drawing them or by changing to them, and a change undone goes back."""
    from sim.model.draws import PersonStream
    from sim.model.people import Person, Profiles

    profiles = Profiles()
    drawn = {"substance": "opiate", "sex": "male", "previously_treated": "false"}
    a = Person(0, PersonStream((1, 2, 3, 4, 5, 6)), dict(drawn), profiles)
    b = Person(1, PersonStream((2, 2, 3, 4, 5, 6)), {**drawn, "source": "gp"}, profiles)
    assert a.profile != b.profile and a.attrs == drawn
    start = a.profile
    for _ in range(2):  # the second time through, every move is one already seen
        a.set_attr("source", "gp")
        assert a.profile == b.profile and a.attrs == {**drawn, "source": "gp"}
        assert a.factors is profiles.factors[b.profile]
        a.set_attr("source", None)
        assert a.profile == start and a.attrs == drawn
    a.set_attr("source", None)  # already without it: no change
    assert a.profile == start and len(profiles.levels) == 2
    with pytest.raises(ValueError, match="favourite_colour"):
        Person(2, PersonStream((3, 2, 3, 4, 5, 6)), {**drawn, "favourite_colour": "red"})


def test_a_closure_plan_into_a_closed_rehab_falls_back_with_a_real_formulation():
    """HAT closes with everyone planned into rehab while rehab is closed: each falls back
    to OST with a formulation drawn as usual, not the rehab placement's 'funded' mark."""
    sc = small({
        "modalities.hat.places": 10, "modalities.rehab.open": False,
        "entry.opiate": {"ost": 0.7, "hat": 0.3},
        "policies": [{"date": "2023-12-06", "close": "hat", "transition": {"rehab": 1.0}}],
    })
    day = sc.day_of(sc.policies[0].date)
    rec = simulate(sc, 1, 0)
    moved = {pid for when, pid, service, _ in rec.transitions if service == "hat" and when == day}
    assert len(moved) >= 5
    formulations = {e.ost_formulation for e in rec.episodes if e.ost_formulation}
    assert formulations <= {"oral", "long_acting_injectable"}
    fell_back = [s for s in rec.segments if s.pid in moved and s.start_day == day]
    assert fell_back and {s.modality for s in fell_back} == {"ost"}


def test_a_stay_takes_up_a_policy_on_its_date_not_at_its_next_review():
    """Drop-out from OST becomes almost certain on a policy date: stays end within days of
    it, not at their next 12-weekly review."""
    sc = small({"run.years": 2, "policies": [{"date": "2023-06-01", "set": {
        "modalities.ost.dropout": {"dist": "exponential", "mean_days": 0.5}}}]})
    day = sc.day_of(sc.policies[0].date)
    rec = simulate(sc, 4, 0)
    before = [s for s in rec.segments if s.modality == "ost" and s.start_day < day]
    ended = [s.end_day - day for s in before if s.end_day >= day and s.end_reason != "ongoing"]
    assert len(ended) >= 50
    assert sorted(ended)[int(0.9 * len(ended))] < 5.0  # 90% gone within 5 days


def test_a_scenario_equals_its_pickled_copy_once_its_phases_are_cached():
    import pickle

    from sim.scenario import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "middlesbrough_hat_end.yaml")
    assert len(sc.phases()) >= 2 and sc.phases()[0][1] is sc  # the cache holds sc itself
    copy = pickle.loads(pickle.dumps(sc))
    assert copy == sc and copy.phases()[-1][1] == sc.phases()[-1][1]
    assert sc != small()


def test_an_episode_gives_back_every_field_it_was_built_with_in_the_table_order():
    """EPISODE_FIELDS, Episode's keywords and Episode.values name the fields three times:
    a field given by keyword must come back from values() at its place in EPISODE_FIELDS,
    and survive pickling and equality."""
    import pickle

    from sim.model.records import EPISODE_FIELDS, Episode

    given = {  # typed as the compiled class checks them, each value told apart
        "pid": 7, "episode": 2, "initial": True, "source": "gp", "referral_day": 1.5,
        "substance": "crack", "sex": "female", "age_band": "18-29", "injecting": False,
        "mental_health": True, "housing_need": False, "previously_treated": True,
        "triage_day": 2.5, "triaged_only": False, "start_day": 3.5, "exit_day": 4.5,
        "exit_reason": "completed", "path": ["ost", "detox"], "ost_setting": "specialist",
        "ost_formulation": "oral", "inpatient_detox": True, "abandoned_wait": False,
        "transfer_in": True,
    }
    assert list(given) == list(EPISODE_FIELDS)
    episode = Episode(**given)
    assert episode.values() == tuple(given[name] for name in EPISODE_FIELDS)
    assert pickle.loads(pickle.dumps(episode)) == episode
    assert Episode(**{**given, "exit_reason": "other"}) != episode
