"""Telemetry references on twin nodes, on both engines: where each twin's series live."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph import TwinTarget, neighbours, telemetry_targets
from graph.bulk import TELEMETRY, twin_line, write_bulk
from graph.events import ChangeEvent, ChangeKind, EventBus
from graph.exporter import export_bulk
from graph.importer import import_bulk
from graph.store import CypherResult, GraphStore
from graph.telemetry import DefaultRefs, ref_properties, some_telemetry_targets
from graph.twins import TwinGraph
from ontology import ModelSet, parse
from telemetry import TelemetryRef, default_ref
from tests.graph.plant import CTX, DOCS, PUMP, ROOM

SENSOR = "dtmi:ex:plant:Sensor;1"
SENSOR_DOC: dict[str, Any] = {
    "@context": CTX,
    "@id": SENSOR,
    "@type": "Interface",
    "contents": [
        {"@type": "Property", "name": "name", "schema": "string"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
        {"@type": "Telemetry", "name": "humidity", "schema": "double"},
        {"@type": "Relationship", "name": "locatedIn", "target": ROOM},
    ],
}
MODELS_DOCS = [*DOCS, SENSOR_DOC]
# A series another system already writes, with tags of its own besides twin_id.
EXTERNAL = TelemetryRef(
    bucket="scada",
    measurement="plc_values",
    tags={"twin_id": "s-1", "site": "north", "line": "2"},
    fields=("t_ambient",),
)


def models() -> ModelSet:
    return parse(MODELS_DOCS)


@pytest.fixture
def twins(store: GraphStore) -> TwinGraph:
    return TwinGraph(store, models())


def test_a_new_twin_carries_its_models_default_reference(twins: TwinGraph) -> None:
    twin = twins.put_twin("s-1", SENSOR, {"name": "probe"})
    expected = TelemetryRef("telemetry", "Sensor", {"twin_id": "s-1"}, ("humidity", "temperature"))
    assert twin.telemetry == expected == default_ref(twins.models, SENSOR, "s-1")
    assert twins.get_twin("s-1").telemetry == expected


def test_analysts_filter_twins_by_their_reference_in_cypher(twins: TwinGraph) -> None:
    twins.put_twin("s-1", SENSOR, {}, telemetry=EXTERNAL)
    twins.put_twin("s-2", SENSOR, {})
    twins.put_twin("pump-1", PUMP, {})
    rows = twins.store.read(
        "MATCH (t:Twin) WHERE t.`_telemetry.measurement` = 'Sensor' "
        "RETURN t.id, t.`_telemetry.bucket`, t.`_telemetry.fields`, t.`_telemetry.tags.twin_id`"
    ).rows
    assert rows == [["s-2", "telemetry", ["humidity", "temperature"], "s-2"]]
    tagged = twins.store.read(
        "MATCH (t:Twin) WHERE t.`_telemetry.tags.site` = 'north' AND 't_ambient' IN t.`_telemetry.fields` "
        "RETURN t.id, t.`_telemetry.tags.line`"
    ).rows
    assert tagged == [["s-1", "2"]]
    # A model without telemetry still names its measurement, with no fields.
    pump = twins.store.read("MATCH (t:Pump) RETURN t.`_telemetry.measurement`, t.`_telemetry.fields`").rows
    assert pump == [["Pump", []]]


def test_an_override_without_the_twin_id_tag_is_refused_and_nothing_written(twins: TwinGraph) -> None:
    from ontology.errors import ValidationFailed

    bad = TelemetryRef("scada", "plc_values", {"site": "north"}, ("t_ambient",))
    with pytest.raises(ValidationFailed, match="twin_id") as caught:
        twins.put_twin("s-1", SENSOR, {}, telemetry=bad)
    assert caught.value.details["errors"][0]["path"] == "/$telemetry/tags/twin_id"
    assert caught.value.details["errors"][0]["code"] == "TELEMETRY_INVALID"
    assert twins.store.read("MATCH (n:Twin) RETURN count(n)").rows == [[0]]
    wrong_twin = TelemetryRef("scada", "plc_values", {"twin_id": "s-9"})
    with pytest.raises(ValidationFailed, match="'s-1'"):
        twins.put_twin("s-1", SENSOR, {}, telemetry=wrong_twin)


def test_a_patch_keeps_the_reference_and_a_replace_without_one_resets_it(twins: TwinGraph) -> None:
    twins.put_twin("s-1", SENSOR, {"name": "probe"}, telemetry=EXTERNAL)
    patched = twins.patch_twin("s-1", [{"op": "replace", "path": "/name", "value": "probe 2"}])
    assert patched.telemetry == EXTERNAL
    assert twins.get_twin("s-1").telemetry == EXTERNAL
    replaced = twins.put_twin("s-1", SENSOR, {"name": "probe 3"})
    assert replaced.telemetry == default_ref(twins.models, SENSOR, "s-1")
    # The override's extra tag keys are gone from the node, not left behind.
    assert twins.store.read("MATCH (t:Twin) RETURN t.`_telemetry.tags.site`").rows == [[None]]


def test_set_telemetry_ref_changes_only_the_reference_and_none_resets_it(store: GraphStore) -> None:
    bus = EventBus()
    seen: list[ChangeEvent] = []
    bus.subscribe(seen.append)
    twins = TwinGraph(store, models(), events=bus)
    first = twins.put_twin("s-1", SENSOR, {"name": "probe"})
    moved = twins.set_telemetry_ref("s-1", EXTERNAL)
    assert (moved.telemetry, moved.properties, moved.created_at) == (
        EXTERNAL,
        {"name": "probe"},
        first.created_at,
    )
    assert moved.etag != first.etag
    assert twins.get_twin("s-1").telemetry == EXTERNAL
    assert (seen[-1].kind, seen[-1].data) == (
        ChangeKind.TWIN_UPDATED,
        {"etag": moved.etag, "patch": [], "telemetry": EXTERNAL.to_dict()},
    )
    back = twins.set_telemetry_ref("s-1", None)
    assert back.telemetry == default_ref(twins.models, SENSOR, "s-1")
    assert store.read("MATCH (t:Twin) RETURN t.`_telemetry.bucket`, t.`_telemetry.tags.site`").rows == [
        ["telemetry", None]
    ]


def test_set_telemetry_ref_with_a_stale_etag_is_a_conflict(twins: TwinGraph) -> None:
    from ontology.errors import Conflict

    first = twins.put_twin("s-1", SENSOR, {})
    twins.patch_twin("s-1", [{"op": "add", "path": "/name", "value": "x"}])
    with pytest.raises(Conflict):
        twins.set_telemetry_ref("s-1", EXTERNAL, if_match=first.etag)
    assert twins.get_twin("s-1").telemetry == default_ref(twins.models, SENSOR, "s-1")


class CountingStore:
    """The real store, counting the reads that reach it (a wrapper of our own port, not a mock)."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.reads = 0

    def query_rows(self, query: str, params: Mapping[str, Any] | None = None, **kw: Any) -> list[list[Any]]:
        self.reads += 1
        return self.inner.query_rows(query, params, **kw)

    def read(self, query: str, params: Mapping[str, Any] | None = None, **kw: Any) -> CypherResult:
        self.reads += 1
        return self.inner.read(query, params, **kw)


