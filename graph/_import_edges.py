"""Writing a bulk import's validated relationships (``graph.importer``), one batch at a time.

Relationships are kept by (source, id). A batch first reads which of its (source, id)
pairs exist (one read), then creates the new edges (``UNWIND ... CREATE`` of positional
rows, ``graph._rows``), rewrites the changed ones (another target or name: deleted and
created again) and leaves unchanged ones alone, so a re-run writes nothing.
``maxMultiplicity`` is counted once per name per batch, only for relationships that
declare it. Once the batch's statements returned, the graph's version is renewed and its
change events published (``graph._import_events``).

In a fresh import (the graph held no twin at the start, ``graph.importer``) the only edges
are the ones this run wrote, so the writer remembers them (as 64-bit hashes of (source, id)
and of (source, name), up to ``MEMO_LIMIT`` each, ``graph._import_memo``) and reads only for
pairs it may have written:
a first load reads nothing. :meth:`EdgeBatchWriter.stage` runs in the importing thread,
batch after batch: it keeps those memos and, when a batch needs no read, prepares its
statements there, so the writer thread (``graph._import_pipeline``) only sends them. A
batch that must read does it all on the writer thread, in order after the batches before
it, so its reads see them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph._import_events import BatchOutbox
from graph._import_memo import KeySet, hashes
from graph._rows import map_literal, positional
from graph.bulk import BulkIssue
from graph.cypher import MAX_ROWS, identifier
from graph.events import EventBus
from graph.physical import DOCUMENT
from graph.store import GraphStore, Statement
from graph.times import utc_now

# Relationships are kept by (source, id): the edges of a batch's ids, one read per batch.
# ``$groups`` rows are ``[source, [ids]]``: lists travel fastest (graph._rows).
_EDGES_OF = """
UNWIND $groups AS g
MATCH (s:Twin {id: g[0]})
WITH s, g
MATCH (s)-[r]->(t:Twin) WHERE r.id IN g[1]
RETURN s.id, r.id, type(r), t.id, r._document
"""
# maxMultiplicity: the edges of that name a source has, besides those of ids in the batch.
# (``WITH`` keeps the planner on the id index, whatever its statistics of a young graph say.)
_COUNT_OTHERS = """
UNWIND $groups AS g
MATCH (s:Twin {{id: g[0]}})
WITH s, g
MATCH (s)-[r:{type}]->() WHERE NOT r.id IN g[1]
RETURN g[0], count(r)
"""
_DELETE_EDGES = "UNWIND $rows AS row MATCH (:Twin {id: row.source})-[r]->() WHERE r.id = row.rid DELETE r"
_CREATE_EDGES = """
UNWIND $rows AS r
MATCH (s:Twin {{id: r[0]}}) MATCH (t:Twin {{id: r[1]}})
CREATE (s)-[e:{type} {{{props}}}]->(t)
RETURN count(e)
"""
_UPDATE_EDGES = """
UNWIND $rows AS row
MATCH (:Twin {{id: row.source}})-[r:{type}]->(:Twin {{id: row.target}}) WHERE r.id = row.props.id
SET r = row.props
RETURN count(r)
"""


MEMO_LIMIT = 4_000_000
"""Hashes of (source, id) and of (source, name) a run keeps, in each set: 8 bytes each."""
Row = dict[str, Any]


@dataclass(slots=True)
class _Plan:
    """What a batch writes: edges to delete, create and update (by name), and the rows written."""

    removed: list[dict[str, str]] = field(default_factory=list)
    created: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    updated: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    written: list[tuple[bool, Row]] = field(default_factory=list)  # (replaced an existing id?, row)


class EdgeBatchWriter:
    """Writes batches of validated relationship rows for one import, refusing into ``refuse``.

    A row is a dict: ``line``, ``source``, ``target``, ``rid``, ``name``, ``max`` (the
    declared maxMultiplicity or None), ``model`` (the source's), ``properties`` (DTDL) and
    ``props`` (the encoded edge properties). ``models_of`` reads the models of twin ids.
    ``fresh``: the graph held no twin (so no edge) when the import started.
    """

    def __init__(
        self,
        store: GraphStore,
        events: EventBus | None,
        refuse: Callable[[BulkIssue], None],
        models_of: Callable[[set[str]], dict[str, str]],
        *,
        fresh: bool = False,
    ) -> None:
        self.store = store
        self.events = events
        self.refuse = refuse
        self._models_of = models_of
        self.fresh = fresh
        self._pairs = KeySet(MEMO_LIMIT)  # hash((source, id)) of the edges written
        self._named = KeySet(MEMO_LIMIT)  # hash((source, name)) of the edges written that declare a maximum

    def stage(self, rows: list[Row]) -> Callable[[], int]:
        """The work that writes one batch (call batches in file order; run the work in that order).

        The work returns the number of rows kept. When the batch needs no read, its
        multiplicity is checked and its statements prepared now, and the work only sends.
        """
        ids = _multiplicity_ids(rows)
        named = list(ids)
        counted = self._maybe_written(self._named, named)
        self._remember(self._named, named)
        pairs = list({(row["source"], row["rid"]): None for row in rows})
        uncertain = set(self._maybe_written(self._pairs, pairs))
        self._remember(self._pairs, pairs)
        if counted or uncertain:
            return lambda: self._write(
                self._within_multiplicity(rows, ids, self._count_others(ids, counted)), uncertain
            )
        kept = self._within_multiplicity(rows, ids, {})
        plan = _plan(kept, {})
        statements = self._statements(plan)
        return lambda: self._send(kept, plan, statements)

    def _maybe_written(self, memo: KeySet, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The keys an edge of which may exist (when fresh: only those this run wrote one of)."""
        if not self.fresh:
            return keys
        seen = memo.contains(hashes(keys, len(keys)))
        return [key for key, maybe in zip(keys, seen, strict=True) if maybe]

    def _remember(self, memo: KeySet, keys: list[tuple[str, str]]) -> None:
        if self.fresh and not memo.add(hashes(keys, len(keys))):
            self.fresh = False  # the run forgets from here on: read for every batch

    def _count_others(
        self, ids: dict[tuple[str, str], list[str]], counted: list[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Per (source, name) of ``counted``: the source's edges of that name but those of the batch's ids."""
        others: dict[tuple[str, str], int] = {}
        for name in {name for _, name in counted}:
            groups = [[s, ids[s, n]] for s, n in counted if n == name]
            query = _COUNT_OTHERS.format(type=identifier(name))
            for source, count in self.store.read(query, {"groups": groups}, max_rows=MAX_ROWS).rows:
                others[str(source), name] = int(count)
        return others

    def _within_multiplicity(
        self, rows: list[Row], ids: dict[tuple[str, str], list[str]], others: dict[tuple[str, str], int]
    ) -> list[Row]:
        """The rows that keep their source within ``maxMultiplicity``; the others are refused.

        A row counts the source's edges of its name in the graph (``others``: but those of
        ids in the batch, which it rewrites) and the ids of that source and name ahead of it
        in the batch.
        """
        if not ids:
            return rows
        kept = []
        for row in rows:
            key = row["source"], row["name"]
            if row["max"] is None or others.get(key, 0) + ids[key].index(row["rid"]) < row["max"]:
                kept.append(row)
                continue
            message = (
                f"relationship {row['rid']!r} of {row['source']!r}: the source would have more than "
                f"{row['max']} {row['name']!r} relationships, the maxMultiplicity of its model"
            )
            self.refuse(BulkIssue(row["line"], "CONFLICT", message))
        return kept

    def _write(self, rows: list[Row], uncertain: set[tuple[str, str]]) -> int:
        """Read which of the ``uncertain`` pairs exist, then write: the batch of a non-fresh import."""
        groups: dict[str, list[str]] = defaultdict(list)
        for source, rid in {(row["source"], row["rid"]) for row in rows} & uncertain:
            groups[source].append(rid)
        found: dict[tuple[str, str], list[tuple[str, str, Any]]] = defaultdict(list)
        if groups:
            query = {"groups": [[s, v] for s, v in groups.items()]}
            for source, rid, name, target, document in self.store.read(
                _EDGES_OF, query, max_rows=MAX_ROWS
            ).rows:
                found[str(source), str(rid)].append((str(name), str(target), document))
        plan = _plan(rows, found)
        return self._send(rows, plan, self._statements(plan))

    def _statements(self, plan: _Plan) -> list[tuple[Statement, int]]:
        """The plan's statements, each with the count it must return (-1: none to check)."""
        statements = []
        if plan.removed:
            statements.append((self.store.prepare(_DELETE_EDGES, {"rows": plan.removed}), -1))
        for name, sent_rows in plan.updated.items():
            statements.append(
                (
                    self.store.prepare(_UPDATE_EDGES.format(type=identifier(name)), {"rows": sent_rows}),
                    len(sent_rows),
                )
            )
        for name, sent_rows in plan.created.items():
            ends = [[row["source"], row["target"]] for row in sent_rows]
            for keys, values in positional([row["props"] for row in sent_rows], ends):
                text = _CREATE_EDGES.format(type=identifier(name), props=map_literal(keys, "r", 2))
                statements.append((self.store.prepare(text, {"rows": values}), len(values)))
        return statements

    def _send(self, rows: list[Row], plan: _Plan, statements: list[tuple[Statement, int]]) -> int:
        """Send the statements, refuse the rows whose ends were deleted meanwhile, announce the rest."""
        short = False
        for statement, expected in statements:
            result = self.store.send(statement)
            short = short or (expected >= 0 and int(result.rows[0][0]) < expected)
        gone: set[str] = set()
        kept = len(rows)
        if short:  # a source or target was deleted since the batch was validated
            there = self._models_of({row["source"] for row in rows} | {row["target"] for row in rows})
            gone = {
                twin_id for row in rows for twin_id in (row["source"], row["target"]) if twin_id not in there
            }
            for row in rows:
                if row["source"] in gone or row["target"] in gone:
                    kept -= 1
                    what = f"relationship {row['rid']!r} of {row['source']!r}"
                    self.refuse(
                        BulkIssue(row["line"], "NOT_FOUND", f"{what}: its source or target was deleted")
                    )
        outbox = BatchOutbox(self.store, self.events, utc_now())
        if plan.removed:
            outbox.wrote()
        for replaced, row in plan.written:
            if row["source"] not in gone and row["target"] not in gone:
                outbox.relationship_written(
                    replaced,
                    row["rid"],
                    row["source"],
                    row["model"],
                    row["name"],
                    row["target"],
                    row["properties"],
                )
        outbox.commit()
        return kept


def _multiplicity_ids(rows: list[Row]) -> dict[tuple[str, str], list[str]]:
    """Per (source, name) of the rows that declare a maximum: their ids, in order, once each."""
    ids: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        if row["max"] is not None:
            same = ids[row["source"], row["name"]]
            if row["rid"] not in same:
                same.append(row["rid"])
    return ids


def _plan(rows: list[Row], found: dict[tuple[str, str], list[tuple[str, str, Any]]]) -> _Plan:
    """Create new edges, rewrite changed ones (another target or name: replaced), skip the same.

    ``found``: per (source, id), the (name, target, document) of the edges the graph holds.
    """
    plan = _Plan()
    final = {(row["source"], row["rid"]): row for row in rows}  # a repeated id: the last line wins
    for key, row in final.items():
        sent = {"source": row["source"], "target": row["target"], "props": row["props"]}
        old = found.get(key)
        if not old:
            plan.created[row["name"]].append(sent)
        elif len(old) == 1 and old[0][:2] == (row["name"], row["target"]):
            if old[0][2] == row["props"][DOCUMENT]:
                continue
            plan.updated[row["name"]].append(sent)
        else:
            plan.removed.append({"source": row["source"], "rid": row["rid"]})
            plan.created[row["name"]].append(sent)
        plan.written.append((bool(old), row))
    return plan
