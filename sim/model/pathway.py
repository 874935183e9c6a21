"""The person process: community -> triage -> keyworker -> treatment -> exit -> relapse.

Every person is one SimPy process that walks the states of DESIGN §2. Nothing polls:
a person waits for exactly one event at a time, the first of its competing hazards.

Hazards and time-varying parameters
-----------------------------------
* Constant hazards (referral, death, custody, transfer, ...) are exponential and
  memoryless, so a wait is cut at the next policy date and drawn again with the
  parameters then in force: policies take effect exactly on their date.
* Durations with a shape (drop-out, relapse) use the distribution's cumulative hazard
  ``H``: a person draws one unit-exponential budget ``E`` and leaves when the
  accumulated ``multiplier x dH`` reaches it. Multipliers (caseload pressure,
  attributes, policies) are re-read at each 12-weekly review, or at each policy date
  after treatment, and held constant in between.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import simpy

from ..scenario import SOURCES, Scenario
from ..streams import Streams
from .monitor import Monitor, Records
from .people import (
    AFTER_TREATMENT,
    COMMUNITY,
    CUSTODY,
    DEAD,
    IN_TREATMENT,
    KEYWORKER_WAIT,
    MOVED_AWAY,
    OCU,
    RECOVERED,
    STATE_NAMES,
    TRIAGE_WAIT,
    USING_STATES,
    Episode,
    Person,
    draw_from,
)
from .services import KeyworkerPool, Pool, RehabBudget, TriageClinic

REVIEW_DAYS = 84.0
"""Treatment Outcomes Profile review interval: 12 weeks."""
PY = 365.0
"""Days in a model year."""
INF = math.inf
EPS = 1e-9
"""Days: a wait that ends within this of a boundary has reached it (float rounding)."""
MAINTENANCE = ("ost", "psychosocial", "hat")


def interp(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear interpolation of ``ys`` over ``xs``, flat beyond the ends."""
    if len(xs) == 1 or x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            x0, x1 = xs[i - 1], xs[i]
            return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0)
    return ys[-1]  # pragma: no cover


