"""Bulk NDJSON import and export, on both engines (``docs/bulk-format.md``)."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from graph import exporter, importer
from graph.bulk import read_bulk, relationship_line, twin_line, write_bulk
from graph.exporter import export_bulk
from graph.importer import ImportReport, import_bulk
from graph.store import GraphStore
from tests.graph.plant import DOCS, PUMP, ROOM, TANK

TWINS = [
    twin_line("pump-1", PUMP, {"flow": 12.5, "location": {"lat": 1.0, "lon": 2.0}, "serial": "P1"}),
    twin_line("pump-2", PUMP, {"speeds": [1, 2, 3], "tags": {"area": "north"}}),
    twin_line("room-1", ROOM, {"name": "Boiler room"}),
    twin_line("tank-1", TANK, {"capacity": 500.0}),
]
RELATIONSHIPS = [
    relationship_line("pump-1", "f1", "feeds", "tank-1", {"since": "2024-01-01"}),
    relationship_line("pump-1", "l1", "locatedIn", "room-1", {}),
    relationship_line("pump-2", "f1", "feeds", "tank-1", {}),
]


def bulk(
    models: list[dict[str, Any]], twins: list[dict[str, Any]], relationships: list[dict[str, Any]]
) -> bytes:
    out = io.StringIO()
    write_bulk(out, models, twins, relationships)
    return out.getvalue().encode()


def run(store: GraphStore, data: bytes, **options: Any) -> ImportReport:
    return import_bulk(store, io.BytesIO(data), **options)


def export(store: GraphStore) -> bytes:
    out = io.StringIO()
    export_bulk(store, out, page_size=2)
    return out.getvalue().encode()


def count(store: GraphStore, query: str) -> int:
    return int(store.read(query).rows[0][0])


def test_export_of_an_import_is_the_same_file(store: GraphStore) -> None:
    report = run(store, bulk(DOCS, TWINS, RELATIONSHIPS), batch_size=2)
    assert report.ok, report.issues
    assert (report.models, report.twins, report.relationships) == (4, 4, 3)
    first = export(store)
    assert [json.loads(x) for x in first.splitlines()] == [
        json.loads(x) for x in bulk(DOCS, TWINS, RELATIONSHIPS).splitlines()
    ]
    store.write("MATCH (n) DETACH DELETE n")
    assert run(store, first).ok
    assert export(store) == first


def test_export_pages_hold_every_twin_once_whatever_its_characters(store: GraphStore) -> None:
    """Ids where Neo4j's ``>`` and ``ORDER BY`` disagree (``graph.keyset``): paged by two, each once."""
    ids = ["a", "a\U0001f600", "a\uff21", "\U0001d400", "\uff21", "\ue000b", "z"]
    assert run(store, bulk(DOCS, [twin_line(i, ROOM, {"name": i}) for i in ids], [])).ok
    exported = [json.loads(x) for x in export(store).splitlines()]
    twins = [line["$dtId"] for line in exported if "$dtId" in line]
    assert sorted(twins) == sorted(ids)


def test_imported_twins_have_the_shape_twin_graph_writes(store: GraphStore) -> None:
    run(store, bulk(DOCS, TWINS, RELATIONSHIPS))
    rows = store.read("MATCH (t:Pump:Equipment {id: 'pump-1'}) RETURN t").rows
    props = rows[0][0]["properties"]
    assert props["location.lat"] == 1.0
    assert props["etag"].startswith('W/"')
    assert props["createdAt"] == props["updatedAt"]
    since = store.read("MATCH (:Twin {id: 'pump-1'})-[f:feeds]->(:Tank) RETURN f.since").rows
    assert since == [["2024-01-01"]]


def test_a_second_run_changes_nothing(store: GraphStore) -> None:
    data = bulk(DOCS, TWINS, RELATIONSHIPS)
    run(store, data)
    etags = store.read("MATCH (t:Twin) RETURN t.id, t.etag ORDER BY t.id").rows
    again = run(store, data)
    assert again.ok, again.issues
    assert store.read("MATCH (t:Twin) RETURN t.id, t.etag ORDER BY t.id").rows == etags
    assert count(store, "MATCH ()-[r]->(:Twin) RETURN count(r)") == 3
    assert count(store, "MATCH (m:Model) RETURN count(m)") == 4


def test_a_changed_relationship_target_replaces_the_edge(store: GraphStore) -> None:
    run(store, bulk(DOCS, [*TWINS, twin_line("tank-2", TANK, {})], RELATIONSHIPS))
    moved = relationship_line("pump-1", "f1", "feeds", "tank-2", {})
    assert run(store, bulk([], [], [moved])).ok
    rows = store.read("MATCH (:Twin {id: 'pump-1'})-[f:feeds]->(t) RETURN t.id").rows
    assert rows == [["tank-2"]]


