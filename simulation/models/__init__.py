"""The simulation models, found by name.

A model is a module ``simulation/models/<name>.py`` whose ``MODEL`` object follows the
:class:`SimulationModel` protocol. :func:`get_model` imports the module the first time its
name is asked for, so adding a model is adding its module: no list to edit. Modules whose
name starts with ``_`` are helpers, never models.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from ontology.errors import ValidationFailed
from simulation.models._base import Replication, SimulationModel

__all__ = ["Replication", "SimulationModel", "available_models", "get_model"]


def available_models() -> list[str]:
    """Names of every model module in this package, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get_model(name: str) -> SimulationModel[Any]:
    """The model called ``name``; ``ValidationFailed`` naming the known ones if there is none."""
    known = available_models()
    if name not in known:
        raise ValidationFailed(
            f"unknown simulation model {name!r}; known models: {', '.join(known)}",
            details={"model": name, "known": known},
        )
    module = importlib.import_module(f"{__name__}.{name}")
    model: SimulationModel[Any] = module.MODEL
    return model
