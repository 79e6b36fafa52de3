"""Read-only Cypher that would stop FalkorDB's server, refused before it is sent.

The embedded FalkorDB (falkordblite 0.11) runs in one redis-server with every graph of
the data folder, so a query that crashes it stops the whole twin: writes, ingest and
every reader, until kgtwin restarts. Two shapes are known to (docs/graph-model.md,
"Cypher on the two engines"):

- an exact variable-length count of two or more (``-[*2..2]->``, ``-[*3]->``): walked
  against its direction (the planner's choice when the far end is the selective one,
  ``MATCH (a:Twin)-[*2..2]->(b:Twin) WHERE b.id = ...``) the server dies when the hop has
  no type, and answers no rows when it has one;
- a named path tested in the ``WHERE`` of its own ``MATCH`` (``MATCH p = ... WHERE
  length(p) > 1``), found crashing it by the ADT query work.

Both are refused with ``BAD_REQUEST`` and the rewrite that works: ``*1..n`` with the
length tested after a ``WITH``. The check reads the query's text with string literals and
comments blanked out, so a literal holding such text passes.
"""

from __future__ import annotations

import re

from ontology.errors import BadRequest

_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
# A relationship pattern (after its "-") and its length: "*", a lower bound, "..", an upper bound.
_HOPS = re.compile(r"-\s*\[[^\]]*?\*\s*(\d+)?\s*(\.\.)?\s*(\d+)?[^\]]*\]")
# Clauses: a MATCH runs until the next clause keyword.
_CLAUSE = re.compile(
    r"\b(OPTIONAL\s+MATCH|MATCH|WITH|RETURN|UNWIND|CALL|UNION|ORDER\s+BY|SKIP|LIMIT|CREATE|MERGE)\b",
    re.IGNORECASE,
)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_PATH_NAME = re.compile(r"(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:shortestPath\s*)?\(", re.IGNORECASE)
_REWRITE = (
    "write *1..n and test length(p) >= n after a WITH: MATCH p = (a)-[*1..n]->(b) WITH p, a, b WHERE ..."
)


class QueryRefused(BadRequest):
    """Raised for a query shape known to crash FalkorDB's server."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"this query {why}, which stops the embedded FalkorDB server; {_REWRITE}",
            details={"engine": "falkordb"},
        )


def check_query(query: str) -> None:
    """Raise :class:`QueryRefused` if ``query`` has a shape that crashes FalkorDB (see the module)."""
    code = _COMMENT.sub(" ", _STRING.sub("''", query))
    for hops in _HOPS.finditer(code):
        low, dots, high = hops.groups()
        exact = low if dots is None else (low if low is not None and low == high else None)
        if exact is not None and int(exact) >= 2:
            raise QueryRefused(f"walks an exact number of hops ({hops.group(0).lstrip('- ')})")
    for clause, body in _clauses(code):
        if not clause.upper().endswith("MATCH"):
            continue
        pattern, where, condition = _split_where(body)
        if not where:
            continue
        for name in _PATH_NAME.findall(pattern):
            if re.search(rf"\b{re.escape(name)}\b", condition):
                raise QueryRefused(f"tests the path {name} in the WHERE of its own MATCH")


def _split_where(body: str) -> tuple[str, bool, str]:
    parts = _WHERE.split(body, maxsplit=1)
    return (parts[0], True, parts[1]) if len(parts) == 2 else (parts[0], False, "")


def _clauses(code: str) -> list[tuple[str, str]]:
    """Each clause of ``code``: its keyword and its text up to the next clause."""
    found = list(_CLAUSE.finditer(code))
    return [
        (match.group(1), code[match.end() : found[i + 1].start() if i + 1 < len(found) else len(code)])
        for i, match in enumerate(found)
    ]