def test_dry_run_validates_and_writes_nothing(store: GraphStore) -> None:
    report = run(store, bulk(DOCS, TWINS, RELATIONSHIPS), dry_run=True)
    assert report.ok, report.issues
    assert (report.models, report.twins, report.relationships) == (4, 4, 3)
    assert count(store, "MATCH (n) RETURN count(n)") == 0


def test_invalid_lines_are_reported_by_number_and_the_valid_ones_written(store: GraphStore) -> None:
    twins = [*TWINS, twin_line("pump-3", PUMP, {"flow": "fast"}), twin_line("x", "dtmi:ex:None;1", {})]
    lines = bulk(DOCS, twins, RELATIONSHIPS).splitlines(keepends=True)
    lines[11] = b"{not json\n"
    data = b"".join(lines)
    report = run(store, data)
    # Lines: 1-2 header, 3 section, 4-7 models, 8 section, 9-14 twins.
    assert [(i.line, i.code) for i in report.issues] == [
        (12, "JSON_INVALID"),
        (13, "VALUE_INVALID"),
        (14, "MODEL_UNKNOWN"),
        (16, "NOT_FOUND"),
        (18, "NOT_FOUND"),
    ]
    assert "tank-1" in report.issues[3].message
    assert count(store, "MATCH (t:Twin) RETURN count(t)") == 3


def test_dry_run_reports_the_same_errors(store: GraphStore) -> None:
    bad = [*TWINS, twin_line("pump-3", PUMP, {"flow": "fast"})]
    report = run(store, bulk(DOCS, bad, RELATIONSHIPS), dry_run=True)
    assert [(i.line, i.code) for i in report.issues] == [(13, "VALUE_INVALID")]


def test_a_relationship_to_a_missing_twin_is_refused(store: GraphStore) -> None:
    run(store, bulk(DOCS, TWINS, []))
    dangling = relationship_line("pump-1", "f9", "feeds", "tank-9", {})
    report = run(store, bulk([], [], [dangling]))
    assert [(i.line, i.code) for i in report.issues] == [(6, "NOT_FOUND")]
    assert "'tank-9' does not exist" in report.issues[0].message
    assert count(store, "MATCH ()-[r:feeds]->() RETURN count(r)") == 0


def test_a_relationship_to_a_twin_of_the_wrong_model_is_refused(store: GraphStore) -> None:
    wrong = relationship_line("pump-1", "f9", "feeds", "room-1", {})
    report = run(store, bulk(DOCS, TWINS, [wrong]))
    assert [i.code for i in report.issues] == ["TARGET_MODEL_INVALID"]


def test_max_multiplicity_holds_within_a_batch_and_across_runs(store: GraphStore) -> None:
    second = relationship_line("pump-1", "l2", "locatedIn", "room-1", {})
    report = run(store, bulk(DOCS, TWINS, [*RELATIONSHIPS, second]))
    assert [(i.line, i.code) for i in report.issues] == [(17, "CONFLICT")]
    assert report.relationships == 3
    assert run(store, bulk([], [], [second])).issue_count == 1
    assert run(store, bulk(DOCS, TWINS, RELATIONSHIPS)).ok
    assert count(store, "MATCH (:Twin {id: 'pump-1'})-[r:locatedIn]->() RETURN count(r)") == 1


def test_a_registered_model_with_another_document_is_refused(store: GraphStore) -> None:
    run(store, bulk(DOCS, [], []))
    changed = [{**DOCS[3], "displayName": "Room"}]
    report = run(store, bulk(changed, [], []))
    assert [(i.line, i.code) for i in report.issues] == [(4, "MODEL_CONFLICT")]


def test_an_invalid_model_is_reported_at_its_line_and_nothing_of_the_batch_uploaded(
    store: GraphStore,
) -> None:
    bad = {"@context": DOCS[0]["@context"], "@id": "dtmi:ex:Bad;1", "@type": "Interface", "contents": 3}
    for dry_run in (True, False):
        report = run(store, bulk([*DOCS, bad], [], []), dry_run=dry_run)
        assert [i.line for i in report.issues] == [4]
        assert "lines 4, 5, 6, 7, 8" in report.issues[0].message
    assert count(store, "MATCH (m:Model) RETURN count(m)") == 0


