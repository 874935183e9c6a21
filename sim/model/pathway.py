"""Former home of the model, kept so that ``sim.model.pathway.Model`` still imports."""

from .model import Model, simulate
from .records import Records

__all__ = ["Model", "Records", "simulate"]
