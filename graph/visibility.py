"""What analysts' Cypher may see: the twins and their models, not kgtwin's own bookkeeping.

kgtwin keeps a few internal nodes in the twin graph: ``ApiKey`` (names, roles and hashes of
API keys) and ``KgtwinMeta`` (the version tokens of the graph and of the models). They have
no relationships, and no twin carries their labels (they are reserved). So a read-only
query can reach one only by naming its label, or by starting from every node, from a node
id, or from a procedure. An analyst's query is checked before it runs, on the plan the
engine makes of it (``EXPLAIN``, one round trip, nothing executed), and refused with
``FORBIDDEN`` when any of these holds:

- an internal label appears in the query (outside string literals) or in the plan;
- the plan scans all nodes (``MATCH (n)``, ``MATCH (n {id: ...})``): give the pattern a
  label, ``(n:Twin ...)``, ``(m:Model ...)`` or a model's label;
- it seeks nodes by internal id, calls a procedure, or loads CSV;
- it counts all nodes from the count store (``MATCH (n) RETURN count(n)``);
- it names labels dynamically (Neo4j's ``:$(...)``), which the plan cannot show.

The check holds on both engines for the same reason: whatever plan the engine chooses,
every node of the result came from a labelled scan, from an expansion along a
relationship, or from one of the refused operators, and internal nodes are reachable by
neither of the first two. On FalkorDB, whose plans can hide a scan (``MATCH (n) RETURN
count(n)`` is one ``Project``), analysts' queries run on a copy of the graph without the
internal nodes besides (``graph._falkor_snapshot``), so there the check is a second line.
A caller whose role grants ``cypher_internals`` (admin) may ask for them: the query is
then not checked and runs on the live graph. The cost to analysts: a pattern must start
from a label, and one more round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, is_explain
from graph.store import CypherResult, GraphStore
from ontology.errors import ErrorCode, KgtwinError

INTERNAL_LABELS = frozenset({"ApiKey", "KgtwinMeta"})
"""Labels of kgtwin's own nodes: reserved, never a twin's, and never on a relationship's end."""

# Plan operators (spaces and case dropped, so "All Node Scan" and "AllNodesScan" read alike)
# that produce nodes without a label, or run code the plan does not show.
_REFUSED = {
    "allnodescan": "scans every node: give the pattern a label, such as (n:Twin)",
    "allnodesscan": "scans every node: give the pattern a label, such as (n:Twin)",
    "partitionedallnodesscan": "scans every node: give the pattern a label, such as (n:Twin)",
    "nodebyidseek": "looks nodes up by internal id: match them by label and property",
    "nodebyelementidseek": "looks nodes up by internal id: match them by label and property",
    "procedurecall": "calls a procedure",
    "loadcsv": "loads CSV",
}
_COUNT_STORE = "nodecountfromcountstore"
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_DYNAMIC_LABEL = re.compile(r":\s*\$(?:any|all)?\s*\(", re.IGNORECASE)
_INTERNAL = re.compile(r"\b(" + "|".join(sorted(INTERNAL_LABELS)) + r")\b")  # labels are case-sensitive


class InternalsRefused(KgtwinError):
    """Raised when an analyst's query could see kgtwin's internal nodes and the role does not allow it."""

    code = ErrorCode.FORBIDDEN

    def __init__(self, why: str) -> None:
        super().__init__(
            f"this query {why}; analysts' Cypher sees twins and models only (docs/security.md)",
            details={"permission": "cypher_internals"},
        )


def check_query_text(query: str) -> None:
    """Refuse a query naming an internal label or a dynamic label, before any plan is asked for."""
    code = _COMMENT.sub(" ", _STRING.sub("''", query))
    found = _INTERNAL.search(code)
    if found is not None:
        raise InternalsRefused(f"names kgtwin's internal label {found.group(1)}")
    if _DYNAMIC_LABEL.search(code):
        raise InternalsRefused("names a label dynamically")


def check_plan(lines: Iterable[str]) -> None:
    """Refuse a plan (one ``operator | details`` line per step, either engine) that could reach internals."""
    for line in lines:
        operator, _, details = line.strip().partition("|")
        name = re.sub(r"[^a-z]", "", operator.split("@", 1)[0].lower())
        why = _REFUSED.get(name)
        if why is not None:
            raise InternalsRefused(why)
        if name == _COUNT_STORE and ":" not in details:
            raise InternalsRefused("counts every node: count a label, such as (n:Twin)")
        found = _INTERNAL.search(details)
        if found is not None:
            raise InternalsRefused(f"reaches kgtwin's internal label {found.group(1)}")


def read_as_analyst(
    store: GraphStore,
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
    internals: bool = False,
) -> CypherResult:
    """Run an analyst's read-only ``query``: checked, then ``GraphStore.analyst_read``.

    With ``internals`` (a role granting ``cypher_internals`` asked for them) the query is
    not checked and runs on the live graph (``read``): on FalkorDB it then holds up writers
    for as long as it runs. Raises ``InternalsRefused`` (``FORBIDDEN``) for a query that
    could see internal nodes, and whatever ``read`` raises otherwise.
    """
    if internals:
        return store.read(query, params, timeout_s=timeout_s, max_rows=max_rows)
    check_query_text(query)
    inner = query.lstrip()[len("EXPLAIN") :] if is_explain(query) else query
    plan = store.analyst_read("EXPLAIN " + inner, params, timeout_s=timeout_s)
    check_plan(str(row[0]) for row in plan.rows)
    return store.analyst_read(query, params, timeout_s=timeout_s, max_rows=max_rows)
