"""Neo4j through the official driver (with ``neo4j-rust-ext``): the production graph engine.

Analysts' queries run in a READ access-mode session (the server refuses writes with
``Neo.ClientError.Statement.AccessMode``) and a transaction timeout; the twin
operations run in explicit write transactions, retried on transient errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import neo4j
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConstraintError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from neo4j.graph import Node, Path, Relationship
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from graph.cypher import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    PLAN_COLUMNS,
    GraphEdge,
    GraphNode,
    GraphPath,
    check_limits,
    check_params,
    is_explain,
    render_rows,
)
from graph.errors import CypherWriteRefused, QueryTimeout
from graph.store import CypherResult, GraphCapabilities, Statement
from ontology.errors import BackendUnavailable, BadRequest, Conflict

_ACCESS_MODE = "Neo.ClientError.Statement.AccessMode"
_TIMEOUT_CODES = frozenset(
    {
        "Neo.ClientError.Transaction.TransactionTimedOut",
        "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
    }
)
# Neo4j checks ``IF NOT EXISTS`` when a schema statement starts, not when it commits: when two
# processes start together (two API replicas, an API and an ingest), both create the same
# index or constraint and the later commit fails with one of these, though what it asked
# for exists. For an ``IF NOT EXISTS`` statement that is success.
_SCHEMA_EXISTS = frozenset(
    {
        "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
        "Neo.ClientError.Schema.IndexAlreadyExists",
        "Neo.ClientError.Schema.ConstraintAlreadyExists",
    }
)

_SCHEMA = (
    "CREATE CONSTRAINT twin_id IF NOT EXISTS FOR (t:Twin) REQUIRE t.id IS UNIQUE",
    "CREATE CONSTRAINT model_id IF NOT EXISTS FOR (m:Model) REQUIRE m.id IS UNIQUE",
    # The one bookkeeping node of graph/_version.py: concurrent MERGEs must not make two.
    "CREATE CONSTRAINT kgtwin_meta_id IF NOT EXISTS FOR (m:KgtwinMeta) REQUIRE m.id IS UNIQUE",
)


class Neo4jGraphStore:
    """The twin graph in a Neo4j 5 server, reached over Bolt."""

    backend = "neo4j"
    capabilities = GraphCapabilities(
        ordered_index=True, exact_floats=True, index_if_not_exists=True, utf16_string_compare=True
    )

    def __init__(
        self, uri: str, user: str | None = None, password: str | None = None, database: str | None = None
    ) -> None:
        auth = (user, password or "") if user else None
        self._driver = neo4j.GraphDatabase.driver(
            uri,
            auth=auth,
            connection_timeout=5.0,
            # A twin graph reads properties, labels and relationship types that no twin has
            # yet (a latest value before its first point, a relationship no twin holds):
            # Neo4j would warn of each on every such query, and the driver log each warning.
            notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
        )
        self._database = database
        self.uri = uri

    def ping(self) -> None:
        try:
            self._driver.verify_connectivity()
        except (ServiceUnavailable, AuthError, Neo4jError, OSError) as exc:
            raise BackendUnavailable("neo4j", f"{self.uri}: {exc}") from exc

    def read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        check_limits(timeout_s, max_rows)
        check_params(params)
        truncated = False
        try:
            with self._driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                result = session.run(neo4j.Query(query, timeout=timeout_s), dict(params or {}))
                columns = list(result.keys())
                rows: list[list[Any]] = []
                for record in result:
                    if len(rows) == max_rows:
                        truncated = True
                        break
                    rows.append([_neutral(v) for v in record.values()])
                # Past the cap the server discards the rest instead of streaming it.
                summary = result.consume()
                if is_explain(query):
                    lines = _plan_lines(summary.plan)
                    return CypherResult(columns=list(PLAN_COLUMNS), rows=[[line] for line in lines])
                rendered = render_rows(rows, lambda keys: self._twin_ids(session, keys))
        except ClientError as exc:
            raise _query_error(exc, timeout_s) from exc
        except (ServiceUnavailable, SessionExpired, Neo4jError) as exc:
            raise BackendUnavailable("neo4j", str(exc)) from exc
        return CypherResult(columns=columns, rows=rendered, truncated=truncated)

    def analyst_read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        # Neo4j takes no locks for reads: a running query never holds up a writer.
        return self.read(query, params, timeout_s=timeout_s, max_rows=max_rows)

    def query_rows(
        self, query: str, params: Mapping[str, Any] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> list[list[Any]]:
        check_limits(timeout_s, 1)
        check_params(params)
        try:
            # The caller wants every row: one PULL of all of them saves a round trip per 1,000.
            with self._driver.session(
                database=self._database, default_access_mode=neo4j.READ_ACCESS, fetch_size=-1
            ) as session:
                result = session.run(neo4j.Query(query, timeout=timeout_s), dict(params or {}))
                rows: list[list[Any]] = result.values()
        except ClientError as exc:
            raise _query_error(exc, timeout_s) from exc
        except (ServiceUnavailable, SessionExpired, Neo4jError) as exc:
            raise BackendUnavailable("neo4j", str(exc)) from exc
        return rows

    @staticmethod
    def _twin_ids(session: neo4j.Session, keys: list[Any]) -> dict[Any, Any]:
        result = session.run(
            "MATCH (n) WHERE elementId(n) IN $keys RETURN elementId(n), n.id", {"keys": keys}
        )
        return {record[0]: record[1] for record in result}

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        return self.send(self.prepare(query, params))

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        check_params(params)
        return Statement(query, dict(params or {}))

    def send(self, statement: Statement) -> CypherResult:
        try:
            columns, rows = self._write(statement.query, statement.params)
        except ConstraintError as exc:
            raise Conflict(f"an id is already taken: {exc.message}") from exc
        except ClientError as exc:
            if _created_meanwhile(exc, statement.query):
                return CypherResult(columns=[])
            raise BadRequest(f"Cypher query failed: {exc.message}") from exc
        except Neo4jError as exc:
            raise BackendUnavailable("neo4j", str(exc)) from exc
        except (ServiceUnavailable, SessionExpired) as exc:
            raise BackendUnavailable("neo4j", str(exc)) from exc
        return CypherResult(columns=columns, rows=render_rows(rows, lambda keys: {}))

    @retry(
        retry=retry_if_exception_type((TransientError, ServiceUnavailable, SessionExpired)),
        stop=stop_after_attempt(5),
        wait=wait_exponential(multiplier=0.05, max=2.0),
        reraise=True,
    )
    def _write(self, query: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        with (
            self._driver.session(database=self._database, default_access_mode=neo4j.WRITE_ACCESS) as session,
            session.begin_transaction() as tx,
        ):
            result = tx.run(query, params)
            columns = list(result.keys())
            rows = [[_neutral(v) for v in record.values()] for record in result]
            tx.commit()
        return columns, rows

    def ensure_schema(self) -> None:
        try:
            for statement in _SCHEMA:
                try:
                    self._driver.execute_query(statement, database_=self._database)
                except ClientError as exc:
                    if not _created_meanwhile(exc, statement):
                        raise
        except (Neo4jError, ServiceUnavailable) as exc:
            raise BackendUnavailable("neo4j", f"cannot create the id constraints: {exc}") from exc

    def close(self) -> None:
        self._driver.close()


def _created_meanwhile(exc: ClientError, query: str) -> bool:
    """An ``IF NOT EXISTS`` schema statement that lost a race to an identical one (see ``_SCHEMA_EXISTS``)."""
    return exc.code in _SCHEMA_EXISTS and "IF NOT EXISTS" in query.upper()


def _query_error(exc: ClientError, timeout_s: float) -> Exception:
    message = exc.message or str(exc)
    if exc.code == _ACCESS_MODE:
        return CypherWriteRefused(f"read-only query refused a write: {message}")
    if exc.code in _TIMEOUT_CODES:
        return QueryTimeout(timeout_s, message)
    return BadRequest(f"Cypher query failed: {message}")


def _plan_lines(plan: Mapping[str, Any] | None, depth: int = 0) -> list[str]:
    """Neo4j's plan tree as FalkorDB lays it out: one operator a line, children indented."""
    if not plan:
        return []
    operator = str(plan.get("operatorType", "")).split("@", 1)[0]
    details = str(plan.get("args", {}).get("Details", ""))
    lines = ["    " * depth + operator + (f" | {details}" if details else "")]
    for child in plan.get("children", []):
        lines += _plan_lines(child, depth + 1)
    return lines


def _neutral(value: Any) -> Any:
    """A driver value as plain data: graph objects to ``graph.cypher``'s types, temporals to ISO 8601."""
    if isinstance(value, Node):
        return _node(value)
    if isinstance(value, Relationship):
        return _edge(value)
    if isinstance(value, Path):
        return GraphPath(tuple(_node(n) for n in value.nodes), tuple(_edge(r) for r in value.relationships))
    if isinstance(value, list):
        return [_neutral(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _neutral(v) for k, v in value.items()}
    iso = getattr(value, "iso_format", None)
    if callable(iso):
        return iso()
    return value


def _node(node: Node) -> GraphNode:
    return GraphNode(node.element_id, tuple(node.labels), dict(node.items()))


def _edge(rel: Relationship) -> GraphEdge:
    start = rel.start_node.element_id if rel.start_node is not None else None
    end = rel.end_node.element_id if rel.end_node is not None else None
    return GraphEdge(rel.element_id, str(rel.type), start, end, dict(rel.items()))