class Transition(Exception):
    """Raised inside a person's treatment when their service closes."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class Model:
    """One replication of a scenario.

    :param scenario: the validated scenario.
    :param streams: the replication's random streams.
    """

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        self.scenario = scenario
        self.streams = streams
        self.phases = scenario.phases()
        self.policies = sorted(scenario.policies, key=lambda p: p.date)
        self.p = scenario
        self.policy_days = [day for day, _ in self.phases[1:]]
        self.env = env = simpy.Environment()
        self.year = 0
        init = scenario.population.initial
        self.monitor = Monitor(init.community + init.in_treatment)
        kw = scenario.keyworkers
        self.keyworkers = KeyworkerPool(env, kw.mode, kw.staff, kw.caseload_cap)
        self.triage = TriageClinic(env, self)
        self.beds = Pool(env, scenario.modalities.detox.inpatient_beds)
        hat = scenario.modalities.hat
        self.hat = Pool(env, hat.places if hat.open else 0)
        self.rehab_places = Pool(env, INF)
        self.rehab_budget = RehabBudget(env, self, self._first_april(scenario.run.start_date))
        self.people: list[Person] = []
        self.in_treatment: set[Person] = set()
        self.using: set[Person] = set()
        self.occupants: dict[str, set[Person]] = {m: set() for m in ("hat", "rehab")}
        self.end_day = scenario.run.horizon_days + scenario.run.follow_up_days
        self._cost_mark = 0.0
        # id(review probabilities) -> (planned-exit share, other steps, their total)
        self._branches: dict[int, tuple[float, tuple[tuple[str, float], ...], float]] = {}

    # ------------------------------------------------------------------ set-up

    @staticmethod
    def _first_april(start: dt.date) -> float:
        year = start.year if start < dt.date(start.year, 4, 1) else start.year + 1
        return float((dt.date(year, 4, 1) - start).days)

    def start(self) -> None:
        """Create the day-0 population and the system processes (call once)."""
        env = self.env
        self._populate()
        env.process(self._incidence())
        env.process(self._policies())
        env.process(self._snapshots())
        env.process(self._hat_medicine())

    def run(self) -> Records:
        """Run the replication to the end of follow-up and return its records."""
        self.start()
        # SimPy stops *before* events at ``until``: go a hair past so the snapshot
        # due on the last day is taken
        self.env.run(until=self.end_day + 1e-6)
        return self.finish()

    def _new_person(self, substance_shares: dict[str, float] | None = None) -> Person:
        pid = len(self.people)
        rng = self.streams.person(pid)
        a = self.p.population.attributes
        rnd = rng.random
        substance = draw_from(substance_shares or a.substance, rnd())
        attrs = {
            "substance": substance,
            "sex": draw_from(a.sex, rnd()),
            "age_band": draw_from(a.age_band, rnd()),
            "injecting": "true" if rnd() < a.injecting[substance] else "false",
            "mental_health": "true" if rnd() < a.mental_health else "false",
            "housing_need": "true" if rnd() < a.housing_need else "false",
            "previously_treated": "false",
        }
        person = Person(pid, rng, attrs)
        self.people.append(person)
        return person

    def _populate(self) -> None:
        """Create the day-0 community and treatment populations."""
        init = self.p.population.initial
        counts = self.monitor.counts
        for _ in range(init.community):
            person = self._new_person()
            if person.rng.random() < init.previously_treated_share:
                person.set_attr("previously_treated", "true")
                person.ever_treated = True
            counts[COMMUNITY] += 1
            self._mark_using(person)
            person.process = self.env.process(self._life(person, COMMUNITY))
        for _ in range(init.in_treatment):
            person = self._new_person(init.substance)
            person.attrs["previously_treated"] = "true"
            elapsed = init.time_in_treatment.sample(person.rng)
            counts[IN_TREATMENT] += 1
            person.state = IN_TREATMENT
            person.process = self.env.process(self._carried_in(person, elapsed))

    # ------------------------------------------------------------------ helpers

    def _next_boundary(self, now: float) -> float:
        for day in self.policy_days:
            if day > now + EPS:
                return day
        return INF

    def _set_state(self, person: Person, state: int) -> None:
        old = person.state
        self.monitor.move(old, state)
        person.state = state
        if state in USING_STATES:
            if old not in USING_STATES:
                self._mark_using(person)
        elif old in USING_STATES:
            self.using.discard(person)

    def _mark_using(self, person: Person) -> None:
        self.using.add(person)
        if person.use_year != self.year:
            person.use_year = self.year
            during = self.monitor.during_year
            during["using"][-1] += 1
            if person.attrs["substance"] in OCU:
                during["using_ocu"][-1] += 1

    def _death_rate(self, person: Person, base: float) -> float:
        """Per-day death hazard from ``base`` per 100 person-years, with multipliers."""
        if base <= 0:
            return 0.0
        return base * person.factor(self.p.mortality.multipliers) / (100.0 * PY)

    def _post_exit_rate(self, person: Person, now: float, base: float) -> tuple[float, float]:
        """(per-100-PY rate, day it stops applying) given the post-exit windows."""
        if person.exit_day is None:
            return base, INF
        since = now - person.exit_day
        for w in self.p.mortality.after_exit:
            if since < w.until_day - EPS:
                return w.per_100_person_years, person.exit_day + w.until_day
        return base, INF

    def _die(self, person: Person, modality: str | None = None) -> None:
        now = self.env.now
        since = None if person.exit_day is None else now - person.exit_day
        self.monitor.deaths.append(
            (now, person.pid, STATE_NAMES[person.state], modality, since,
             person.attrs["substance"])
        )
        self._set_state(person, DEAD)

    # ------------------------------------------------------------------ processes

    def _incidence(self) -> Any:
        rng = self.streams.get("incidence")
        env = self.env
        while True:
            rate = self.p.population.incidence_per_year / PY
            now = env.now
            boundary = self._next_boundary(now)
            if rate <= 0:
                if boundary == INF:
                    return
                yield env.timeout(boundary - now)
                continue
            gap = rng.expovariate(rate)
            if now + gap >= boundary:
                yield env.timeout(boundary - now)
                continue
            yield env.timeout(gap)
            person = self._new_person()
            self.monitor.incidence += 1
            self.monitor.counts[COMMUNITY] += 1
            self._mark_using(person)
            person.process = env.process(self._life(person, COMMUNITY))

    def _life(self, person: Person, state: int) -> Any:
        handlers = {
            COMMUNITY: self._community,
            TRIAGE_WAIT: self._referral,
            AFTER_TREATMENT: self._after_treatment,
            CUSTODY: self._custody,
            RECOVERED: self._recovered,
        }
        while state is not None:
            state = yield from handlers[state](person)

    def _carried_in(self, person: Person, elapsed: float) -> Any:
        """A person already in treatment on day 0, ``elapsed`` days into their episode."""
        a = person.attrs
        ep = Episode(
            person.pid, 0, True, "unknown", -elapsed, a["substance"], a["sex"], a["age_band"],
            a["injecting"] == "true", a["mental_health"] == "true", a["housing_need"] == "true",
            True, triage_day=-elapsed, start_day=-elapsed,
        )
        person.episodes = 1
        person.episode = ep
        person.ever_treated = True
        person.state = IN_TREATMENT
        self.monitor.episodes.append(ep)
        self._mark_using(person)
        self.keyworkers.force_acquire()
        self._mark_treatment(person)
        modality = draw_from(self.p.entry[a["substance"]], person.rng.random())
        if modality in ("detox", "rehab"):  # carried in part-way: on maintenance instead
            modality = self._fallback(person)
        if modality == "hat" and not self._hat_admit(person):
            modality = "ost"
        state = yield from self._treatment(person, ep, modality, elapsed)
        yield from self._life(person, state)

    def _community(self, person: Person) -> Any:
        """Using, not in treatment: referral by source, cessation, custody, moving, death."""
        env = self.env
        rng = person.rng
        while True:
            p = self.p
            now = env.now
            ref = p.referral
            c = p.population.community
            f = person.factor
            r_self = ref.self_.per_year * f(ref.self_.multipliers)
            r_gp = ref.gp.per_year * f(ref.gp.multipliers)
            r_cj = ref.criminal_justice.per_year * f(ref.criminal_justice.multipliers)
            boundary = self._next_boundary(now)
            r_prison = 0.0
            if person.release_day is not None:
                until = person.release_day + ref.prison_release.window_days
                if now < until - EPS:
                    r_prison = ref.prison_release.per_year * f(ref.prison_release.multipliers)
                    boundary = min(boundary, until)
            r_cease = c.cessation.per_year * f(c.cessation.multipliers)
            r_move = c.moving_away.per_year * f(c.moving_away.multipliers)
            r_cust = c.custody.per_year * f(c.custody.multipliers)
            base, until = self._post_exit_rate(person, now,
                                               p.mortality.community.per_100_person_years)
            boundary = min(boundary, until)
            r_death = self._death_rate(person, base) * PY
            rates = (r_self, r_gp, r_cj, r_prison, r_cease, r_move, r_cust, r_death)
            total = sum(rates)
            if total <= 0:
                if boundary == INF:
                    return None  # nothing can ever happen to this person
                yield env.timeout(boundary - now)
                continue
            gap = rng.expovariate(total / PY)
            if now + gap >= boundary:
                yield env.timeout(boundary - now)
                continue
            yield env.timeout(gap)
            which = _pick(rates, rng.random() * total)
            if which <= 3:
                person.set_attr("source", SOURCES[which])
                return TRIAGE_WAIT
            if which == 4:
                self._set_state(person, RECOVERED)
                return RECOVERED
            if which == 5:
                self._set_state(person, MOVED_AWAY)
                return None
            if which == 6:
                self._set_state(person, CUSTODY)
                return CUSTODY
            self._die(person)
            return None

    def _custody(self, person: Person) -> Any:
        yield self.env.timeout(self.p.population.community.custody_duration.sample(person.rng))
        person.release_day = self.env.now
        self._set_state(person, COMMUNITY)
        return COMMUNITY

    def _wait(self, person: Person, ev: simpy.Event, abandon_per_year: float) -> Any:
        """Wait for ``ev`` while death and giving up compete. Returns 'ok', 'gave_up' or
        'died'."""
        rng = person.rng
        death = self._death_rate(person, self.p.mortality.community.per_100_person_years)
        give_up = abandon_per_year / PY
        total = death + give_up
        if total <= 0:
            yield ev
            return "ok"
        timer = self.env.timeout(rng.expovariate(total))
        yield ev | timer
        if ev.triggered:
            return "ok"
        return "died" if rng.random() * total < death else "gave_up"

    def _referral(self, person: Person) -> Any:
        """Referral, triage and (in queue mode) the wait for a keyworker place."""
        env = self.env
        a = person.attrs
        person.episodes += 1
        ep = Episode(
            person.pid, person.episodes - 1, False, a["source"], env.now, a["substance"],
            a["sex"], a["age_band"], a["injecting"] == "true", a["mental_health"] == "true",
            a["housing_need"] == "true", person.ever_treated,
        )
        person.episode = ep
        self.monitor.episodes.append(ep)
        self._set_state(person, TRIAGE_WAIT)
        ev = self.triage.request()
        if ev is not None:
            yield ev  # a week or two at most: deaths in this short wait are not modelled
        ep.triage_day = env.now
        self.monitor.cost("triage", env.now, env.now, self.p.triage.cost_per_assessment_gbp)
        if person.rng.random() < self.p.triage.triaged_only:
            ep.triaged_only = True
            ep.exit_reason = "triaged_only"
            ep.exit_day = env.now
            self._set_state(person, COMMUNITY)
            return COMMUNITY
        self._set_state(person, KEYWORKER_WAIT)
        ev = self.keyworkers.acquire()
        if ev is not None:
            abandon = self.p.keyworkers.waiting_abandonment
            rate = abandon.per_year * person.factor(abandon.multipliers)
            outcome = yield from self._wait(person, ev, rate)
            if outcome != "ok":
                self.keyworkers.cancel(ev)
                return self._left_waiting(person, ep, outcome)
        self._set_state(person, IN_TREATMENT)
        ep.start_day = env.now
        person.ever_treated = True
        person.set_attr("previously_treated", "true")
        self._mark_treatment(person)
        modality = self._entry_modality(person)
        return (yield from self._treatment(person, ep, modality, 0.0))

    def _left_waiting(self, person: Person, ep: Episode, outcome: str) -> int | None:
        ep.exit_day = self.env.now
        ep.abandoned_wait = True
        if outcome == "died":
            ep.exit_reason = "died_waiting"
            self._die(person)
            return None
        ep.exit_reason = "gave_up_waiting"
        self._set_state(person, COMMUNITY)
        return COMMUNITY

    def _mark_treatment(self, person: Person) -> None:
        self.in_treatment.add(person)
        if person.tx_year != self.year:
            person.tx_year = self.year
            self.monitor.during_year["in_treatment"][-1] += 1

    # ------------------------------------------------------------------ treatment

    def _entry_modality(self, person: Person) -> str:
        modality = draw_from(self.p.entry[person.attrs["substance"]], person.rng.random())
        return self._available(person, modality)

    def _fallback(self, person: Person) -> str:
        return "ost" if person.attrs["substance"] in ("opiate", "opiate_crack") else "psychosocial"

    def _available(self, person: Person, modality: str) -> str:
        """``modality`` if it can take the person now, else the fallback maintenance route.

        HAT needs an open clinic with a free place; rehab needs the service open. The
        rehab budget is checked when the placement is priced, in :meth:`_rehab` (a
        closure plan's placements are ``funded`` already).
        """
        if modality == "hat" and not self._hat_admit(person):
            return self._fallback(person)
        if modality == "rehab" and not self.p.modalities.rehab.open:
            return self._fallback(person)
        return modality

    def _hat_admit(self, person: Person) -> bool:
        if self.p.modalities.hat.open and self.hat.try_acquire():
            self.occupants["hat"].add(person)
            return True
        return False

    def _treatment(self, person: Person, ep: Episode, modality: str, elapsed: float) -> Any:
        """Walk modalities until an exit; returns the state after treatment."""
        forced: str | None = None
        while True:
            ep.path.append(modality)
            if modality in MAINTENANCE:
                outcome = yield from self._maintained(person, ep, modality, elapsed, forced)
            elif modality == "detox":
                outcome = yield from self._detox(person, ep)
            else:
                outcome = yield from self._rehab(person, ep, forced == "funded")
            elapsed = 0.0
            forced = None
            kind, value = outcome
            if kind == "move" and value == "planned_exit":  # a closure plan's planned exit
                kind, value = "exit", "completed"
            if kind == "move":
                if value == "ost_long_acting":
                    value, forced = "ost", "long_acting_injectable"
                elif value == "rehab_funded":
                    value, forced = "rehab", "funded"
                modality = self._available(person, value)
                continue
            return self._exit(person, ep, value)

    def _segment(self, person: Person, ep: Episode, modality: str, rate_gbp: float) -> None:
        person.modality = modality
        person.seg_start = self.env.now
        person.seg_rate_gbp = rate_gbp

    def _end_segment(self, person: Person, ep: Episode, reason: str) -> None:
        now = self.env.now
        start = person.seg_start
        self.monitor.segments.append((person.pid, ep.episode, person.modality, start, now, reason))
        if person.seg_rate_gbp:
            self.monitor.cost(person.modality, start, now, person.seg_rate_gbp * (now - start))
        person.modality = None

    def _maintained(self, person: Person, ep: Episode, modality: str, elapsed: float,
                    forced: str | None) -> Any:
        """OST, psychosocial or HAT: reviews every 12 weeks, drop-out, death and transfer
        competing in between."""
        rng = person.rng
        timeout = self.env.timeout
        p = self.p
        spec = getattr(p.modalities, modality)
        rate_gbp = getattr(spec, "cost_per_day_gbp", 0.0)
        if modality == "ost":
            setting = draw_from(spec.setting, rng.random())
            formulation = forced or draw_from(spec.formulation, rng.random())
            person.set_attr("ost_setting", setting)
            person.set_attr("ost_formulation", formulation)
            ep.ost_setting, ep.ost_formulation = setting, formulation
            if formulation == "long_acting_injectable":
                rate_gbp = spec.long_acting_cost_per_day_gbp
        self._segment(person, ep, modality, rate_gbp)
        budget = rng.expovariate(1.0)  # drop-out happens when multiplied hazard reaches it
        t = elapsed  # days in this modality
        next_review = (math.floor(elapsed / REVIEW_DAYS) + 1) * REVIEW_DAYS
        expo = rng.expovariate
        p = None
        try:
            while True:
                if p is not self.p:  # first pass, or a policy changed the parameters
                    p = self.p
                    spec = getattr(p.modalities, modality)
                    if modality == "hat" and not p.modalities.hat.open:
                        raise Transition("ost")  # closed without a plan reaching this person
                    pressure = p.keyworkers.pressure
                    cumhaz, inv_cumhaz = spec.dropout.cumhaz, spec.dropout.inv_cumhaz
                    m_attr = person.factor(spec.dropout_multipliers)
                    mort = p.mortality
                    r_death = self._death_rate(person, mort.in_treatment.get(modality, 0.0))
                    induction = mort.ost_induction_days if modality == "ost" else 0.0
                    r_induct = self._death_rate(person, mort.ost_induction.per_100_person_years)
                    tr = p.exits.transfer
                    r_tr = tr.per_year * person.factor(tr.multipliers) / PY
                caseload = self.keyworkers.count / self.keyworkers.staff
                m_drop = m_attr * interp(caseload, pressure.caseload, pressure.dropout_multiplier)
                step = next_review - t
                h0 = cumhaz(t)
                dh = m_drop * (cumhaz(next_review) - h0)
                t_drop = INF
                if budget <= dh:
                    t_drop = inv_cumhaz(h0 + budget / m_drop) - t
                # death: one draw against a hazard that is r_induct in the first days of
                # OST and r_death after
                e = expo(1.0)
                if t < induction:
                    first = r_induct * (induction - t)
                    if e < first:
                        t_death = e / r_induct
                    else:
                        t_death = (induction - t) + ((e - first) / r_death if r_death > 0
                                                     else INF)
                else:
                    t_death = e / r_death if r_death > 0 else INF
                t_tr = expo(r_tr) if r_tr > 0 else INF
                wait = min(step, t_drop, t_death, t_tr)
                try:
                    yield timeout(wait)
                except simpy.Interrupt as stop:
                    raise Transition(stop.cause) from None
                if wait == t_drop:
                    return self._leave(person, ep, modality, "exit", "dropped_out")
                if wait == t_death:
                    return self._leave(person, ep, modality, "exit", "died")
                if wait == t_tr:
                    return self._leave(person, ep, modality, "exit", "transferred")
                t = next_review
                budget -= dh
                review_no = round(next_review / REVIEW_DAYS)
                next_review += REVIEW_DAYS
                outcome = self._review(person, spec, caseload, review_no)
                if outcome == "continue":
                    continue
                if outcome == "planned_exit":
                    return self._leave(person, ep, modality, "exit", "completed")
                if outcome == "hat" and not (p.modalities.hat.open and self.hat.free() > 0):
                    continue
                if outcome == "rehab" and not p.modalities.rehab.open:
                    continue
                return self._leave(person, ep, modality, "move", outcome)
        except Transition as tr_:
            return self._leave(person, ep, modality, "move", tr_.target, reason="transition")

    def _review(self, person: Person, spec: Any, caseload: float, review_no: int) -> str:
        """Draw the outcome of review ``review_no`` (1, 2, ...) of a stay.

        The planned-exit share is scaled by attribute, caseload and review-number
        multipliers; other steps shrink only if needed, and ``continue`` takes the rest."""
        probs = spec.review.probabilities
        branches = self._branches.get(id(probs))
        if branches is None:
            others = tuple((k, v) for k, v in probs.items()
                           if k not in ("continue", "planned_exit") and v > 0)
            branches = self._branches[id(probs)] = (
                probs.get("planned_exit", 0.0), others, sum(v for _, v in others))
        p_exit, others, rest = branches
        kw = self.p.keyworkers.pressure
        m = person.factor(spec.review.planned_exit_multipliers) * interp(
            caseload, kw.caseload, kw.completion_multiplier)
        by_review = spec.review.planned_exit_by_review
        if review_no <= len(by_review):
            m *= by_review[review_no - 1]
        planned = min(1.0, p_exit * m)
        u = person.rng.random()
        if u < planned:
            return "planned_exit"
        scale = min(1.0, (1.0 - planned) / rest) if rest > 0 else 1.0
        acc = planned
        for outcome, share in others:
            acc += share * scale
            if u < acc:
                return outcome
        return "continue"

    def _leave(self, person: Person, ep: Episode, modality: str, kind: str, value: str,
               reason: str | None = None) -> tuple[str, str]:
        """End the current modality segment; release its place."""
        self._end_segment(person, ep, reason or value)
        if modality == "hat":
            self.hat.release()
            self.occupants["hat"].discard(person)
        elif modality == "rehab":
            self.rehab_places.release()
            self.occupants["rehab"].discard(person)
        return kind, value

    def _detox(self, person: Person, ep: Episode) -> Any:
        """Community or inpatient detox (a bed, if one frees up within the wait limit)."""
        env = self.env
        rng = person.rng
        d = self.p.modalities.detox
        inpatient = False
        self._segment(person, ep, "detox", d.community_cost_per_day_gbp)
        if d.inpatient_beds > 0 and rng.random() < d.inpatient_share:
            ev = self.beds.acquire()
            if ev is None:
                inpatient = True
            elif d.bed_wait_max_days > 0:
                yield ev | env.timeout(d.bed_wait_max_days)
                if ev.triggered:
                    inpatient = True
                else:
                    self.beds.cancel(ev)
            else:
                self.beds.cancel(ev)
        if inpatient:
            ep.inpatient_detox = True
            self._end_segment(person, ep, "bed_available")
            self._segment(person, ep, "detox_inpatient", d.inpatient_cost_per_day_gbp)
        d = self.p.modalities.detox
        duration = (d.inpatient_duration if inpatient else d.community_duration).sample(rng)
        outcome = draw_from(d.inpatient_outcome if inpatient else d.community_outcome,
                            rng.random())
        if outcome == "dropout":
            duration *= rng.random()
        r_death = self._death_rate(person, self.p.mortality.in_treatment.get("detox", 0.0))
        t_death = rng.expovariate(r_death) if r_death > 0 else INF
        if t_death < duration:
            yield env.timeout(t_death)
            outcome = "died"
        else:
            yield env.timeout(duration)
        self._end_segment(person, ep, outcome)
        if inpatient:
            self.beds.release()
        if outcome == "planned_exit":
            return "exit", "completed"
        if outcome == "dropout":
            return "exit", "dropped_out"
        if outcome == "died":
            return "exit", "died"
        return "move", outcome

    def _rehab(self, person: Person, ep: Episode, funded: bool) -> Any:
        """A residential placement, bought from the year's budget (unless already funded)."""
        rng = person.rng
        r = self.p.modalities.rehab
        duration = r.duration.sample(rng)
        cost = duration / 7.0 * r.price_per_week_gbp
        if not self.rehab_budget.fund(cost, force=funded):
            self.monitor.rehab_refusals.append(self.env.now)
            ep.path[-1] = "rehab_refused"
            return "move", self._fallback(person)
        self.rehab_places.acquire()
        self.occupants["rehab"].add(person)
        self._segment(person, ep, "rehab", r.price_per_week_gbp / 7.0)
        outcome = draw_from(r.outcome, rng.random())
        if outcome == "dropout":
            duration *= rng.random()
        r_death = self._death_rate(person, self.p.mortality.in_treatment.get("rehab", 0.0))
        t_death = rng.expovariate(r_death) if r_death > 0 else INF
        try:
            if t_death < duration:
                yield self.env.timeout(t_death)
                return self._leave(person, ep, "rehab", "exit", "died")
            yield self.env.timeout(duration)
        except simpy.Interrupt as tr_:
            return self._leave(person, ep, "rehab", "move", tr_.cause, reason="transition")
        if outcome == "planned_exit":
            return self._leave(person, ep, "rehab", "exit", "completed")
        if outcome == "dropout":
            return self._leave(person, ep, "rehab", "exit", "dropped_out")
        return self._leave(person, ep, "rehab", "move", outcome)

    def _exit(self, person: Person, ep: Episode, reason: str) -> int | None:
        """Close the episode and send the person where ``reason`` leads."""
        now = self.env.now
        ep.exit_day = now
        ep.exit_reason = reason
        self.keyworkers.release()
        self.in_treatment.discard(person)
        if "ost_setting" in person.attrs:
            person.set_attr("ost_setting", None)
            person.set_attr("ost_formulation", None)
        if reason == "died":
            self._die(person, ep.path[-1] if ep.path else None)
            return None
        person.exit_day = now
        if reason == "completed":
            self._set_state(person, AFTER_TREATMENT)
            return AFTER_TREATMENT
        if reason == "transferred":
            if person.rng.random() < self.p.exits.transfer_custody_share:
                self._set_state(person, CUSTODY)
                return CUSTODY
            self._set_state(person, MOVED_AWAY)
            return None
        self._set_state(person, COMMUNITY)
        return COMMUNITY

    # ------------------------------------------------------------------ after treatment

    def _after_treatment(self, person: Person) -> Any:
        """After a planned exit: relapse, sustained recovery, death or moving away."""
        env = self.env
        rng = person.rng
        budget = rng.expovariate(1.0)
        exit_day = env.now
        while True:
            p = self.p
            now = env.now
            since = now - exit_day
            rl = p.relapse
            end = min(self._next_boundary(now), exit_day + rl.sustained_recovery_days)
            base, until = self._post_exit_rate(person, now,
                                               p.mortality.after_treatment.per_100_person_years)
            end = min(end, until)
            dist = rl.time_to_relapse
            m = person.factor(rl.multipliers)
            h0 = dist.cumhaz(since)
            dh = m * (dist.cumhaz(end - exit_day) - h0)
            t_rel = INF
            if m > 0 and budget <= dh:
                t_rel = dist.inv_cumhaz(h0 + budget / m) - since
            r_death = self._death_rate(person, base)
            t_death = rng.expovariate(r_death) if r_death > 0 else INF
            mv = p.population.community.moving_away
            r_move = mv.per_year * person.factor(mv.multipliers) / PY
            t_move = rng.expovariate(r_move) if r_move > 0 else INF
            step = end - now
            wait = min(step, t_rel, t_death, t_move)
            yield env.timeout(wait)
            if wait == t_rel:
                back = rl.return_to_treatment
                if back > 0 and rng.random() < back:
                    person.set_attr("source", "self")
                    return TRIAGE_WAIT  # straight back to treatment
                self._set_state(person, COMMUNITY)
                return COMMUNITY
            if wait == t_death:
                self._die(person)
                return None
            if wait == t_move:
                self._set_state(person, MOVED_AWAY)
                return None
            budget -= dh
            if env.now >= exit_day + rl.sustained_recovery_days - EPS:
                self._set_state(person, RECOVERED)
                return RECOVERED

    def _recovered(self, person: Person) -> Any:
        """Sustained recovery (or natural cessation): only death or moving away remain."""
        rng = person.rng
        p = self.p
        r_death = self._death_rate(person, p.mortality.after_treatment.per_100_person_years)
        mv = p.population.community.moving_away
        r_move = mv.per_year * person.factor(mv.multipliers) / PY
        total = r_death + r_move
        if total <= 0:
            return None
        yield self.env.timeout(rng.expovariate(total))
        if rng.random() * total < r_death:
            self._die(person)
        else:
            self._set_state(person, MOVED_AWAY)
        return None

    # ------------------------------------------------------------------ system processes

    def _policies(self) -> Any:
        from .policies import apply_policy

        for (day, scenario), policy in zip(self.phases[1:], self.policies, strict=True):
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            apply_policy(self, scenario, policy)

    def _hat_medicine(self) -> Any:
        """HAT medicine is bought for every place in blocks, filled or not."""
        env = self.env
        while True:
            hat = self.p.modalities.hat
            if hat.open and hat.places > 0:
                self.monitor.cost(
                    "hat_medicine", env.now, env.now,
                    hat.places * hat.medicine_block_days * hat.medicine_cost_per_place_per_day_gbp,
                )
            yield env.timeout(hat.medicine_block_days)

    def accrue_fixed_costs(self) -> None:
        """Book staff and HAT fixed costs from the last booking to now, at current rates."""
        now = self.env.now
        start = self._cost_mark
        if now <= start:
            return
        years = (now - start) / PY
        p = self.p
        self.monitor.cost("keyworkers", start, now,
                          p.keyworkers.staff * p.keyworkers.cost_per_worker_per_year_gbp * years)
        if p.modalities.hat.open:
            self.monitor.cost("hat_fixed", start, now,
                              p.modalities.hat.fixed_cost_per_year_gbp * years)
        other = sum(p.extra_costs_per_year_gbp.values())
        if other:
            self.monitor.cost("other", start, now, other * years)
        self._cost_mark = now

    def _snapshots(self) -> Any:
        """Record the state of the system at the end of every month."""
        env = self.env
        k = 0
        while True:
            k += 1
            day = k * 365.0 / 12
            if day > self.end_day + 1e-9:
                return
            yield env.timeout(day - env.now)
            self._snapshot(day)
            if k % 12 == 0:
                self._new_year()

    def _snapshot(self, day: float) -> None:
        now = self.env.now
        kw_area, kw_over, kw_peak = self.keyworkers.per_worker.read(now)
        beds_area = self.beds.occupancy.read(now)[0]
        hat_area = self.hat.occupancy.read(now)[0]
        rehab_area = self.rehab_places.occupancy.read(now)[0]
        tx_area = self.keyworkers.occupancy.read(now)[0]
        kw_wait_area = self.keyworkers.waiting.read(now)[0]
        snap: dict[str, Any] = {
            "day": day,
            **{name: self.monitor.counts[i] for i, name in enumerate(STATE_NAMES)},
            "caseload_per_worker": self.keyworkers.caseload(),
            "staff": self.keyworkers.staff,
            "keyworker_waiting": len(self.keyworkers.queue),
            "triage_waiting": len(self.triage.queue),
            "beds_occupied": self.beds.count,
            "beds": self.p.modalities.detox.inpatient_beds,
            "hat_occupied": self.hat.count,
            "hat_places": self.p.modalities.hat.places if self.p.modalities.hat.open else 0,
            "rehab_occupied": self.rehab_places.count,
            "rehab_budget_left_gbp": self.rehab_budget.remaining,
            "incidence_cum": self.monitor.incidence,
            "area_caseload_per_worker": kw_area,
            "days_caseload_over_40_cum": kw_over,
            "caseload_peak": kw_peak,
            "area_beds": beds_area,
            "area_hat": hat_area,
            "area_rehab": rehab_area,
            "area_in_treatment": tx_area,
            "area_keyworker_waiting": kw_wait_area,
        }
        naive = [person for person in self.using if not person.ever_treated]
        snap["treatment_naive"] = len(naive)
        snap["treatment_naive_ocu"] = sum(1 for person in naive if person.attrs["substance"] in OCU)
        for m in ("ost", "psychosocial", "hat", "detox", "detox_inpatient", "rehab"):
            snap[f"in_{m}"] = 0
        for person in self.in_treatment:
            if person.modality is not None:
                snap[f"in_{person.modality}"] += 1
        self.keyworkers.per_worker.reset_peak()
        self.monitor.snapshots.append(snap)
        self.accrue_fixed_costs()

    def _new_year(self) -> None:
        self.year += 1
        mon = self.monitor
        for person in self.in_treatment:
            person.tx_year = self.year
        mon.during_year["in_treatment"].append(len(self.in_treatment))
        ocu = 0
        for person in self.using:
            person.use_year = self.year
            ocu += person.attrs["substance"] in OCU
        mon.during_year["using"].append(len(self.using))
        mon.during_year["using_ocu"].append(ocu)

    def finish(self) -> Records:
        """Close open segments and costs at the current time and return the records."""
        now = self.env.now
        self.accrue_fixed_costs()
        # person-id order: the ledger's order, and so every float sum over it, must not
        # depend on where the people happen to sit in memory
        for person in sorted(self.in_treatment, key=_by_pid):
            if person.modality is not None and person.episode is not None:
                start = person.seg_start
                self.monitor.segments.append(
                    (person.pid, person.episode.episode, person.modality, start, now, "ongoing"))
                if person.seg_rate_gbp:
                    self.monitor.cost(person.modality, start, now,
                                      person.seg_rate_gbp * (now - start))
        mon = self.monitor
        return Records(
            horizon_days=self.scenario.run.horizon_days,
            end_day=now,
            warmup_years=self.scenario.run.warmup_years,
            years=self.scenario.run.years,
            initial_people=mon.initial_people,
            incidence=mon.incidence,
            episodes=mon.episodes,
            segments=mon.segments,
            deaths=mon.deaths,
            ledger=mon.ledger,
            snapshots=mon.snapshots,
            during_year=mon.during_year,
            transitions=mon.transitions,
            rehab_refusals=mon.rehab_refusals,
            policy_log=mon.policy_log,
            events=_event_count(self.env),
            final_states={n: mon.counts[i] for i, n in enumerate(STATE_NAMES)},
        )

    # ------------------------------------------------------------------ checks

    def audit(self) -> list[str]:
        """Consistency checks (used by tests): counters match people, nobody is lost."""
        problems = []
        tally = [0] * len(STATE_NAMES)
        for person in self.people:
            tally[person.state] += 1
        if tally != self.monitor.counts:
            problems.append(f"state counters {self.monitor.counts} != people {tally}")
        if len(self.people) != self.monitor.initial_people + self.monitor.incidence:
            problems.append("people created != initial + incidence")
        for person in self.people:
            if person.state in (DEAD, MOVED_AWAY):
                continue
            alive = person.process is not None and person.process.is_alive
            if not alive and person.state not in (COMMUNITY, RECOVERED):
                problems.append(f"person {person.pid} in {STATE_NAMES[person.state]} "
                                f"has no process")
        in_tx = sum(1 for p in self.people if p.state == IN_TREATMENT)
        if in_tx != self.keyworkers.count:
            problems.append(f"keyworker caseload {self.keyworkers.count} != in treatment {in_tx}")
        return problems


def _pick(rates: tuple[float, ...], u: float) -> int:
    """Index of the competing event that a uniform ``u`` in [0, sum(rates)) falls on."""
    last = 0
    for i, r in enumerate(rates):
        if r > 0:
            last = i
            u -= r
            if u < 0:
                return i
    return last


def _event_count(env: simpy.Environment) -> int:
    """Events scheduled so far (SimPy numbers every scheduled event)."""
    return next(env._eid)  # noqa: SLF001 - SimPy keeps no public counter


def simulate(scenario: Scenario, seed: int, replication: int) -> Records:
    """Run replication ``replication`` of ``scenario`` with base seed ``seed``."""
    return Model(scenario, Streams(seed, replication)).run()


__all__ = ["Model", "Records", "Transition", "simulate"]


def _by_pid(person: Person) -> int:
    """Sort key: a person's id (a stable order, unlike a set's)."""
    return person.pid
