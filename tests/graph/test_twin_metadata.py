"""Per-property metadata rules (graph.twin_metadata): pure functions, no database."""

from __future__ import annotations

import pytest

from graph.twin_metadata import (
    metadata_of,
    source_times,
    split_patch,
    stamp_document,
    stamp_patch,
    without_metadata,
)
from ontology.errors import BadRequest

COMPONENTS = frozenset({"sensor"})


def test_source_times_are_read_from_the_twin_and_its_components() -> None:
    body = {
        "$metadata": {"$model": "dtmi:x;1", "setpoint": {"sourceTime": "2026-01-01T00:00:00.1234567Z"}},
        "setpoint": 1.0,
        "sensor": {"$metadata": {"offset": {"sourceTime": "2026-01-02T00:00:00+02:00"}}, "offset": 2.0},
    }
    assert source_times(body, COMPONENTS) == {
        "setpoint": "2026-01-01T00:00:00.1234567Z",
        "sensor": {"offset": "2026-01-02T00:00:00+02:00"},
    }
    assert without_metadata(body, COMPONENTS) == {"setpoint": 1.0, "sensor": {"offset": 2.0}}


@pytest.mark.parametrize("bad", ["yesterday", 12, "2026-01-01T00:00:00", None])
def test_a_source_time_must_be_rfc3339_with_an_offset(bad: object) -> None:
    with pytest.raises(BadRequest, match="RFC 3339"):
        source_times({"$metadata": {"p": {"sourceTime": bad}}}, COMPONENTS)


def test_a_patch_touching_a_component_property_stamps_it_and_the_component() -> None:
    before = stamp_document({"setpoint": 1.0, "sensor": {"offset": 2.0, "unit": "K"}}, COMPONENTS, "T1")
    after = stamp_patch(
        before,
        {"setpoint": 1.0, "sensor": {"offset": 3.0, "unit": "K"}},
        COMPONENTS,
        [{"op": "replace", "path": "/sensor/offset", "value": 3.0}],
        [],
        "T2",
    )
    assert after == {
        "setpoint": {"lastUpdateTime": "T1"},
        "sensor": {
            "$lastUpdateTime": "T2",
            "offset": {"lastUpdateTime": "T2"},
            "unit": {"lastUpdateTime": "T1"},
        },
    }


def test_a_new_value_without_a_source_time_drops_the_old_one() -> None:
    before = stamp_document({"setpoint": 1.0}, COMPONENTS, "T1", {"setpoint": "2026-01-01T00:00:00Z"})
    after = stamp_patch(
        before, {"setpoint": 2.0}, COMPONENTS, [{"op": "replace", "path": "/setpoint"}], [], "T2"
    )
    assert after == {"setpoint": {"lastUpdateTime": "T2"}}


def test_metadata_operations_are_split_from_document_operations() -> None:
    ops, changes = split_patch(
        [
            {"op": "replace", "path": "/setpoint", "value": 2.0},
            {"op": "add", "path": "/sensor/$metadata/offset/sourceTime", "value": "2026-01-01T00:00:00Z"},
            {"op": "remove", "path": "/$metadata/setpoint/sourceTime"},
        ],
        COMPONENTS,
    )
    assert ops == [{"op": "replace", "path": "/setpoint", "value": 2.0}]
    assert changes == [(("sensor", "offset"), "2026-01-01T00:00:00Z"), (("setpoint",), None)]


def test_nodes_without_metadata_read_as_written_at_their_update_time() -> None:
    shown = metadata_of({}, {"setpoint": 1.0, "sensor": {"offset": 2.0}}, COMPONENTS, "T0")
    assert shown == {
        "setpoint": {"lastUpdateTime": "T0"},
        "sensor": {"$lastUpdateTime": "T0", "offset": {"lastUpdateTime": "T0"}},
    }
