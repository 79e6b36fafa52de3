"""The ``GraphStore`` port: where twins and their relationships live.

Domain code talks to this protocol only; ``graph/neo4j.py`` and ``graph/falkordb.py``
implement it with the same generated Cypher. ``read`` runs read-only Cypher (the engine's
read-only mode, a time budget, a row cap), and ``analyst_read`` the same for analysts'
queries, where they cannot hold up writers; ``write`` runs one statement of the twin
operations (``graph/twins.py``) in a transaction, retried on transient failures.
``query_rows`` is kgtwin's own lean read path (walks, search, subgraphs): the same
read-only mode and time budget as ``read``, but plain driver rows with no JSON rendering.
``prepare`` and ``send`` split ``write`` in two, so that a bulk import checks and encodes
its next statements while a writer thread sends earlier ones (``graph._import_pipeline``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class CypherResult:
    """The answer to a Cypher query: column names and rows of JSON values.

    Nodes, relationships and paths are rendered as ``graph.cypher`` describes.
    ``truncated`` is true when the query had more rows than ``max_rows``: the rows are
    then the first ``max_rows`` ones.
    """

    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    """A write statement checked and encoded for one engine (``GraphStore.prepare``), ready to ``send``.

    ``text`` is the statement with its parameters in the engine's own text, for an engine
    that takes parameters as text (FalkorDB); None where the driver sends ``params``.
    """

    query: str
    params: dict[str, Any]
    text: str | None = None


@dataclass(frozen=True, slots=True)
class GraphCapabilities:
    """What an engine does beyond the openCypher every engine runs, for code that chooses how to ask.

    Domain code reads these flags, never the engine's name, as rdflib's stores declare
    ``context_aware``: a new engine says what it can, and every query picks its form.
    """

    ordered_index: bool = False
    """A range over an index (``WHERE t.id > $after ORDER BY t.id LIMIT n``) is read in index
    order and stops after ``n`` rows (Neo4j); otherwise the engine finds every match and sorts
    (FalkorDB), and a query is better cut into windows or started from a label scan."""
    exact_floats: bool = False
    """A double comes back exactly as it was stored (Neo4j); otherwise rounded, to 15 significant
    digits on FalkorDB, and a reader that must answer the stored value reads the document."""
    index_if_not_exists: bool = False
    """``CREATE INDEX name IF NOT EXISTS FOR ...`` is understood (Neo4j); otherwise creating an
    index that exists is an error to expect (FalkorDB: "already indexed")."""
    utf16_string_compare: bool = False
    """``<`` and ``>`` as a filter between a stored string and a parameter compare UTF-16 code
    units, while ``ORDER BY`` and index seeks order by code point (Neo4j 5: the two disagree
    where a character above U+FFFF meets one in U+E000..U+FFFF); otherwise every comparison
    follows code points (FalkorDB compares UTF-8 bytes). ``graph.keyset`` corrects for it, so
    that "after the cursor" means after it in the order pages are read."""
    string_index_ranges_exact: bool = True
    """A range over a string index (``t.id > $k`` served by ``Twin.id``'s index) compares as a
    filter and ``ORDER BY`` do. FalkorDB's does not: with the index, ``t.id > 'a'`` leaves out
    ``'é'`` and ``t.id < 'é'`` finds nothing (its index compares UTF-8 bytes as signed), so
    ``graph.keyset`` compares ``expr + ''``, which no index serves, there."""


class GraphStore(Protocol):
    """A twin graph engine that runs openCypher."""

    @property
    def backend(self) -> str:
        """A short name for logs and health checks, such as ``falkordb`` or ``neo4j``."""
        ...

    @property
    def capabilities(self) -> GraphCapabilities:
        """What this engine does beyond plain openCypher (:class:`GraphCapabilities`)."""
        ...

    def ping(self) -> None:
        """Check the engine answers; raise ``BackendUnavailable`` when it does not."""
        ...

    def read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        """Run ``query`` in the engine's read-only mode, so writes are refused by the engine.

        Raises ``CypherWriteRefused`` for a write, ``QueryTimeout`` past ``timeout_s``,
        ``BadRequest`` (with the engine's message) for a syntax or parameter error, and
        ``LimitExceeded`` for a ``timeout_s``/``max_rows`` above the ceilings. More rows
        than ``max_rows`` are cut, with ``truncated`` set. ``EXPLAIN ...`` answers the plan.
        """
        ...

    def analyst_read(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_rows: int = DEFAULT_MAX_ROWS,
    ) -> CypherResult:
        """``read`` for an analyst's query, run where it cannot hold up the twin's writers.

        Neo4j's readers never block its writers, so this is ``read``. A FalkorDB write waits
        for the reads running on its graph, so FalkorDB answers from a copy of the graph
        (``graph._falkor_snapshot``): changes made through kgtwin are in it at once, values
        written without a version token (latest telemetry on nodes) are at most 5 s old.
        """
        ...

    def query_rows(
        self, query: str, params: Mapping[str, Any] | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> list[list[Any]]:
        """Every row of kgtwin's own read-only ``query``, as the driver answers it.

        For generated queries that return scalars, strings and lists of them (never nodes,
        relationships, paths or temporal values: those are not rendered). No row cap: the
        query bounds itself (``LIMIT``) or the caller checks the count. Errors as ``read``.
        """
        ...

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        """Run one write statement atomically (retried on transient engine errors).

        For the twin operations only: ``query`` is generated by kgtwin, never an analyst's.
        A uniqueness-constraint violation raises ``Conflict``.
        """
        ...

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        """Check and encode a write statement: the work ``write`` does before sending it.

        Raises ``BadRequest`` for parameters the engine cannot take, as ``write`` does.
        """
        ...

    def send(self, statement: Statement) -> CypherResult:
        """Run a prepared statement atomically: ``write(q, p)`` is ``send(prepare(q, p))``."""
        ...

    def ensure_schema(self) -> None:
        """Create the unique constraints (and their indexes) on ``Twin.id`` and ``Model.id`` if missing."""
        ...

    def close(self) -> None:
        """Release connections (and stop an embedded engine)."""
        ...
