"""The monthly snapshot: the state of the system at the end of a model month."""

from __future__ import annotations

from typing import Any

from .kernel import clock
from .people import STATE_NAMES
from .world import World


def snapshot(world: World, day: float) -> dict[str, Any]:
    """The state of the system at the end of the month ending on ``day``: counts,
    waiting lists, occupancy, and the time integrals (``area_*``, level x days) so far.
    Starts a new period for the caseload peak."""
    now = clock(world.env)
    keyworkers = world.keyworkers
    kw_area, kw_over, kw_peak = keyworkers.per_worker.read(now)
    params = world.parameters
    snap: dict[str, Any] = {
        "day": day,
        **{name: world.monitor.counts[i] for i, name in enumerate(STATE_NAMES)},
        "caseload_per_worker": keyworkers.caseload(),
        "staff": keyworkers.staff,
        "keyworker_waiting": len(keyworkers.queue),
        "triage_waiting": len(world.triage.queue),
        "beds_occupied": world.beds.count,
        "beds": params.modalities.detox.inpatient_beds,
        "hat_occupied": world.hat.count,
        "hat_places": params.modalities.hat.places if params.modalities.hat.open else 0,
        "rehab_occupied": world.rehab_places.count,
        "rehab_budget_left_gbp": world.rehab_budget.remaining,
        "incidence_cum": world.monitor.incidence,
        "area_caseload_per_worker": kw_area,
        "days_caseload_over_40_cum": kw_over,
        "caseload_peak": kw_peak,
        "area_beds": world.beds.occupancy.read(now)[0],
        "area_hat": world.hat.occupancy.read(now)[0],
        "area_rehab": world.rehab_places.occupancy.read(now)[0],
        "area_in_treatment": keyworkers.occupancy.read(now)[0],
        "area_keyworker_waiting": keyworkers.waiting.read(now)[0],
    }
    snap["treatment_naive"], snap["treatment_naive_ocu"] = world.naive_using
    for modality, count in world.in_modality.items():
        snap[f"in_{modality}"] = count
    keyworkers.per_worker.reset_peak()
    return snap
