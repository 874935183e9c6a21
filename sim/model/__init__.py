"""The SimPy model of a local drug treatment system, and nothing else: no file I/O."""

from .monitor import Records
from .pathway import Model, simulate

__all__ = ["Model", "Records", "simulate"]
