"""Golden tables: two replications of the example scenario must give, byte for byte, the
CSV tables recorded in ``tests/data/golden/``. A change that moves a random draw, reorders
an event or rounds differently fails here loudly; a change meant to alter behaviour
records new tables (``python tests/test_golden.py --update``) and says in its commit
which figures moved and why. Parquet is compared through its CSV: its bytes carry the
writing library's version."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "golden"
SEED, REPS = 1, 2
POLICIES = [
    {"date": "2026-04-01", "note": "cap", "set": {"keyworkers.mode": "queue",
                                                   "keyworkers.caseload_cap": 40}},
    {"date": "2027-01-01", "note": "end HAT", "close": "hat",
     "transition": {"detox": 0.2, "rehab": 0.2, "ost_long_acting": 0.6}},
]
"""The example with a caseload cap and the end of HAT, so that policies, queues,
closures and transitions are frozen too."""


def _tables() -> dict[str, bytes]:
    from helpers import scenario

    from sim.execute.runner import run

    out = {}
    for label, sc in (("", scenario()), ("policies_", scenario({"policies": POLICIES}))):
        results = run(sc, reps=REPS, seed=SEED)
        out.update({f"{label}{name}": df.to_csv(index=False).encode()
                    for name, df in results.tables().items()})
    return out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def tables() -> dict[str, bytes]:
    return _tables()


@pytest.mark.parametrize("name", [f"{label}{table}" for label in ("", "policies_")
                                  for table in ("people", "yearly", "timeseries", "summary")])
def test_example_tables_are_byte_equal_to_the_golden_ones(tables, name):
    recorded = json.loads((GOLDEN / "example.json").read_text())
    if name.endswith(("yearly", "summary")):  # kept whole, so a failure shows which figure moved
        assert tables[name].decode() == (GOLDEN / f"example_{name}.csv").read_text()
    assert _digest(tables[name]) == recorded[name]


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    sys.path.insert(0, str(HERE))
    fresh = _tables()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for kept in ("yearly", "summary", "policies_yearly", "policies_summary"):
        (GOLDEN / f"example_{kept}.csv").write_bytes(fresh[kept])
    (GOLDEN / "example.json").write_text(
        json.dumps({k: _digest(v) for k, v in fresh.items()}, indent=2) + "\n")
    print(f"recorded {', '.join(sorted(fresh))} in {GOLDEN}")
