"""Timed policies: new parameters from a date, and closing a service with its patients.

The scenario has already validated every policy into the full set of parameters in
force after it (:meth:`sim.scenario.Scenario.phases`); applying one here means putting
those parameters in force in the world (which resizes the services whose capacity they
set) and, when a service closes, moving each of its patients by the transition plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..scenario import Policy, Scenario
from .hazards import draw_from
from .kernel import clock
from .outcomes import REHAB, REHAB_FUNDED
from .records import PolicyChange, Transition
from .world import World


def apply_policy(world: World, new: Scenario, policy: Policy) -> None:
    """Put the parameters ``new`` in force in ``world`` on the policy's date (now)."""
    world.apply_parameters(new)
    world.monitor.policy_log.append(PolicyChange(day=clock(world.env),
                                                 note=policy.note or summary(policy)))
    if policy.close:
        close_service(world, policy.close, policy.transition or {})


def close_service(world: World, service: str, plan: Mapping[str, float]) -> None:
    """Move everyone in ``service`` to a target drawn from ``plan`` (shares summing to 1).

    Each person, in id order, draws their target from their own stream. Rehab placements
    named by the plan are funded whatever the budget says: the plan has committed them.
    """
    now = clock(world.env)
    for person in sorted(world.occupants[service], key=lambda person: person.pid):
        target = draw_from(plan, person.rng.random())
        world.monitor.transitions.append(Transition(day=now, pid=person.pid, service=service,
                                                    target=target))
        person.interrupt(REHAB_FUNDED if target == REHAB else target)


def summary(policy: Policy) -> str:
    """What ``policy`` does, in one line (its note when it has none)."""
    parts = [f"{key} = {value}" for key, value in policy.set.items()]
    if policy.close:
        parts.append(f"close {policy.close}")
    if policy.open:
        parts.append(f"open {policy.open}")
    return "; ".join(parts)
