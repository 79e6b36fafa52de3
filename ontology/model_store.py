"""The ``ModelStore`` port: where the registry keeps the DTDL documents it accepted.

The registry owns the rules (parse against what is registered, refuse duplicates,
refuse deleting what is still used); a store only remembers documents. ``graph/``
implements this protocol by keeping each model as a node of the twin graph, so models
and twins live and are backed up together; :class:`InMemoryModelStore` serves unit
tests and the embedded profile's start-up before a graph is attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from ontology.errors import Conflict, NotFound


@dataclass(frozen=True)
class StoredModel:
    """One uploaded top-level Interface document, as the store keeps it.

    ``document`` is the JSON-LD object exactly as uploaded (one element of an uploaded
    array becomes one stored model), so that ``get`` gives back what the modeler wrote.
    """

    dtmi: str
    document: dict[str, Any]
    uploaded_at: datetime
    decommissioned: bool = False


class ModelStore(Protocol):
    """Durable storage of model documents, keyed by DTMI."""

    def add(self, models: Sequence[StoredModel]) -> None:
        """Store every model of one upload, or none: raise ``Conflict`` if any DTMI is taken."""
        ...

    def get(self, dtmi: str) -> StoredModel | None:
        """The stored model ``dtmi``, or None."""
        ...

    def list(self) -> list[StoredModel]:
        """Every stored model, in upload order (a model comes after those it was parsed against)."""
        ...

    def set_decommissioned(self, dtmi: str, decommissioned: bool) -> None:
        """Flag model ``dtmi``; raise ``NotFound`` if it is not stored."""
        ...

    def delete(self, dtmi: str) -> None:
        """Forget model ``dtmi``; raise ``NotFound`` if it is not stored."""
        ...


class InMemoryModelStore:
    """A :class:`ModelStore` in a dictionary: for unit tests and throw-away twins."""

    def __init__(self) -> None:
        self._models: dict[str, StoredModel] = {}

    def add(self, models: Sequence[StoredModel]) -> None:
        taken = sorted(m.dtmi for m in models if m.dtmi in self._models)
        if taken:
            raise Conflict(f"model {taken[0]} already exists", details={"dtmis": taken})
        for model in models:
            self._models[model.dtmi] = model

    def get(self, dtmi: str) -> StoredModel | None:
        return self._models.get(dtmi)

    def list(self) -> list[StoredModel]:
        return list(self._models.values())

    def set_decommissioned(self, dtmi: str, decommissioned: bool) -> None:
        self._models[dtmi] = replace(self._stored(dtmi), decommissioned=decommissioned)

    def delete(self, dtmi: str) -> None:
        self._stored(dtmi)
        del self._models[dtmi]

    def _stored(self, dtmi: str) -> StoredModel:
        found = self._models.get(dtmi)
        if found is None:
            raise NotFound(f"model {dtmi} does not exist", details={"dtmi": dtmi})
        return found