def test_telemetry_targets_resolves_many_twins_in_one_read(twins: TwinGraph) -> None:
    twins.put_twin("s-1", SENSOR, {}, telemetry=EXTERNAL)
    twins.put_twin("s-2", SENSOR, {})
    twins.put_twin("pump-1", PUMP, {})
    counting = CountingStore(twins.store)
    found = telemetry_targets(counting, ["s-1", "s-2", "pump-1", "nobody", "s-1"])  # type: ignore[arg-type]
    assert counting.reads == 1
    assert found == {
        "s-1": TwinTarget(SENSOR, EXTERNAL),
        "s-2": TwinTarget(SENSOR, default_ref(twins.models, SENSOR, "s-2")),
        "pump-1": TwinTarget(PUMP, default_ref(twins.models, PUMP, "pump-1")),
    }
    assert telemetry_targets(twins.store, []) == {}


def test_some_telemetry_targets_lists_at_most_the_limit_in_one_read(twins: TwinGraph) -> None:
    twins.put_twin("s-1", SENSOR, {}, telemetry=EXTERNAL)
    twins.put_twin("s-2", SENSOR, {})
    twins.put_twin("pump-1", PUMP, {})
    counting = CountingStore(twins.store)
    every = some_telemetry_targets(counting, 10)  # type: ignore[arg-type]
    assert counting.reads == 1
    assert every == telemetry_targets(twins.store, ["s-1", "s-2", "pump-1"])
    assert len(every) == 3  # twins only, not kgtwin's own nodes (models, version)
    two = some_telemetry_targets(twins.store, 2)
    assert len(two) == 2
    assert all(every[twin_id] == target for twin_id, target in two.items())


