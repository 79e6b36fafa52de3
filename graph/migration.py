"""Moving the twins of one model version to another, after checking each would still be valid.

A DTMI never changes meaning, so a changed model is a new version. :func:`migrate_twins`
reads the twins of the old version in pages (by id on Neo4j, by internal id on FalkorDB:
:func:`_pages`), checks each against the new version
(its properties, ``ontology.evolution``; its own relationships the new version no longer
declares; other twins' relationships whose declared target the new version no longer
satisfies), and with ``migrate`` moves those that pass, one statement per page. The move
is a compare-and-set on each twin's etag: a twin changed since it was checked is left as
it is and reported, never moved unchecked. Its labels are swapped from the old version's
ancestry to the new one's (``ontology.labels``), as ``graph.relabel`` does after an upload.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.cypher import identifier
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.keyset import after as after_key
from graph.store import GraphStore
from graph.times import utc_now
from ontology.evolution import evolution_report
from ontology.labels import label_index
from ontology.model import ModelSet

REPORTED = 1_000
"""The most twins a report lists as blocked (it counts them all)."""
SCAN_SPAN = 50_000
"""Internal ids a FalkorDB scan covers at once: it holds at most this many ids."""

# ``{after}``: the keyset condition "after the last id" (``graph.keyset``).
_PAGE = """
MATCH (t:Twin {{model: $model}}) WHERE {after}
RETURN t.id, t._document, t.etag ORDER BY t.id LIMIT $n
"""
# FalkorDB answers a range of internal ids from its label scan (no id comparison, no sort).
_SPAN = "MATCH (t:Twin) WHERE id(t) >= $lo AND id(t) < $hi AND t.model = $model RETURN id(t)"
# ``UNWIND`` makes one id seek per node; ``id(t) IN $nodes`` would scan every twin.
_BY_NODE = """
UNWIND $nodes AS node MATCH (t:Twin) WHERE id(t) = node AND t.model = $model
RETURN t.id, t._document, t.etag
"""
_LAST_NODE = "MATCH (t:Twin) RETURN max(id(t))"
_OUTGOING = "MATCH (t:Twin)-[r]->(:Twin) WHERE t.id IN $ids RETURN DISTINCT t.id, type(r)"
_INCOMING = "MATCH (s:Twin)-[r]->(t:Twin) WHERE t.id IN $ids RETURN DISTINCT t.id, s.model, type(r)"
# Compare-and-set on each twin's etag: a twin changed since it was validated is left as it is.
_MIGRATE = """
UNWIND $rows AS row
MATCH (t:Twin {{id: row.id}})
WHERE t.model = $old AND t.etag = row.etag
SET t.model = $new, t.etag = row.next, t.updatedAt = $now
{labels}
RETURN t.id
"""


@dataclass
class MigrationReport:
    """What moving the twins of one version to another does (or did), page by page."""

    source: str
    target: str
    twins: int = 0
    valid: int = 0
    migrated: int = 0
    batches: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_count: int = 0
    diff: dict[str, Any] = field(default_factory=dict)

    def fail(self, twin_id: str, issues: Sequence[dict[str, Any]]) -> None:
        self.failed_count += 1
        if len(self.failed) < REPORTED:
            self.failed.append({"twinId": twin_id, "issues": list(issues)})

    def to_dict(self, *, migrated: bool) -> dict[str, Any]:
        """The report as JSON; with ``migrated``, the moved twins and the batches too."""
        report: dict[str, Any] = {
            "from": self.source,
            "to": self.target,
            **self.diff,
            "twins": self.twins,
            "ready": self.valid,
            "blockedCount": self.failed_count,
            "blocked": self.failed,
            "truncated": self.failed_count > len(self.failed),
        }
        if migrated:
            report |= {"migrated": self.migrated, "batches": self.batches}
        return report


def migrate_twins(
    store: GraphStore,
    models: ModelSet,
    source: str,
    target: str,
    batch: int,
    *,
    migrate: bool,
    events: EventBus | None = None,
) -> MigrationReport:
    """Check (and with ``migrate``, move) every twin of ``source`` to ``target``, ``batch`` at a time.

    ``models`` holds both versions. Each moved twin is announced on ``events`` as
    ``twin.updated`` with an empty patch (its properties are unchanged), its new etag and
    ``previousModel``, so subscribers see the new model.
    """
    run = MigrationReport(source, target)
    labels = _relabel(models, source, target)
    for rows in _pages(store, source, batch):
        run.twins += len(rows)
        twins = [(str(twin_id), json.loads(document), str(etag)) for twin_id, document, etag in rows]
        report = evolution_report(models, source, target, [(t, doc) for t, doc, _ in twins])
        if not run.diff:
            run.diff = {
                k: v for k, v in report.to_dict().items() if k not in ("from", "to", "twins", "ready")
            }
        issues = {m.twin_id: [i.to_dict() for i in m.issues] for m in report.twins}
        for twin_id, problems in _relationship_issues(
            store, models, target, [t for t, _, _ in twins]
        ).items():
            issues[twin_id].extend(problems)
        ready = [(t, etag) for t, _, etag in twins if not issues[t]]
        run.valid += len(ready)
        for twin_id, found in issues.items():
            if found:
                run.fail(twin_id, found)
        if migrate:
            run.batches += 1
        if migrate and ready:
            moved = _move(store, events, source, target, labels, ready)
            run.migrated += len(moved)
            for twin_id, _ in ready:
                if twin_id not in moved:
                    run.fail(twin_id, [_conflict(twin_id)])
    return run


def _pages(store: GraphStore, model: str, batch: int) -> Iterator[list[list[Any]]]:
    """The twins of ``model`` (id, document, etag) in pages of up to ``batch``.

    Neo4j reads each page off its ordered ``Twin.id`` index, after the last id. FalkorDB's
    index is not ordered: each page by id would find and sort every twin of the model
    after the cursor (N² over the run), so there the twins are read in ranges of internal
    ids, ``SCAN_SPAN`` at a time, in the order of those ids. Either way a twin present
    from the start to the end of the run is read once (a moved twin keeps its id and its
    internal id); one created meanwhile may or may not be. Between pages only internal
    ids are held (``SCAN_SPAN`` at most), not documents.
    """
    if store.capabilities.ordered_index:
        after = ""
        while True:
            params: dict[str, Any] = {"model": model, "n": batch}
            condition = after_key("t.id", after, params, capabilities=store.capabilities)
            rows = store.query_rows(_PAGE.format(after=condition), params)
            if rows:
                yield rows
                after = str(rows[-1][0])
            if len(rows) < batch:
                return
    last = store.query_rows(_LAST_NODE, {})
    if not last or last[0][0] is None:
        return
    for lo in range(0, int(last[0][0]) + 1, SCAN_SPAN):
        span = {"lo": lo, "hi": lo + SCAN_SPAN, "model": model}
        nodes = [int(row[0]) for row in store.query_rows(_SPAN, span)]
        for start in range(0, len(nodes), batch):
            rows = store.query_rows(_BY_NODE, {"nodes": nodes[start : start + batch], "model": model})
            if rows:
                yield rows


def _relationship_issues(
    store: GraphStore, models: ModelSet, target: str, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Relationships a twin would break as a ``target``: its own undeclared, others' target rules."""
    found: dict[str, list[dict[str, Any]]] = {}
    declared = models[target].relationships
    for twin_id, name in store.query_rows(_OUTGOING, {"ids": ids}):
        if name not in declared:
            found.setdefault(str(twin_id), []).append(
                {
                    "path": f"/$relationships/{name}",
                    "code": "RELATIONSHIP_REMOVED",
                    "message": f"{target} declares no relationship {name!r}, and the twin has one",
                }
            )
    for twin_id, source_model, name in store.query_rows(_INCOMING, {"ids": ids}):
        source = models.get(str(source_model))
        relationship = source.relationships.get(str(name)) if source is not None else None
        if relationship is not None and relationship.target and not models.is_a(target, relationship.target):
            found.setdefault(str(twin_id), []).append(
                {
                    "path": f"/$incoming/{name}",
                    "code": "TARGET_MODEL_INVALID",
                    "message": f"{name!r} of {source_model} must point to a {relationship.target}, "
                    f"and {target} is not one",
                }
            )
    return found


