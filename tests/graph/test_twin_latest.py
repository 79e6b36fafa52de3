"""The last telemetry values on a twin's node, as ``Twin.latest``: parsed, never in ``properties``.

The ingest service writes ``_latest.<name>`` and ``_latestAt.<name>`` (``graph.latest``);
``Twin.from_node`` turns each complete pair into a ``Sample`` and leaves out what it
cannot read, so a node edited by hand never makes reading a twin fail.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from graph.latest import latest_properties, write_latest
from graph.physical import DOCUMENT
from graph.store import GraphStore
from graph.times import utc_text_ns
from graph.twin import Twin
from graph.twins import TwinGraph
from telemetry.points import FieldValue, Sample
from tests.graph.plant import PUMP, plant_models

DOC = {"serial": "P-100", "flow": 12.5}


def node(**extra: Any) -> dict[str, Any]:
    """A pump's node properties as the graph stores them, plus ``extra``."""
    return {
        "id": "pump-1",
        "model": PUMP,
        "etag": 'W/"1"',
        "createdAt": "2026-11-25T06:00:00.000Z",
        "updatedAt": "2026-11-25T06:00:00.000Z",
        DOCUMENT: json.dumps(DOC),
        "serial": "P-100",
        "flow": 12.5,
        **extra,
    }


def test_each_value_with_its_time_becomes_a_sample_in_utc() -> None:
    twin = Twin.from_node(
        node(
            **{
                "_latest.speed": 1450,
                "_latestAt.speed": "2026-11-25T06:12:00.123Z",
                "_latest.running": True,
                "_latestAt.running": "2026-11-25T07:12:01.000+01:00",
                "_latest.mode": "auto",
                "_latestAt.mode": "2026-11-25T06:12:02",
            }
        )
    )
    assert twin.latest == {
        "speed": Sample(datetime(2026, 11, 25, 6, 12, 0, 123_000, tzinfo=UTC), 1450),
        "running": Sample(datetime(2026, 11, 25, 6, 12, 1, tzinfo=UTC), True),
        "mode": Sample(datetime(2026, 11, 25, 6, 12, 2, tzinfo=UTC), "auto"),
    }
    assert all(sample.time.utcoffset() is not None for sample in twin.latest.values())


def test_a_value_without_a_readable_time_or_a_time_without_a_value_is_left_out() -> None:
    twin = Twin.from_node(
        node(
            **{
                "_latest.speed": 1450,
                "_latestAt.speed": "yesterday",
                "_latest.flow": 3.5,  # no time
                "_latestAt.pressure": "2026-11-25T06:12:00.123Z",  # no value
                "_latest.level": 0.5,
                "_latestAt.level": 1764051120,  # not text
                "_latest.mode": "auto",
                "_latestAt.mode": "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
                "_latest.tags": ["a"],  # not a telemetry value
                "_latestAt.tags": "2026-11-25T06:12:00.123Z",
                "_latest.temperature": 21.5,
                "_latestAt.temperature": "2026-11-25T06:12:00.123Z",
            }
        )
    )
    assert set(twin.latest) == {"temperature"}


def test_last_values_stay_out_of_the_document_and_of_equality() -> None:
    plain = Twin.from_node(node())
    with_values = Twin.from_node(node(**{"_latest.flow": 3.5, "_latestAt.flow": "2026-11-25T06:12:00.123Z"}))
    assert plain.latest == {}
    assert with_values.properties == plain.properties == DOC
    assert with_values == plain  # one version of a twin, whatever arrived since


@given(
    value=st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.text(),
    ),
    time_ns=st.integers(min_value=0, max_value=253_402_300_799_999_999_999),  # up to 9999-12-31
)
def test_what_the_ingest_writes_reads_back_to_the_millisecond(value: FieldValue, time_ns: int) -> None:
    twin = Twin.from_node(node(**latest_properties({"speed": value}, {"speed": time_ns})))
    expected = datetime.fromtimestamp(time_ns // 1_000_000 // 1000, tz=UTC).replace(
        microsecond=time_ns // 1_000_000 % 1000 * 1000
    )
    assert twin.latest == {"speed": Sample(expected, value)}
    assert utc_text_ns(time_ns) == expected.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_twin_read_from_the_graph_carries_the_values_the_ingest_wrote(store: GraphStore) -> None:
    twins = TwinGraph(store, plant_models())
    created = twins.put_twin("pump-1", PUMP, DOC)
    at_ns = 1_764_051_120_123_456_789  # 2025-11-25T06:12:00.123456789Z
    assert write_latest(
        store, {"pump-1": ({"speed": 1450, "running": True}, {"speed": at_ns, "running": at_ns})}
    )
    got = twins.get_twin("pump-1")
    at = datetime(2025, 11, 25, 6, 12, 0, 123_000, tzinfo=UTC)
    assert got.latest == {"speed": Sample(at, 1450), "running": Sample(at, True)}
    assert got.properties == DOC
    assert got == created  # writing values is no change of the twin (same etag and document)


def test_a_write_of_the_twin_clears_its_last_values(store: GraphStore) -> None:
    twins = TwinGraph(store, plant_models())
    twins.put_twin("pump-1", PUMP, DOC)
    write_latest(store, {"pump-1": ({"speed": 1450}, {"speed": 1_764_051_120_123_000_000})})
    patched = twins.patch_twin("pump-1", [{"op": "replace", "path": "/flow", "value": 13.0}])
    assert patched.latest == {}
    assert twins.get_twin("pump-1").latest == {}
