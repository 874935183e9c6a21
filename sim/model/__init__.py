"""The SimPy model of a local drug treatment system, and nothing else: no file I/O.

Its modules are compiled by mypyc when the package is installed; :mod:`sim.native`
decides, before they are imported, whether the compiled modules or their sources run.
"""

from pathlib import Path

from ..native import choose_build

BUILD = choose_build(__name__, Path(__file__).parent)
"""The build that runs: ``"compiled (mypyc)"``, or ``"pure Python (...)"`` with the reason."""

from .model import Model, simulate  # noqa: E402 - after the build is chosen
from .records import (  # noqa: E402 - after the build is chosen
    Death,
    Episode,
    LedgerEntry,
    PolicyChange,
    Records,
    Relapse,
    Segment,
    Table,
    Transition,
    table_of,
)

__all__ = [
    "BUILD",
    "Death",
    "Episode",
    "LedgerEntry",
    "Model",
    "PolicyChange",
    "Records",
    "Relapse",
    "Segment",
    "Table",
    "Transition",
    "simulate",
    "table_of",
]
