"""The model registry: the Interfaces a twin graph may instantiate, and their life cycle.

Models arrive in batches that are accepted whole or not at all, parsed against what
is already registered (so a batch may extend or use models uploaded before). A DTMI
is immutable once registered: a changed model is a new version (``dtmi:x:Pump;2``
next to ``;1``), and ``evolution_report`` says what moving twins between versions
would cost. A model is retired in two steps, as in Azure Digital Twins: decommission
(existing twins keep it, no new twin may use it), then delete once nothing uses it.

The registry keeps the parsed :class:`ModelSet` in memory and the documents in a
:class:`ModelStore`; on start-up it parses everything the store holds in one batch.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ontology._json import JsonProblem, decode_json
from ontology._nodes import Node
from ontology._semantics import root_of
from ontology.errors import Conflict, NotFound
from ontology.evolution import EvolutionReport, evolution_report
from ontology.model import Interface, ModelSet
from ontology.model_store import ModelStore, StoredModel
from ontology.parser import Document, parse
from ontology.policy import DEFAULT_POLICY, DtdlPolicy
from ontology.resolved import ResolvedModel

TwinCount = Callable[[str], int]
"""How many twins (or relationships) use Interface ``dtmi``: the graph answers it."""


def _now() -> datetime:
    return datetime.now(UTC)


class ModelRegistry:
    """Registered DTDL models: upload, read, resolve, decommission, delete, compare versions."""

    def __init__(
        self,
        store: ModelStore,
        *,
        policy: DtdlPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = _now,
        version: Callable[[], str | None] | None = None,
    ) -> None:
        """``version`` reads a token the store renews on every change, by any process
        (``GraphModelStore.version``): with it, a miss reloads the models when the token
        moved, so a model uploaded through another process is known at once (:meth:`knows`).
        """
        self._store = store
        self._policy = policy
        self._clock = clock
        self._version = version
        self._token: str | None = None
        self._lock = threading.Lock()
        self._models = ModelSet({})
        self._requires: dict[str, frozenset[str]] = {}
        # Kept in memory like the models: ensure_instantiable is on the path of every twin creation.
        self._decommissioned: frozenset[str] = frozenset()
        self._reload()

    @property
    def models(self) -> ModelSet:
        """Every registered Interface, decommissioned ones included (their twins still validate)."""
        return self._models

    def knows(self, dtmi: str) -> bool:
        """Whether Interface ``dtmi`` is registered, looking again when it is not held.

        The models are kept in memory; another process (an API replica, an import) may
        have registered ``dtmi`` a moment ago. On a miss the store's version token is read
        (one index seek) and the models reloaded when it moved: read your writes, across
        processes, at the cost of a read per miss.
        """
        if dtmi in self._models:
            return True
        return self.refresh() and dtmi in self._models

    def refresh(self) -> bool:
        """Reload the models if the store's token moved since they were loaded; whether it did."""
        if self._version is None:
            return False
        with self._lock:
            if self._version() == self._token:
                return False
            self._reload()
            return True

    def upload(self, documents: Sequence[Document]) -> list[StoredModel]:
        """Register a batch of DTDL documents, all or none.

        Raises ``Conflict`` if a top-level DTMI is already registered (a DTMI never
        changes meaning: upload a new version instead) and ``ModelError`` listing every
        violation if the batch does not parse against the registered models.
        """
        tops = _top_level(documents)
        self.refresh()  # a batch may extend a model another process uploaded a moment ago
        with self._lock:
            taken = sorted(d for d in tops if self._store.get(d) is not None)
            if taken:
                raise Conflict(
                    f"model {taken[0]} already exists; upload a new version instead",
                    details={"dtmis": taken},
                )
            parsed = parse(documents, policy=self._policy, known=self._models)
            at = self._clock()
            stored = [StoredModel(dtmi, doc, at) for dtmi, doc in tops.items()]
            self._store.add(stored)
            self._models = self._models.merged(parsed)
            self._requires = _requirements(self._models)
        return stored

    def get(self, dtmi: str, *, include_dependencies: bool = False) -> list[StoredModel]:
        """Model ``dtmi`` first, then (if asked) every model it needs to parse, transitively."""
        found = [self._stored(dtmi)]
        if include_dependencies:
            found.extend(self._stored(d) for d in self._closure([dtmi]) if d != dtmi)
        return found

    def list(
        self, *, include_decommissioned: bool = True, dependencies_for: Iterable[str] | None = None
    ) -> list[StoredModel]:
        """Registered models in upload order; only ``dependencies_for`` and what they need, if given."""
        models = self._store.list()
        if dependencies_for is not None:
            asked = [self._interface(d).dtmi for d in dependencies_for]
            wanted = self._closure(asked)
            models = [m for m in models if m.dtmi in wanted]
        return [m for m in models if include_decommissioned or not m.decommissioned]

    def versions(self, dtmi: str) -> builtins.list[str]:
        """Every registered version of the DTMI path of ``dtmi`` (with or without ``;n``), oldest first."""
        path = dtmi.split(";", 1)[0]
        found = [d for d in self._models if d.split(";", 1)[0] == path]
        return sorted(found, key=_version)

    def resolve(self, dtmi: str) -> ResolvedModel:
        """The flattened Interface ``dtmi``: inherited contents, ancestors, schemas written out."""
        iface = self._interface(dtmi)
        return ResolvedModel(
            interface=iface,
            ancestors=tuple(self._models[a] for a in iface.ancestors if a in self._models),
            decommissioned=_owner(self._models, dtmi) in self._decommissioned,
        )

    def ensure_instantiable(self, dtmi: str) -> Interface:
        """The Interface a new twin of ``dtmi`` follows; ``Conflict`` if it is decommissioned."""
        iface = self._interface(dtmi)
        if _owner(self._models, dtmi) in self._decommissioned:
            raise Conflict(
                f"model {dtmi} is decommissioned: no new twin may use it",
                details={"dtmi": dtmi, "reason": "DECOMMISSIONED"},
            )
        return iface

    def decommission(self, dtmi: str) -> StoredModel:
        """Forbid new twins of ``dtmi``; existing twins keep it. Irreversible, as in Azure Digital Twins."""
        with self._lock:
            self._stored(dtmi)
            self._store.set_decommissioned(dtmi, True)
            self._decommissioned |= {dtmi}
            return self._stored(dtmi)

    def delete(self, dtmi: str, *, twin_count: TwinCount) -> None:
        """Forget model ``dtmi``; ``Conflict`` while twins use it or other models need it.

        ``twin_count`` asks the twin graph how many twins are of Interface ``dtmi``
        (every Interface of the document counts, for a document that defines several).
        """
        with self._lock:
            self._stored(dtmi)
            dependents = sorted(d for d, needs in self._requires.items() if dtmi in needs and d != dtmi)
            if dependents:
                raise Conflict(
                    f"model {dtmi} is extended or used by {', '.join(dependents)}",
                    details={"dtmi": dtmi, "reason": "MODEL_IN_USE", "dependents": dependents},
                )
            defined = [d for d in self._models if _owner(self._models, d) == dtmi]
            twins = sum(twin_count(d) for d in defined)
            if twins:
                raise Conflict(
                    f"model {dtmi} is used by {twins} twin(s)",
                    details={"dtmi": dtmi, "reason": "TWINS_EXIST", "twins": twins},
                )
            self._store.delete(dtmi)
            self._reload()

    def evolution_report(
        self, old_dtmi: str, new_dtmi: str, twins: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> EvolutionReport:
        """Whether each ``(twin_id, properties)`` of ``old_dtmi`` would validate against ``new_dtmi``."""
        self._interface(old_dtmi)
        self._interface(new_dtmi)
        return evolution_report(self._models, old_dtmi, new_dtmi, twins)

    def reload(self) -> None:
        """Read every model from the store again: another process may have changed them."""
        with self._lock:
            self._reload()

    def _reload(self) -> None:
        """Parse everything the store holds, in one batch (stored models were valid together)."""
        if self._version is not None:
            self._token = self._version()  # before reading: a change meanwhile moves it again
        stored = self._store.list()
        self._models = parse([m.document for m in stored], policy=self._policy)
        self._decommissioned = frozenset(m.dtmi for m in stored if m.decommissioned)
        self._requires = _requirements(self._models)

    def _stored(self, dtmi: str) -> StoredModel:
        found = self._store.get(dtmi)
        if found is None:
            raise NotFound(f"model {dtmi} does not exist", details={"dtmi": dtmi})
        return found

    def _interface(self, dtmi: str) -> Interface:
        found = self._models.get(dtmi)
        if found is None and self.refresh():
            found = self._models.get(dtmi)
        if found is None:
            raise NotFound(f"model {dtmi} does not exist", details={"dtmi": dtmi})
        return found

    def _closure(self, dtmis: Iterable[str]) -> set[str]:
        """The stored models ``dtmis`` and everything they need, transitively (iterative: deep chains)."""
        seen: set[str] = set()
        stack = [_owner(self._models, d) for d in dtmis]
        while stack:
            dtmi = stack.pop()
            if dtmi not in seen:
                seen.add(dtmi)
                stack.extend(self._requires.get(dtmi, ()))
        return seen


def _version(dtmi: str) -> tuple[int, ...]:
    """The version of a DTMI as numbers: ``;2`` is (2,), v3's ``;1.10`` is (1, 10), none is ()."""
    _, _, version = dtmi.partition(";")
    return tuple(int(part) for part in version.split(".")) if version else ()


def _top_level(documents: Sequence[Document]) -> dict[str, dict[str, Any]]:
    """The top-level JSON objects of a batch by ``@id``; what is malformed is left to the parser to report."""
    found: dict[str, dict[str, Any]] = {}
    for doc in documents:
        value: Any = doc
        if isinstance(doc, str | bytes):
            try:
                value = decode_json(doc)
            except JsonProblem:
                continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and isinstance(item.get("@id"), str):
                found.setdefault(item["@id"], item)
    return found


def _owner(models: ModelSet, dtmi: str) -> str:
    """The top-level (stored) DTMI of the document that defines Interface ``dtmi``."""
    node = models.elements.get(dtmi)
    return root_of(node).id if isinstance(node, Node) else dtmi


def _requirements(models: ModelSet) -> dict[str, frozenset[str]]:
    """For each stored model, the other stored models it needs to parse: extends and Component schemas."""
    needs: dict[str, set[str]] = {}
    for dtmi, iface in models.items():
        owner = _owner(models, dtmi)
        refs = [*iface.extends, *(c.schema for c in iface.components.values())]
        needs.setdefault(owner, set()).update(_owner(models, r) for r in refs)
    return {d: frozenset(n - {d}) for d, n in needs.items()}
