"""Neo4j through the official driver (with ``neo4j-rust-ext``): the production graph engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo4j
from neo4j.exceptions import AuthError, ClientError, Neo4jError, ServiceUnavailable

from graph.store import CypherResult
from ontology.errors import BackendUnavailable, BadRequest


class Neo4jGraphStore:
    """The twin graph in a Neo4j 5 server, reached over Bolt."""

    backend = "neo4j"

    def __init__(
        self, uri: str, user: str | None = None, password: str | None = None, database: str | None = None
    ) -> None:
        auth = (user, password or "") if user else None
        self._driver = neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=5.0)
        self._database = database
        self.uri = uri

    def ping(self) -> None:
        try:
            self._driver.verify_connectivity()
        except (ServiceUnavailable, AuthError, Neo4jError, OSError) as exc:
            raise BackendUnavailable("neo4j", f"{self.uri}: {exc}") from exc

    def read(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        try:
            with self._driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                result = session.run(query, dict(params or {}))
                columns = list(result.keys())
                rows = [list(record.values()) for record in result]
        except ClientError as exc:
            raise BadRequest(f"Cypher query failed: {exc.message}") from exc
        except (ServiceUnavailable, Neo4jError) as exc:
            raise BackendUnavailable("neo4j", str(exc)) from exc
        return CypherResult(columns=columns, rows=rows)

    def close(self) -> None:
        self._driver.close()
