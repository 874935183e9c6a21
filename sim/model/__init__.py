"""The SimPy model of a local drug treatment system, and nothing else: no file I/O."""

from .model import Model, simulate
from .records import (
    Death,
    Episode,
    LedgerEntry,
    PolicyChange,
    Records,
    Relapse,
    Segment,
    Transition,
)

__all__ = [
    "Death",
    "Episode",
    "LedgerEntry",
    "Model",
    "PolicyChange",
    "Records",
    "Relapse",
    "Segment",
    "Transition",
    "simulate",
]