def _relabel(models: ModelSet, source: str, target: str) -> str:
    """The Cypher that swaps a twin's labels from ``source``'s ancestry to ``target``'s."""
    index = label_index(models)
    before, after = index.labels(source), index.labels(target)
    gone = [label for label in before if label not in after]
    new = [label for label in after if label not in before]
    parts = []
    if gone:
        parts.append("REMOVE t" + "".join(":" + identifier(label) for label in gone))
    if new:
        parts.append("SET t" + "".join(":" + identifier(label) for label in new))
    return "\n".join(parts)


def _move(
    store: GraphStore,
    events: EventBus | None,
    source: str,
    target: str,
    labels: str,
    twins: list[tuple[str, str]],
) -> set[str]:
    """Rewrite the model of ``twins`` (id, etag) in one statement; the ids it moved."""
    rows = [{"id": twin_id, "etag": etag, "next": f'W/"{uuid.uuid4()}"'} for twin_id, etag in twins]
    now = utc_now()
    result = store.write(
        _MIGRATE.format(labels=labels), {"rows": rows, "old": source, "new": target, "now": now}
    )
    moved = {str(row[0]) for row in result.rows}
    if events is not None:
        for row in rows:
            if row["id"] in moved:
                data = {"etag": row["next"], "patch": [], "previousModel": source}
                events.publish(ChangeEvent(ChangeKind.TWIN_UPDATED, row["id"], now, target, data))
    return moved


def _conflict(twin_id: str) -> dict[str, Any]:
    return {
        "path": "",
        "code": "CONFLICT",
        "message": f"twin {twin_id!r} changed or was deleted while it was being migrated",
    }
