"""FMU reference nodes: the graph's side of an FMU, linked to the DTDL Interface it serves.

An FMU file lives on disk, content-addressed (``simulation.fmu.store``); the graph holds
one ``(:Fmu)`` node per FMU with its id, SHA-256, size, name, upload time and the
inspected description (variables, units, start values) as JSON text, and a ``SERVES``
edge to the ``(:Model)`` node of the Interface whose twins it simulates, so analysts can
ask which models have a physics model:

    MATCH (f:Fmu)-[:SERVES]->(m:Model) RETURN m.id, f.name, f.id

Every change is one statement.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graph.store import GraphStore
from ontology.errors import BadRequest, Conflict, NotFound

LABEL = "Fmu"
_FIELDS = "f.id, f.sha256, f.name, f.size, f.uploadedAt, f.description, m.id"
_CREATE = f"""
MATCH (m:Model {{id: $interface}}) WHERE NOT m:Twin
OPTIONAL MATCH (old:{LABEL} {{id: $props.id}})
WITH m, old WHERE old IS NULL
CREATE (f:{LABEL})
SET f = $props
CREATE (f)-[:SERVES]->(m)
RETURN {_FIELDS}
"""
_GET = f"MATCH (f:{LABEL} {{id: $id}})-[:SERVES]->(m:Model) RETURN {_FIELDS}"
_LIST = f"""
MATCH (f:{LABEL})-[:SERVES]->(m:Model)
WHERE $interface IS NULL OR m.id = $interface
RETURN {_FIELDS} ORDER BY f.uploadedAt, f.id
"""
_DELETE = f"MATCH (f:{LABEL} {{id: $id}}) DETACH DELETE f RETURN count(*) AS deleted"
_MODEL = "MATCH (m:Model {id: $id}) WHERE NOT m:Twin RETURN m.id"


@dataclass(frozen=True)
class FmuReference:
    """An FMU stored for an Interface: where its file is (``sha256``) and what it holds.

    ``description`` is the inspected ``modelDescription.xml`` as JSON
    (``simulation.fmu.archive.FmuDescription.to_dict``).
    """

    id: str
    sha256: str
    name: str
    size: int
    uploaded_at: str
    interface: str
    description: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "name": self.name,
            "size": self.size,
            "uploadedAt": self.uploaded_at,
            "interface": self.interface,
            **dict(self.description),
        }


class FmuNodes:
    """The ``Fmu`` reference nodes of one graph."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def ensure_schema(self) -> None:
        """Index ``Fmu.id`` (ids come from content hashes; the create statement checks them)."""
        if self.store.capabilities.index_if_not_exists:
            self.store.write(f"CREATE INDEX fmu_id IF NOT EXISTS FOR (f:{LABEL}) ON (f.id)")
            return
        try:
            self.store.write(f"CREATE INDEX FOR (f:{LABEL}) ON (f.id)")
        except BadRequest as exc:  # FalkorDB has no IF NOT EXISTS for indexes
            if "already indexed" not in exc.message:
                raise

    def create(self, reference: FmuReference) -> FmuReference:
        """Write the node and its ``SERVES`` edge in one statement.

        ``NotFound`` when the Interface is not a stored model; ``Conflict`` when the id is taken.
        """
        props = {
            "id": reference.id,
            "sha256": reference.sha256,
            "name": reference.name,
            "size": reference.size,
            "uploadedAt": reference.uploaded_at,
            "description": json.dumps(reference.description, separators=(",", ":"), sort_keys=True),
        }
        rows = self.store.write(_CREATE, {"interface": reference.interface, "props": props}).rows
        if rows:
            return _reference(rows[0])
        if not self.store.query_rows(_MODEL, {"id": reference.interface}):
            raise NotFound(
                f"model {reference.interface} does not exist; upload the Interface before its FMU",
                details={"dtmi": reference.interface},
            )
        raise Conflict(f"FMU {reference.id} is already stored", details={"fmu": reference.id})

    def get(self, fmu_id: str) -> FmuReference:
        rows = self.store.query_rows(_GET, {"id": fmu_id})
        if not rows:
            raise NotFound(f"FMU {fmu_id!r} does not exist", details={"fmu": fmu_id})
        return _reference(rows[0])

    def list(self, interface: str | None = None) -> builtins.list[FmuReference]:
        """Every FMU, oldest first, or those serving ``interface``."""
        return [_reference(r) for r in self.store.query_rows(_LIST, {"interface": interface})]

    def delete(self, fmu_id: str) -> None:
        rows = self.store.write(_DELETE, {"id": fmu_id}).rows
        if not rows or rows[0][0] == 0:
            raise NotFound(f"FMU {fmu_id!r} does not exist", details={"fmu": fmu_id})


def _reference(row: Sequence[Any]) -> FmuReference:
    fmu_id, sha256, name, size, uploaded_at, description, interface = row
    return FmuReference(
        id=str(fmu_id),
        sha256=str(sha256),
        name=str(name),
        size=int(size),
        uploaded_at=str(uploaded_at),
        interface=str(interface),
        description=json.loads(description),
    )
