"""Timed policies: new parameters from a date, and closing a service with its patients.

The scenario has already validated every policy into the full set of parameters in
force after it (:meth:`sim.scenario.Scenario.phases`); applying one here means
switching the model to those parameters, resizing the services whose capacity they
set, and, when a service closes, moving each of its patients by the transition plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..scenario import Policy, Scenario
from .people import draw_from

if TYPE_CHECKING:  # pragma: no cover
    from .pathway import Model


def apply_policy(model: Model, new: Scenario, policy: Policy) -> None:
    """Switch ``model`` to the parameters ``new`` on the policy's date."""
    old = model.p
    model.accrue_fixed_costs()  # staff and HAT fixed costs up to today at the old rates
    model.p = new
    for person in model.people:  # multiplier tables changed: forget cached factors
        person.cache.clear()
    kw = new.keyworkers
    model.keyworkers.configure(kw.mode, kw.staff, kw.caseload_cap)
    model.beds.set_capacity(new.modalities.detox.inpatient_beds)
    hat = new.modalities.hat
    model.hat.set_capacity(hat.places if hat.open else 0)
    old_budget = old.modalities.rehab.budget_per_year_gbp
    new_budget = new.modalities.rehab.budget_per_year_gbp
    if new_budget != old_budget:
        model.rehab_budget.adjust(old_budget, new_budget)
    model.monitor.policy_log.append((model.env.now, policy.note or _summary(policy)))
    if policy.close:
        close_service(model, policy.close, policy.transition or {})


def close_service(model: Model, service: str, plan: dict[str, float]) -> None:
    """Move everyone in ``service`` to a target drawn from ``plan`` (shares summing to 1).

    Each person draws their target from their own stream. Rehab placements named by the
    plan are funded whatever the budget says: the plan has committed them.
    """
    now = model.env.now
    for person in sorted(model.occupants[service], key=lambda p: p.pid):
        target = draw_from(plan, person.rng.random())
        model.monitor.transitions.append((now, person.pid, service, target))
        person.process.interrupt("rehab_funded" if target == "rehab" else target)


def _summary(policy: Policy) -> str:
    parts = [f"{k} = {v}" for k, v in policy.set.items()]
    if policy.close:
        parts.append(f"close {policy.close}")
    if policy.open:
        parts.append(f"open {policy.open}")
    return "; ".join(parts)
