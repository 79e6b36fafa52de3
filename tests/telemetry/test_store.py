"""The ``TelemetryStore`` contract, run against every backend (memory, DuckDB and a real InfluxDB)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ontology.errors import BadRequest
from telemetry.checks import check_field, check_series
from telemetry.points import Aggregate, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef
from telemetry.store import TelemetryStore

T0 = datetime(2026, 11, 25, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000
S = 1_000_000_000


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def point(
    bucket: str, twin: str, seconds: int, measurement: str = "Room", **fields: object
) -> TelemetryPoint:
    return TelemetryPoint(bucket, measurement, {"twin_id": twin}, fields, T0_NS + seconds * S)  # type: ignore[arg-type]


def ref(bucket: str, twin: str, *fields: str, measurement: str = "Room") -> TelemetryRef:
    return TelemetryRef(bucket, measurement, {"twin_id": twin}, tuple(fields))


def values(samples: list[Sample]) -> list[object]:
    return [s.value for s in samples]


def test_latest_gives_the_newest_value_of_each_field(telemetry_store: TelemetryStore, bucket: str) -> None:
    telemetry_store.write(
        [
            point(bucket, "room-1", 0, temperature=20.0, humidity=40.0),
            point(bucket, "room-1", 10, temperature=21.5),
            point(bucket, "room-1", 5, humidity=45.0, co2=400.0),  # older than the newest temperature
        ]
    )
    [latest] = telemetry_store.latest([ref(bucket, "room-1", "temperature", "humidity")])
    assert latest == {"temperature": Sample(at(10), 21.5), "humidity": Sample(at(5), 45.0)}
    assert latest["temperature"].time.tzinfo is not None
    # A reference without fields reads every field; ``fields`` overrides the reference's.
    assert set(telemetry_store.latest([ref(bucket, "room-1")])[0]) == {"temperature", "humidity", "co2"}
    assert telemetry_store.latest([ref(bucket, "room-1", "temperature")], fields=["co2"]) == [
        {"co2": Sample(at(5), 400.0)}
    ]


def test_windowed_aggregates_use_epoch_aligned_windows(telemetry_store: TelemetryStore, bucket: str) -> None:
    # Window [0, 60): 1, 2, 3, 6; window [60, 120): 10, 20; nothing in [120, 180); [180, 240): 7.
    readings = {0: 1.0, 15: 2.0, 30: 3.0, 59: 6.0, 60: 10.0, 119: 20.0, 200: 7.0}
    telemetry_store.write([point(bucket, "pump-1", s, flow=v) for s, v in readings.items()])
    r = [ref(bucket, "pump-1", "flow")]
    # The range starts mid-window: the window still starts on a minute since the epoch.
    start, stop = at(10), at(240)

    def query(fn: Aggregate) -> list[Sample]:
        [samples] = telemetry_store.query(r, "flow", start, stop, every_s=60, fn=fn)
        return samples

    mean = query(Aggregate.MEAN)
    assert [s.time for s in mean] == [at(0), at(60), at(180)]
    assert values(mean) == [pytest.approx(11 / 3), 15.0, 7.0]
    assert values(query(Aggregate.MIN)) == [2.0, 10.0, 7.0]
    assert values(query(Aggregate.MAX)) == [6.0, 20.0, 7.0]
    assert values(query(Aggregate.LAST)) == [6.0, 20.0, 7.0]
    assert values(query(Aggregate.COUNT)) == [3, 2, 1]


def test_windows_of_any_width_start_on_multiples_of_it_since_the_epoch(
    telemetry_store: TelemetryStore, bucket: str
) -> None:
    telemetry_store.write([point(bucket, "valve-1", s, opening=float(s)) for s in range(30)])
    [samples] = telemetry_store.query(
        [ref(bucket, "valve-1")], "opening", at(0), at(30), every_s=7, fn=Aggregate.COUNT
    )
    starts = [int(s.time.timestamp()) for s in samples]
    assert all(start % 7 == 0 for start in starts)
    assert sum(values(samples)) == 30  # type: ignore[arg-type]
    assert starts[0] <= int(T0.timestamp()) < starts[0] + 7


def test_integer_fields_keep_their_type_in_min_max_and_last(
    telemetry_store: TelemetryStore, bucket: str
) -> None:
    telemetry_store.write([point(bucket, "counter-1", s, pulses=s * 3) for s in range(20)])
    r = [ref(bucket, "counter-1", "pulses")]
    for fn, expected in [(Aggregate.MIN, [0, 30]), (Aggregate.MAX, [27, 57]), (Aggregate.LAST, [27, 57])]:
        [samples] = telemetry_store.query(r, "pulses", at(0), at(20), every_s=10, fn=fn)
        assert values(samples) == expected
        assert all(type(v) is int for v in values(samples))
    [mean] = telemetry_store.query(r, "pulses", at(0), at(20), every_s=10, fn=Aggregate.MEAN)
    assert values(mean) == [13.5, 43.5]


def test_raw_range_is_half_open_and_in_time_order(telemetry_store: TelemetryStore, bucket: str) -> None:
    # Written out of order, across two writes.
    telemetry_store.write([point(bucket, "fan-1", s, speed=float(s)) for s in (30, 10, 50)])
    telemetry_store.write([point(bucket, "fan-1", s, speed=float(s)) for s in (20, 40, 0)])
    [samples] = telemetry_store.query([ref(bucket, "fan-1", "speed")], "speed", at(10), at(50))
    assert samples == [Sample(at(s), float(s)) for s in (10, 20, 30, 40)]


def test_many_references_in_one_call_are_answered_in_their_order(
    telemetry_store: TelemetryStore, bucket: str
) -> None:
    twins = [f"room-{n}" for n in range(20)]
    telemetry_store.write(
        [point(bucket, twin, s, temperature=n + s / 100) for n, twin in enumerate(twins) for s in (0, 30, 90)]
    )
    refs = [
        ref(bucket, "room-7", "temperature"),
        ref(bucket, "nobody", "temperature"),  # no points
        TelemetryRef(f"{bucket}-missing", "Room", {"twin_id": "room-1"}, ("temperature",)),  # no bucket
        *(ref(bucket, twin, "temperature") for twin in twins),
    ]
    latest = telemetry_store.latest(refs)
    assert latest[0] == {"temperature": Sample(at(90), 7.9)}
    assert latest[1] == {}
    assert latest[2] == {}
    assert [entry["temperature"].value for entry in latest[3:]] == [n + 0.9 for n in range(20)]
    windows = telemetry_store.query(refs, "temperature", at(0), at(120), every_s=60, fn=Aggregate.MAX)
    assert windows[0] == [Sample(at(0), 7.3), Sample(at(60), 7.9)]
    assert windows[1] == []
    assert windows[2] == []
    assert [values(w) for w in windows[3:]] == [[n + 0.3, n + 0.9] for n in range(20)]
    raw = telemetry_store.query(refs, "temperature", at(0), at(120))
    assert [len(r) for r in raw] == [3, 0, 0, *[3] * 20]


def test_rewriting_points_replaces_them(telemetry_store: TelemetryStore, bucket: str) -> None:
    batch = [point(bucket, "meter-1", s, energy=float(s), status="ok") for s in range(10)]
    telemetry_store.write(batch)
    telemetry_store.write(batch)  # a redelivery after a crash
    telemetry_store.write([point(bucket, "meter-1", 9, energy=99.0)])  # a correction
    r = [ref(bucket, "meter-1", "energy")]
    [count] = telemetry_store.query(r, "energy", at(0), at(10), every_s=10, fn=Aggregate.COUNT)
    assert values(count) == [10]
    [raw] = telemetry_store.query(r, "energy", at(0), at(10))
    assert values(raw) == [*map(float, range(9)), 99.0]
    assert telemetry_store.latest(r) == [{"energy": Sample(at(9), 99.0)}]
    [status] = telemetry_store.query(r, "status", at(0), at(10), every_s=10, fn=Aggregate.COUNT)
    assert values(status) == [10]


def test_every_field_type_comes_back_as_written(telemetry_store: TelemetryStore, bucket: str) -> None:
    written = {
        "level": 0.1,
        "tiny": 1e-300,
        "huge": -1.5e300,
        "whole": 2.0,
        "count": 2**62,
        "negative": -7,
        "on": True,
        "off": False,
        "label": 'say "hi" \\ back, slash = ok',
        "multiline": "line one\nline two",
        "unicode": "Zürich 温度 🌡",
    }
    telemetry_store.write([point(bucket, "probe-1", 1, **written)])
    [latest] = telemetry_store.latest([ref(bucket, "probe-1")])
    got = {name: sample.value for name, sample in latest.items()}
    assert got == written
    assert {name: type(v) for name, v in got.items()} == {name: type(v) for name, v in written.items()}
    [[last_label]] = telemetry_store.query(
        [ref(bucket, "probe-1")], "label", at(0), at(2), every_s=2, fn=Aggregate.LAST
    )
    assert last_label == Sample(at(0), written["label"])


def test_unicode_and_special_characters_in_names(telemetry_store: TelemetryStore, bucket: str) -> None:
    measurement = "Raum Süd,1=A"
    tags = {"twin_id": "raum 1,a=b", "zone name": "Nord=Ost, Ebene 2", "path": r"C:\data\x"}
    field = "température °C, = x"
    telemetry_store.write([TelemetryPoint(bucket, measurement, tags, {field: 21.5}, T0_NS)])
    r = TelemetryRef(bucket, measurement, tags, (field,))
    assert telemetry_store.latest([r]) == [{field: Sample(T0, 21.5)}]
    assert telemetry_store.query([r], field, at(0), at(1)) == [[Sample(T0, 21.5)]]
    # A quote or interpolation in a reference is data, not query text.
    odd = TelemetryRef(bucket, 'x") or true or ("', {"twin_id": "${bad}"}, (field,))
    assert telemetry_store.latest([odd]) == [{}]


def test_a_reference_to_another_systems_series_selects_by_its_tags(
    telemetry_store: TelemetryStore, bucket: str
) -> None:
    # "Another system" writes plant_sensors with its own tags and no twin_id.
    def sensor(site: str, name: str, seconds: int, bar: float) -> TelemetryPoint:
        tags = {"site": site, "sensor": name, "unit": "bar"}
        return TelemetryPoint(bucket, "plant_sensors", tags, {"pressure": bar}, T0_NS + seconds * S)

    telemetry_store.write(
        [
            sensor("north", "p-7", 0, 2.0),
            sensor("north", "p-7", 30, 4.0),
            sensor("north", "p-8", 10, 9.0),
            sensor("south", "p-7", 20, 5.0),
            point(bucket, "pump-7", 40, measurement="Pump", pressure=1.0),  # kgtwin's own series
        ]
    )
    p7 = TelemetryRef(bucket, "plant_sensors", {"site": "north", "sensor": "p-7"}, ("pressure",))
    north = TelemetryRef(bucket, "plant_sensors", {"site": "north"}, ("pressure",))
    assert telemetry_store.latest([p7, north]) == [
        {"pressure": Sample(at(30), 4.0)},
        {"pressure": Sample(at(30), 4.0)},
    ]
    raw = telemetry_store.query([p7, north], "pressure", at(0), at(60))
    assert raw == [
        [Sample(at(0), 2.0), Sample(at(30), 4.0)],
        # Several series match: their points are read as one series, in time order.
        [Sample(at(0), 2.0), Sample(at(10), 9.0), Sample(at(30), 4.0)],
    ]
    windows = telemetry_store.query([p7, north], "pressure", at(0), at(60), every_s=60, fn=Aggregate.COUNT)
    assert [values(w) for w in windows] == [[2], [3]]


@pytest.mark.parametrize("fn", [Aggregate.MEAN, Aggregate.MIN, Aggregate.MAX])
def test_numeric_aggregates_of_strings_or_booleans_are_bad_requests(
    telemetry_store: TelemetryStore, bucket: str, fn: Aggregate
) -> None:
    telemetry_store.write([point(bucket, "door-1", s, state="open", locked=s % 2 == 0) for s in range(3)])
    r = [ref(bucket, "door-1")]
    for name in ("state", "locked"):
        with pytest.raises(BadRequest, match=f"(?s){name}.*{fn.value}|{fn.value}.*{name}"):
            telemetry_store.query(r, name, at(0), at(3), every_s=3, fn=fn)
        # Count and last work on any field.
        [count] = telemetry_store.query(r, name, at(0), at(3), every_s=3, fn=Aggregate.COUNT)
        assert values(count) == [3]
    [last] = telemetry_store.query(r, "locked", at(0), at(3), every_s=3, fn=Aggregate.LAST)
    assert last == [Sample(at(0), True)]


@pytest.mark.parametrize(
    ("start", "stop", "every_s", "fn", "message"),
    [
        (at(10), at(0), None, Aggregate.MEAN, "after start"),
        (at(10), at(10), None, Aggregate.MEAN, "after start"),
        (at(0), at(10), 0, Aggregate.MEAN, "every_s must be > 0"),
        (at(0), at(10), -5, Aggregate.MEAN, "every_s must be > 0"),
        (at(0), at(10), float("nan"), Aggregate.MEAN, "every_s"),
        (at(0), at(10), 60, "median", "unknown aggregate 'median'"),
        (datetime(2026, 11, 25), at(10), None, Aggregate.MEAN, "no timezone"),
    ],
)
def test_invalid_query_arguments_are_bad_requests(
    telemetry_store: TelemetryStore,
    bucket: str,
    start: datetime,
    stop: datetime,
    every_s: float | None,
    fn: Aggregate,
    message: str,
) -> None:
    with pytest.raises(BadRequest, match=message):
        telemetry_store.query([ref(bucket, "room-1")], "temperature", start, stop, every_s=every_s, fn=fn)


@pytest.mark.parametrize(
    ("tags", "fields", "message"),
    [
        ({"twin_id": "a"}, {"x": float("nan")}, "not a finite number"),
        ({"twin_id": "a"}, {"x": float("inf")}, "not a finite number"),
        ({"twin_id": "a"}, {"x": 2**63}, "64 bits"),
        ({"twin_id": "a"}, {"x": [1, 2]}, "has a list"),
        ({"twin_id": "a"}, {"_value": 1.0}, "reserved"),
        ({"twin_id": "a", "_field": "x"}, {"x": 1.0}, "reserved"),
        ({"twin_id": "line\nbreak"}, {"x": 1.0}, "control character"),
        ({"twin_id": "ends\\"}, {"x": 1.0}, "backslash"),
        ({"twin_id": ""}, {"x": 1.0}, "non-empty"),
        ({"twin_id": "a", "owner@site": "x"}, {"x": 1.0}, "'@'"),
    ],
)
def test_points_no_store_can_keep_are_bad_requests_and_nothing_is_written(
    telemetry_store: TelemetryStore,
    bucket: str,
    tags: dict[str, str],
    fields: dict[str, object],
    message: str,
) -> None:
    good = point(bucket, "ok", 0, x=1.0)
    bad = TelemetryPoint(bucket, "Room", tags, fields, T0_NS)  # type: ignore[arg-type]
    with pytest.raises(BadRequest, match=message):
        telemetry_store.write([good, bad])
    assert telemetry_store.latest([ref(bucket, "ok", "x")]) == [{}]


def test_a_measurement_starting_with_a_hash_is_a_bad_request(
    telemetry_store: TelemetryStore, bucket: str
) -> None:
    with pytest.raises(BadRequest, match="may not start with '#'"):
        telemetry_store.write([point(bucket, "a", 0, measurement="#Room", x=1.0)])


def test_a_write_to_a_new_bucket_makes_it_readable(telemetry_store: TelemetryStore, bucket: str) -> None:
    simulation = f"{bucket}-simulation"
    telemetry_store.write([point(simulation, "line-1", 5, throughput=12.0)])
    assert telemetry_store.latest([ref(simulation, "line-1")]) == [{"throughput": Sample(at(5), 12.0)}]


# Any printable text: the checks decide which names are refused, the stores keep the rest.
names = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    measurement=names,
    key=names,
    tag_value=names,
    field=names,
    text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r"), max_size=20),
)
def test_any_name_the_checks_accept_comes_back_unchanged(
    telemetry_store: TelemetryStore,
    bucket: str,
    measurement: str,
    key: str,
    tag_value: str,
    field: str,
    text: str,
) -> None:
    tags = {"twin_id": uuid.uuid4().hex, key: tag_value}
    assume(key != "twin_id")
    try:
        check_series(bucket, measurement, tags, "example")
        check_field(field, "example")
    except BadRequest:
        assume(False)
    telemetry_store.write([TelemetryPoint(bucket, measurement, tags, {field: 1.5, "text": text}, T0_NS)])
    assert telemetry_store.latest([TelemetryRef(bucket, measurement, tags)]) == [
        {field: Sample(T0, 1.5), "text": Sample(T0, text)} if field != "text" else {field: Sample(T0, text)}
    ]


def test_threads_may_write_and_read_at_once(telemetry_store: TelemetryStore, bucket: str) -> None:
    def work(worker: int) -> dict[str, Sample]:
        for second in range(20):
            telemetry_store.write(
                [point(bucket, f"w{worker}-{n}", second, x=float(second)) for n in range(10)]
            )
            telemetry_store.latest([ref(bucket, f"w{worker}-0", "x")])
        return telemetry_store.latest([ref(bucket, f"w{worker}-9", "x")])[0]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    assert results == [{"x": Sample(at(19), 19.0)}] * 4


def test_two_thousand_references_are_read_in_one_call(telemetry_store: TelemetryStore, bucket: str) -> None:
    # A floor's worth of rooms times many floors: InfluxDB refused a left-deep chain of
    # ~1,000 ORed tag tests ("Program is nested too deep") before the predicate was balanced.
    telemetry_store.write([point(bucket, f"room-{n}", n, temperature=float(n)) for n in range(0, 2000, 100)])
    refs = [ref(bucket, f"room-{n}", "temperature") for n in range(2000)]
    latest = telemetry_store.latest(refs)
    assert len(latest) == 2000
    assert latest[300] == {"temperature": Sample(at(300), 300.0)}
    assert latest[301] == {}
    windows = telemetry_store.query(refs, "temperature", at(0), at(3600), every_s=3600, fn=Aggregate.COUNT)
    assert sum(len(w) for w in windows) == 20