def test_a_twin_of_another_model_is_a_conflict(store: GraphStore) -> None:
    run(store, bulk(DOCS, TWINS, []))
    report = run(store, bulk([], [twin_line("room-1", TANK, {})], []))
    assert [i.code for i in report.issues] == ["CONFLICT"]


def test_a_file_without_header_or_with_sections_out_of_order_is_refused(store: GraphStore) -> None:
    data = b'{"Section": "Twins"}\n{"Section": "Header"}\n'
    report = run(store, data)
    assert [(i.line, i.code) for i in report.issues] == [(1, "HEADER_MISSING"), (2, "SECTION_INVALID")]


def test_reading_a_large_file_takes_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson"
    with path.open("w") as out:
        twins = (twin_line(f"t{i:06d}", ROOM, {"name": f"room {i}"}) for i in range(200_000))
        write_bulk(out, [], twins, [])
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            lines = sum(1 for _ in read_bulk(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 200_001
    assert peak < 1_000_000, peak


def test_importing_many_twins_takes_memory_of_one_batch(
    store: GraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Beyond what the run remembers of the twins it wrote (a bounded memo), memory is a batch's.
    monkeypatch.setattr(importer, "MEMO_LIMIT", 1000)
    path = tmp_path / "many.ndjson"
    with path.open("w") as out:
        twins = (twin_line(f"t{i:06d}", ROOM, {"name": f"room {i}"}) for i in range(20_000))
        write_bulk(out, DOCS, twins, [])
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            report = import_bulk(store, stream, batch_size=500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert report.twins == 20_000
    assert count(store, "MATCH (t:Room) RETURN count(t)") == 20_000
    assert peak < 8_000_000, peak


def test_changed_relationship_properties_are_rewritten(store: GraphStore) -> None:
    run(store, bulk(DOCS, TWINS, RELATIONSHIPS))
    changed = relationship_line("pump-1", "f1", "feeds", "tank-1", {"since": "2025-01-01"})
    assert run(store, bulk([], [], [changed])).ok
    since = store.read("MATCH (:Twin {id: 'pump-1'})-[f:feeds]->(:Tank) RETURN f.since").rows
    assert since == [["2025-01-01"]]


def test_an_id_repeated_in_a_batch_is_written_once_by_its_last_line(store: GraphStore) -> None:
    twins = [*TWINS, twin_line("pump-1", PUMP, {"serial": "P9"}), twin_line("tank-2", TANK, {})]
    moved = relationship_line("pump-1", "f1", "feeds", "tank-2", {})
    report = run(store, bulk(DOCS, twins, [*RELATIONSHIPS, moved]))
    assert report.ok, report.issues
    assert store.read("MATCH (t:Twin {id: 'pump-1'}) RETURN t.serial").rows == [["P9"]]
    rows = store.read("MATCH (:Twin {id: 'pump-1'})-[f:feeds]->(t) RETURN f.id, t.id").rows
    assert rows == [["f1", "tank-2"]]


def test_export_walks_every_twin_once_in_order_while_twins_come_and_go(
    store: GraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many small windows and passes (FalkorDB's path), twins created and deleted mid-export."""
    monkeypatch.setattr(exporter, "PASS_TWINS", 7)
    monkeypatch.setattr(exporter, "SCAN_SPAN", 5)
    ids = [f"room-{(i * 37) % 101:03d}" for i in range(60)] + ["é-1", "\uff21", "a\U0001f600", "z"]
    assert run(store, bulk(DOCS, [twin_line(i, ROOM, {"name": i}) for i in ids], [])).ok
    doomed = {"room-100", "z"}
    kept = [i for i in ids if i not in doomed]
    changes = iter(range(1, 1000))

    def churn(lines: int) -> None:
        if lines == 10:  # past the models, before most twins: delete two, add some
            store.write("MATCH (t:Twin) WHERE t.id IN $ids DETACH DELETE t", {"ids": sorted(doomed)})
        if 10 <= lines < 40:
            store.write(
                "CREATE (:Twin:Room {id: $id, model: $model})", {"id": f"new-{next(changes)}", "model": ROOM}
            )

    out = io.StringIO()
    export_bulk(store, out, page_size=3, progress=churn)
    exported = [json.loads(x)["$dtId"] for x in out.getvalue().splitlines() if "$dtId" in x]
    assert sorted(exported) == sorted(set(exported)), "a twin exported twice"
    assert set(kept) <= set(exported)
    assert not set(exported) - set(kept) - doomed - {f"new-{i}" for i in range(1, 1000)}
    order = [row[0] for row in store.read("MATCH (t:Twin) RETURN t.id ORDER BY t.id").rows]
    assert [i for i in exported if i in kept] == [i for i in order if i in kept]