def test_a_node_written_before_references_existed_reads_as_the_default(twins: TwinGraph) -> None:
    twins.store.write(
        "CREATE (:Twin:Sensor {id: 's-old', model: $model, etag: 'W/\"x\"', createdAt: 'a', updatedAt: 'a', "
        "_document: '{}'})",
        {"model": SENSOR},
    )
    assert twins.get_twin("s-old").telemetry == default_ref(twins.models, SENSOR, "s-old")
    target = telemetry_targets(twins.store, ["s-old"])["s-old"]
    assert (target.ref.measurement, target.ref.twin_id) == ("Sensor", "s-old")


def test_twins_reached_by_a_walk_carry_their_reference(twins: TwinGraph) -> None:
    twins.put_twin("room-1", ROOM, {})
    twins.put_twin("s-1", SENSOR, {}, telemetry=EXTERNAL)
    twins.put_relationship("s-1", "l1", "locatedIn", "room-1")
    [near] = neighbours(twins.store, "room-1", direction="in")
    assert near.twin.telemetry == EXTERNAL


def bulk_file(twin_lines: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    write_bulk(out, MODELS_DOCS, twin_lines, [])
    return out.getvalue().encode()


def export(store: GraphStore) -> bytes:
    out = io.StringIO()
    export_bulk(store, out)
    return out.getvalue().encode()


def test_bulk_import_writes_default_and_overridden_references_and_round_trips(store: GraphStore) -> None:
    data = bulk_file(
        [
            twin_line("s-1", SENSOR, {"name": "probe"}, EXTERNAL.to_dict()),
            twin_line("s-2", SENSOR, {}),
        ]
    )
    report = import_bulk(store, io.BytesIO(data))
    assert report.ok, report.issues
    assert telemetry_targets(store, ["s-1", "s-2"]) == {
        "s-1": TwinTarget(SENSOR, EXTERNAL),
        "s-2": TwinTarget(SENSOR, default_ref(models(), SENSOR, "s-2")),
    }
    first = export(store)
    # The default reference is left out, the override written (models come back key-sorted).
    assert [json.loads(x) for x in first.splitlines()] == [json.loads(x) for x in data.splitlines()]
    assert first.count(b'"$telemetry"') == 1
    store.write("MATCH (n) DETACH DELETE n")
    assert import_bulk(store, io.BytesIO(first)).ok
    assert export(store) == first


def test_bulk_reimport_with_another_reference_rewrites_it(store: GraphStore) -> None:
    assert import_bulk(store, io.BytesIO(bulk_file([twin_line("s-1", SENSOR, {})]))).ok
    etag = TwinGraph(store, models()).get_twin("s-1").etag
    assert import_bulk(store, io.BytesIO(bulk_file([twin_line("s-1", SENSOR, {}, EXTERNAL.to_dict())]))).ok
    twin = TwinGraph(store, models()).get_twin("s-1")
    assert (twin.telemetry, twin.etag != etag) == (EXTERNAL, True)


def test_bulk_lines_with_a_bad_reference_are_refused_by_line(store: GraphStore) -> None:
    data = bulk_file(
        [
            twin_line(
                "s-1", SENSOR, {}, {"bucket": "b", "measurement": "m", "tags": {"site": "x"}, "fields": []}
            ),
            {**twin_line("s-2", SENSOR, {}), TELEMETRY: {"bucket": 3}},
            twin_line("s-3", SENSOR, {}),
        ]
    )
    report = import_bulk(store, io.BytesIO(data))
    assert [(i.line, i.code) for i in report.issues] == [(10, "TELEMETRY_INVALID"), (11, "LINE_INVALID")]
    assert "twin_id" in report.issues[0].message
    assert store.read("MATCH (t:Twin) RETURN t.id").rows == [["s-3"]]


@given(st.text(min_size=1))
def test_default_refs_give_the_properties_of_the_default_reference(twin_id: str) -> None:
    models = parse([*DOCS, SENSOR_DOC])
    refs = DefaultRefs(models)
    for model in (SENSOR, PUMP, ROOM):
        assert refs.properties(model, twin_id) == ref_properties(default_ref(models, model, twin_id))
