"""The bulk import's fast path, on both engines: a fresh import reads nothing, and the
writer thread keeps the order, the checks and the failures of a plain import."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from graph.bulk import relationship_line, twin_line, write_bulk
from graph.importer import ImportReport, import_bulk
from graph.store import CypherResult, GraphCapabilities, GraphStore, Statement
from ontology.errors import BackendUnavailable, Conflict
from tests.graph.plant import DOCS, PUMP, ROOM, TANK


class Recording:
    """A real store that records the statements it runs and can act before a chosen write."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.reads: list[str] = []
        self.writes: list[str] = []
        self.before_write: Any = None

    @property
    def backend(self) -> str:
        return self.store.backend

    @property
    def capabilities(self) -> GraphCapabilities:
        return self.store.capabilities

    def ping(self) -> None:
        self.store.ping()

    def read(self, query: str, params: Mapping[str, Any] | None = None, **options: Any) -> CypherResult:
        self.reads.append(query)
        return self.store.read(query, params, **options)

    def query_rows(
        self, query: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> list[list[Any]]:
        self.reads.append(query)
        return self.store.query_rows(query, params, **options)

    def write(self, query: str, params: Mapping[str, Any] | None = None) -> CypherResult:
        if self.before_write is not None:
            self.before_write(query)
        self.writes.append(query)
        return self.store.write(query, params)

    def prepare(self, query: str, params: Mapping[str, Any] | None = None) -> Statement:
        return self.store.prepare(query, params)

    def send(self, statement: Statement) -> CypherResult:
        if self.before_write is not None:
            self.before_write(statement.query)
        self.writes.append(statement.query)
        return self.store.send(statement)

    def ensure_schema(self) -> None:
        self.store.ensure_schema()

    def close(self) -> None:  # the session's store outlives the test
        pass


def bulk(twins: list[dict[str, Any]], relationships: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    write_bulk(out, DOCS, twins, relationships)
    return out.getvalue().encode()


def run(store: GraphStore, data: bytes, **options: Any) -> ImportReport:
    return import_bulk(store, io.BytesIO(data), **options)


def twins_and_edges_read(recording: Recording) -> list[str]:
    """The reads that ask which twins or edges exist (not the models, not the version)."""
    return [q for q in recording.reads if "(t:Twin" in q or "(s:Twin" in q]


TWINS = [twin_line(f"pump-{i}", PUMP, {"serial": f"P{i}"}) for i in range(6)] + [
    twin_line("room-1", ROOM, {"name": "Boiler room"}),
    twin_line("tank-1", TANK, {"capacity": 500.0}),
]
EDGES = [relationship_line(f"pump-{i}", "f1", "feeds", "tank-1", {}) for i in range(6)]


def test_a_fresh_import_reads_no_twin_or_edge_and_a_second_run_does(store: GraphStore) -> None:
    recording = Recording(store)
    report = run(recording, bulk(TWINS, EDGES), batch_size=3)
    assert report.ok, report.issues
    assert (report.twins, report.relationships) == (8, 6)
    assert twins_and_edges_read(recording) == ["MATCH (t:Twin) RETURN t.id LIMIT 1"]
    etags = store.read("MATCH (t:Twin) RETURN t.id, t.etag ORDER BY t.id").rows
    again = Recording(store)
    assert run(again, bulk(TWINS, EDGES), batch_size=3).ok
    assert len(twins_and_edges_read(again)) > 1
    assert not [q for q in again.writes if "CREATE" in q]
    assert store.read("MATCH (t:Twin) RETURN t.id, t.etag ORDER BY t.id").rows == etags


def test_ids_repeated_across_batches_of_a_fresh_import_keep_their_last_line(store: GraphStore) -> None:
    twins = [*TWINS, twin_line("tank-2", TANK, {}), twin_line("pump-0", PUMP, {"serial": "P9"})]
    edges = [
        *EDGES,
        relationship_line("pump-0", "l1", "locatedIn", "room-1", {}),
        relationship_line("pump-0", "f1", "feeds", "tank-2", {}),  # the same (source, id), moved
        relationship_line("pump-0", "l2", "locatedIn", "room-1", {}),  # over maxMultiplicity 1
    ]
    report = run(store, bulk(twins, edges), batch_size=2)
    assert [issue.code for issue in report.issues] == ["CONFLICT"]
    assert "maxMultiplicity" in report.issues[0].message
    assert store.read("MATCH (t:Twin {id: 'pump-0'}) RETURN t.serial").rows == [["P9"]]
    assert store.read("MATCH (t:Twin) RETURN count(t)").rows == [[9]]
    rows = store.read("MATCH (:Twin {id: 'pump-0'})-[r]->(t) RETURN type(r), r.id, t.id ORDER BY r.id").rows
    assert rows == [["feeds", "f1", "tank-2"], ["locatedIn", "l1", "room-1"]]


def test_a_twin_created_by_another_writer_during_a_fresh_import_stops_it_and_a_rerun_succeeds(
    store: GraphStore,
) -> None:
    recording = Recording(store)

    def meanwhile(query: str) -> None:
        if "CREATE (t:Twin" in query and recording.before_write is not None:
            recording.before_write = None
            store.write("CREATE (:Twin {id: 'pump-3', model: $model, _document: '{}'})", {"model": PUMP})

    recording.before_write = meanwhile
    with pytest.raises(Conflict, match="another writer created twins"):
        run(recording, bulk(TWINS, EDGES), batch_size=100)
    report = run(store, bulk(TWINS, EDGES), batch_size=100)
    assert report.ok, report.issues
    assert store.read("MATCH (t:Twin) RETURN count(t)").rows == [[8]]
    assert store.read("MATCH ()-[r:feeds]->() RETURN count(r)").rows == [[6]]


def test_a_failing_write_stops_the_import_with_its_error_and_its_writer_thread(store: GraphStore) -> None:
    recording = Recording(store)
    creates = 0
    after: list[str] = []

    def fail_second_batch(query: str) -> None:
        nonlocal creates
        if creates >= 2:
            after.append(query)
        if "CREATE (t:Twin" in query:
            creates += 1
            if creates == 2:
                raise BackendUnavailable(store.backend, "went away")

    recording.before_write = fail_second_batch
    threads = threading.active_count()
    with pytest.raises(BackendUnavailable, match="went away"):
        run(recording, bulk(TWINS, EDGES), batch_size=2)
    assert threading.active_count() == threads
    assert after == []  # the batches queued behind the failed one were dropped
    assert store.read("MATCH (t:Twin) RETURN count(t)").rows == [[2]]
