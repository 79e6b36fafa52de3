"""Decoding, mapping and validating telemetry messages; the spool, the caches (no broker needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from graph.events import ChangeEvent, ChangeKind
from graph.telemetry import TwinTarget
from ingest.dead_letters import Reason, Rejected, dead_letter
from ingest.messages import (
    DEFAULT_MAPPING,
    MessageDecoder,
    Reading,
    TopicMapping,
    check_reading,
    parse_ts,
)
from ingest.pipeline import Models, Pipeline
from ingest.service import IngestService
from ingest.spool import Spool, SpoolFull
from ingest.subscriber import Inbound, SessionOptions
from ingest.targets import TwinTargets
from ontology.instances import validator_for
from telemetry.duckdb import DuckDbTelemetryStore
from telemetry.latest_values import LatestValues
from telemetry.points import TelemetryPoint
from telemetry.refs import TelemetryRef
from tests.ingest.helpers import SENSOR, sensor_models

NOW_NS = 1_764_000_000_000_000_000


def decode(topic: str, payload: object, decoder: MessageDecoder | None = None) -> list[Reading | Rejected]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return (decoder or MessageDecoder()).decode(topic, raw, NOW_NS)


def test_default_topic_names_the_twin_and_ts_sets_the_time() -> None:
    [reading] = decode("kgtwin/twins/pump-1/telemetry", {"v0": 1.5, "ts": 1_700_000_000_123})
    assert reading == Reading("pump-1", {"v0": 1.5}, 1_700_000_000_123_000_000, True)


def test_without_ts_the_server_time_is_used() -> None:
    [reading] = decode("kgtwin/twins/p/telemetry", {"v0": 1})
    assert isinstance(reading, Reading)
    assert (reading.time_ns, reading.has_ts) == (NOW_NS, False)


def test_rfc3339_ts_with_offset() -> None:
    [reading] = decode("kgtwin/twins/p/telemetry", {"v0": 1, "ts": "2025-11-24T08:00:00.5+01:00"})
    assert isinstance(reading, Reading)
    seconds = int(datetime(2025, 11, 24, 7, 0, 0, tzinfo=UTC).timestamp())
    assert reading.time_ns == seconds * 1_000_000_000 + 500_000_000


def test_batch_form_gives_one_reading_per_object_and_rejects_only_the_bad_one() -> None:
    items = decode("kgtwin/twins/p/telemetry", [{"v0": 1, "ts": 1}, {"v0": 2, "ts": "yesterday"}, 5])
    assert isinstance(items[0], Reading)
    assert isinstance(items[1], Rejected)
    assert items[1].reason == Reason.BAD_TIMESTAMP
    assert items[1].path == "/1/ts"
    assert isinstance(items[2], Rejected)
    assert items[2].reason == Reason.BAD_SHAPE


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", Reason.BAD_JSON),
        (b"\xff\xfe", Reason.BAD_JSON),
        (b"42", Reason.BAD_SHAPE),
        (b"[]", Reason.BAD_SHAPE),
        (b'{"ts": 1}', Reason.BAD_SHAPE),
        (b'{"v0": 1, "ts": "2026-11-25T08:00:00"}', Reason.BAD_TIMESTAMP),
        (b'{"v0": 1, "ts": true}', Reason.BAD_TIMESTAMP),
        (b"[" + b'{"v0": 1},' * 30_000 + b'{"v0": 1}]', Reason.OVERSIZED),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(payload: bytes, reason: Reason) -> None:
    [item] = decode("kgtwin/twins/p/telemetry", payload)
    assert isinstance(item, Rejected)
    assert item.reason == reason


def test_a_topic_no_mapping_matches_is_rejected() -> None:
    [item] = decode("elsewhere/p", {"v0": 1})
    assert isinstance(item, Rejected)
    assert item.reason == Reason.NO_MAPPING


def test_mapping_takes_the_twin_from_a_topic_level_and_renames_fields() -> None:
    mapping = TopicMapping(
        topic="plant/+/line/+/sensors", twin_id_segment=3, fields={"T": "v0"}, ts_key="time"
    )
    decoder = MessageDecoder([mapping, DEFAULT_MAPPING])
    [reading] = decode("plant/a/line/s-7/sensors", {"T": 20.5, "v1": 3.0, "time": 5}, decoder)
    assert isinstance(reading, Reading)
    assert reading[:4] == ("s-7", {"v0": 20.5, "v1": 3.0}, 5_000_000, True)
    assert reading.in_message("/v0") == "/T"  # a dead letter names the key as sent
    assert decoder.filters == ["plant/+/line/+/sensors", "kgtwin/twins/+/telemetry"]


def test_mapping_takes_the_twin_from_a_payload_key_and_may_drop_unmapped_keys() -> None:
    mapping = TopicMapping(topic="gw/#", twin_id_key="dev", fields={"t": "v0"}, drop_unmapped=True)
    decoder = MessageDecoder([mapping])
    items = decode("gw/site/1", [{"dev": "a", "t": 1, "rssi": -70}, {"t": 2}], decoder)
    assert isinstance(items[0], Reading)
    assert items[0][:5] == ("a", {"v0": 1}, NOW_NS, False, "/0")
    assert isinstance(items[1], Rejected)
    assert items[1].reason == Reason.NO_TWIN_ID


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topic": "a/+"}, "exactly one"),
        ({"topic": "a/+", "twin_id_segment": 1, "twin_id_key": "id"}, "exactly one"),
        ({"topic": "a/b+", "twin_id_segment": 1}, "whole topic level"),
        ({"topic": "a/#/b", "twin_id_segment": 0}, "last level"),
        ({"topic": "a/b", "twin_id_segment": 5}, "beyond"),
    ],
)
def test_invalid_mappings_are_refused_when_settings_load(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TopicMapping.model_validate(kwargs)


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/c/d", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("+/+", "a", False),
        ("a/b", "a/b", True),
    ],
)
def test_topic_filters_follow_mqtt_wildcards(pattern: str, topic: str, matches: bool) -> None:
    assert TopicMapping(topic=pattern, twin_id_key="id").matches(topic.split("/")) is matches


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_epoch_milliseconds_and_rfc3339_agree(ms: int) -> None:
    text = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    assert parse_ts(ms) == parse_ts(text) == ms * 1_000_000


def test_dead_letter_names_reason_topic_twin_and_echoes_the_payload() -> None:
    rejected = Rejected(Reason.WRONG_TYPE, "expected a double", twin_id="p", path="/v0")
    letter = json.loads(dead_letter(rejected, "kgtwin/twins/p/telemetry", b'{"v0": "x"}', NOW_NS))
    assert letter == {
        "reason": "WRONG_TYPE",
        "detail": "expected a double",
        "topic": "kgtwin/twins/p/telemetry",
        "receivedAt": "2025-11-24T16:00:00.000+00:00",
        "twinId": "p",
        "path": "/v0",
        "payload": '{"v0": "x"}',
    }
    binary = json.loads(dead_letter(rejected, "t", b"\xff" * 5000, NOW_NS))
    assert binary["payloadTruncated"] is True
    assert "payloadBase64" in binary


# --- the pipeline, with a fake resolver (a function over known twins) ---------------------


def pipeline(known: dict[str, str]) -> tuple[Pipeline, list[list[str]]]:
    calls: list[list[str]] = []
    models = sensor_models()

    def resolve(ids: Sequence[str]) -> dict[str, TwinTarget]:
        calls.append(list(ids))
        return {
            i: TwinTarget(known[i], TelemetryRef("telemetry", "Sensor", {"twin_id": i}))
            for i in ids
            if i in known
        }

    return Pipeline(MessageDecoder(), TwinTargets(resolve), Models(lambda: models)), calls


def inbound(twin_id: str, payload: object, mid: int = 1) -> Inbound:
    return Inbound(f"kgtwin/twins/{twin_id}/telemetry", json.dumps(payload).encode(), mid, 1, NOW_NS, 1)


def test_pipeline_validates_against_the_model_and_dead_letters_each_bad_message() -> None:
    run, calls = pipeline({"s1": SENSOR, "s2": SENSOR, "odd": "dtmi:ex:Missing;1"})
    outcome = run.process(
        [
            inbound("s1", {"v0": 1.0, "v1": 2, "state": "ok", "ts": 10}),
            inbound("s2", {"v0": "hot"}),
            inbound("s2", {"nope": 1}),
            inbound("ghost", {"v0": 1.0}),
            inbound("odd", {"v0": 1.0}),
            inbound("s1", {"count": 1.5}),
        ]
    )
    assert outcome.points == [
        TelemetryPoint(
            "telemetry", "Sensor", {"twin_id": "s1"}, {"v0": 1.0, "v1": 2.0, "state": "ok"}, 10_000_000
        )
    ]
    # JSON's 2 for a double is stored as 2.0 (InfluxDB keeps one type per field):
    assert type(outcome.points[0].fields["v1"]) is float
    assert outcome.values == 3
    assert dict(outcome.rejected) == {"WRONG_TYPE": 2, "UNKNOWN_FIELD": 1, "UNKNOWN_TWIN": 2}
    reasons = [json.loads(letter)["reason"] for letter in outcome.letters]
    assert reasons == ["WRONG_TYPE", "UNKNOWN_FIELD", "UNKNOWN_TWIN", "UNKNOWN_TWIN", "WRONG_TYPE"]
    assert calls == [["s1", "s2", "ghost", "odd"]]  # the misses of the batch: one lookup


def test_twin_lookups_are_cached_and_unknown_twins_remembered() -> None:
    run, calls = pipeline({"s1": SENSOR})
    for _ in range(3):
        run.process([inbound("s1", {"v0": 1.0}), inbound("ghost", {"v0": 1.0})])
    assert calls == [["s1", "ghost"]]
    run.targets.invalidate(["s1"])
    run.process([inbound("s1", {"v0": 1.0})])
    assert calls[-1] == ["s1"]


# --- the spool and the last-value cache -------------------------------------------------


def point(twin_id: str, value: float, time_ns: int) -> TelemetryPoint:
    return TelemetryPoint("telemetry", "Sensor", {"twin_id": twin_id}, {"v0": value, "state": "ok"}, time_ns)


def test_spool_keeps_batches_in_order_across_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_points=3)
    spool.push([point("a", 1.0, 1), point("a", 2.0, 2)])
    spool.push([point("b", 3.0, 3)])
    with pytest.raises(SpoolFull):
        spool.push([point("c", 4.0, 4)])
    spool.close()
    again = Spool(tmp_path / "s.sqlite", max_points=3)
    assert (len(again), again.points) == (2, 3)
    head = again.peek()
    assert head is not None
    assert head[1] == [point("a", 1.0, 1), point("a", 2.0, 2)]
    again.drop(head[0])
    assert again.peek() == (head[0] + 1, [point("b", 3.0, 3)])
    assert again.points == 1


def test_latest_values_keep_the_newest_and_report_changed_twins_once() -> None:
    latest = LatestValues()
    latest.update([point("a", 2.0, 20), point("a", 1.0, 10), point("b", 5.0, 5)])
    assert latest.get("a")["v0"].value == 2.0
    assert latest.get("a")["v0"].time_ns == 20
    assert sorted(latest.take_changed()) == ["a", "b"]
    assert latest.take_changed() == {}
    latest.update([point("a", 0.5, 1)])  # older than what is known: nothing changes
    assert latest.take_changed() == {}
    assert latest.get("nobody") == {}


def test_a_twin_change_event_clears_its_cache_entries(tmp_path: Path) -> None:
    run, calls = pipeline({"s1": SENSOR})
    service = IngestService(
        SessionOptions("127.0.0.1", 1, "unused", ["kgtwin/twins/+/telemetry"]),
        DuckDbTelemetryStore(None),
        run,
        Spool(tmp_path / "spool.sqlite"),
    )
    run.process([inbound("s1", {"v0": 1.0}), inbound("new", {"v0": 1.0})])
    service.latest.update([point("s1", 1.0, 1)])
    service.on_change(ChangeEvent(ChangeKind.TWIN_CREATED, "new", "2026-11-25T08:00:00.000Z"))
    service.on_change(ChangeEvent(ChangeKind.TWIN_DELETED, "s1", "2026-11-25T08:00:00.000Z"))
    run.process([inbound("s1", {"v0": 1.0}), inbound("new", {"v0": 1.0})])
    assert calls == [["s1", "new"], ["s1", "new"]]  # both looked up again
    assert service.latest.get("s1") == {}


@pytest.mark.parametrize(
    ("twin_id", "detail"),
    [
        ("nul\x00id", "U+0000"),
        ("bell\x07", "U+0007"),
        ("del\x7f", "U+007F"),
        ("c1\x85", "U+0085"),
        ("line\nbreak", "U+000A"),
        ("x" * 257, "257 characters, more than 256"),
    ],
)
def test_twin_ids_with_control_characters_or_too_long_are_refused_at_the_door(
    twin_id: str, detail: str
) -> None:
    [from_topic] = decode(f"kgtwin/twins/{twin_id}/telemetry", {"v0": 1.0})
    assert isinstance(from_topic, Rejected)
    assert from_topic.reason == Reason.BAD_TWIN_ID
    assert detail in from_topic.detail
    mapped = MessageDecoder([TopicMapping(topic="gw/#", twin_id_key="device")])
    [from_payload] = decode("gw/1", [{"device": twin_id, "v0": 1.0}], mapped)
    assert isinstance(from_payload, Rejected)
    assert (from_payload.reason, from_payload.path) == (Reason.BAD_TWIN_ID, "/0/device")
    # Only a short id is echoed back to the dead letter.
    assert from_payload.twin_id == (None if len(twin_id) > 256 else twin_id)


def test_the_longest_allowed_twin_id_and_any_printable_unicode_are_taken() -> None:
    for twin_id in ("x" * 256, "Raum-ä-東京-🌡", "a b\u2028c"):
        [reading] = decode(f"kgtwin/twins/{twin_id}/telemetry", {"v0": 1.0})
        assert isinstance(reading, Reading), reading
        assert reading.twin_id == twin_id


@pytest.mark.parametrize(
    ("ts", "detail"),
    [
        (1e30, "far ahead of the server's clock"),
        ("9999-12-31T23:59:59Z", "far ahead"),
        (NOW_NS // 1_000_000 + 601_000, "601 s ahead of the server's clock; at most 600 s"),
        (-1, "before 1970"),
        ("1969-12-31T23:59:59.999Z", "before 1970"),
    ],
)
def test_a_time_outside_what_can_be_kept_is_a_bad_timestamp(ts: object, detail: str) -> None:
    [rejected] = decode("kgtwin/twins/p/telemetry", {"v0": 1.0, "ts": ts})
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.path, rejected.twin_id) == (Reason.BAD_TIMESTAMP, "/ts", "p")
    assert detail in rejected.detail


def test_the_future_skew_is_a_setting_and_its_edge_is_taken() -> None:
    strict = MessageDecoder(max_future_skew_s=5)
    [edge] = decode("kgtwin/twins/p/telemetry", {"v0": 1.0, "ts": NOW_NS // 1_000_000 + 5_000}, strict)
    [beyond] = decode("kgtwin/twins/p/telemetry", {"v0": 1.0, "ts": NOW_NS // 1_000_000 + 5_001}, strict)
    assert isinstance(edge, Reading)
    assert isinstance(beyond, Rejected)
    assert "at most 5 s" in beyond.detail
    [epoch] = decode("kgtwin/twins/p/telemetry", {"v0": 1.0, "ts": 0})
    assert isinstance(epoch, Reading)


def test_text_holding_nul_is_a_wrong_type_and_other_control_characters_are_kept() -> None:
    validator = validator_for(sensor_models(), SENSOR)
    nul = Reading("p", {"state": "on\x00off", "v0": 1.0}, NOW_NS, False)
    problem = check_reading(nul, validator)
    assert problem is not None
    assert (problem.reason, problem.path) == (Reason.WRONG_TYPE, "/state")
    assert "U+0000" in problem.detail
    assert check_reading(Reading("p", {"state": "tab\there\x1b"}, NOW_NS, False), validator) is None


def test_the_topic_cache_is_bounded_by_bytes() -> None:
    decoder = MessageDecoder()
    for i in range(400):
        decoder.decode(f"kgtwin/twins/{i}-{'y' * 30_000}/telemetry", b"{}", NOW_NS)
    assert sum(len(t) for t in decoder._by_topic) <= 8 * 1024 * 1024
