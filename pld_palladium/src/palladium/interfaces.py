"""``palladium.interfaces``: the base classes Palladium users' components subclass.

They are pld's own interfaces, so a subclass is a pld component like any other.
"""

from __future__ import annotations

from pld_core import (
    CrossValidationGenerator,
    DatasetLoader,
    Model,
    ModelPersister,
    PredictError,
    PredictService,
    annotate,
)

__all__ = [
    "CrossValidationGenerator",
    "DatasetLoader",
    "Model",
    "ModelPersister",
    "PredictError",
    "PredictService",
    "annotate",
]
