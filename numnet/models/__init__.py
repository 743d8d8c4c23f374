"""Models: `Model` (Functional and subclassed), `Sequential`, and model utilities."""

from numnet.models.model import Model
from numnet.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
