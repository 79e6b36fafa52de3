"""The ``GraphStore`` port: where twins and their relationships live.

Domain code talks to this protocol only; ``graph/neo4j.py`` and ``graph/falkordb.py``
implement it with the same generated Cypher. The twin operations (create, patch,
relationships, subgraphs, bulk import) join this protocol with the twin-graph release;
what is here now is what start-up and analysts' read-only queries need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CypherResult:
    """The answer to a read-only Cypher query: column names and rows of plain values."""

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


class GraphStore(Protocol):
    """A twin graph engine that runs openCypher."""

    @property
    def backend(self) -> str:
        """A short name for logs and health checks, such as ``falkordb`` or ``neo4j``."""
        ...

    def ping(self) -> None:
        """Check the engine answers; raise ``BackendUnavailable`` when it does not."""
        ...

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        """Run ``query`` in the engine's read-only mode, so writes are refused by the engine."""
        ...

    def close(self) -> None:
        """Release connections (and stop an embedded engine)."""
        ...
