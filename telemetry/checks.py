"""The checks every ``TelemetryStore`` adapter runs, and the time conversions they share.

A point or a query one store refuses is refused by every other with the same
``BadRequest``, so the names, values and ranges allowed are those all of them can keep and
give back unchanged: InfluxDB's line protocol and reserved columns set most of the rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from ontology.errors import BadRequest
from telemetry.points import Aggregate
from telemetry.refs import TelemetryRef

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT64 = (-(2**63), 2**63 - 1)
# InfluxDB reserves these keys for its own columns; a tag or field named so cannot be read back.
_RESERVED_KEYS = frozenset({"time", "_measurement", "_field", "_value", "_time", "_start", "_stop"})
# Line protocol escapes these with a backslash; a backslash just before one (or at the end of a
# name) cannot be written unambiguously, since the server does not unescape a doubled backslash.
_ESCAPED = frozenset(", =")


def _check_name(kind: str, name: object, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}: {kind} must be a non-empty string", details={kind: repr(name)})
    bad = next((c for c in name if ord(c) < 0x20 or c == "\x7f"), None)
    if bad is not None:
        raise BadRequest(
            f"{where}: {kind} {name!r} holds the control character {bad!r}", details={kind: name}
        )
    index = name.find("\\")
    while index >= 0:
        if index == len(name) - 1 or name[index + 1] in _ESCAPED:
            raise BadRequest(
                f"{where}: {kind} {name!r} has a backslash at its end or before a space, comma or "
                "equals sign, which line protocol cannot carry",
                details={kind: name},
            )
        index = name.find("\\", index + 1)


def check_series(bucket: str, measurement: str, tags: Mapping[str, str], where: str) -> None:
    """Refuse a series whose names one of the stores could not keep or give back unchanged."""
    _check_name("bucket", bucket, where)
    _check_name("measurement", measurement, where)
    if measurement.startswith("#"):  # a line protocol line starting with "#" is a comment
        raise BadRequest(
            f"{where}: measurement {measurement!r} may not start with '#'",
            details={"measurement": measurement},
        )
    for key, value in tags.items():
        _check_name("tag key", key, where)
        _check_name("tag value", value, where)
        if key in _RESERVED_KEYS or key.startswith("_"):
            raise BadRequest(f"{where}: tag key {key!r} is reserved by the store", details={"tag": key})
        if "@" in key:  # InfluxDB 2.7 stores such a key, but no Flux filter on it ever matches
            raise BadRequest(f"{where}: tag key {key!r} may not contain '@'", details={"tag": key})


def check_field(name: str, where: str) -> None:
    """Refuse a field name the stores reserve or cannot carry."""
    _check_name("field", name, where)
    if name in _RESERVED_KEYS or name.startswith("_"):
        raise BadRequest(f"{where}: field {name!r} is reserved by the store", details={"field": name})


def check_value(name: str, value: object, where: str) -> None:
    """Refuse a value no store can keep: not float/int/bool/str, NaN or infinite, or beyond int64."""
    if isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise BadRequest(
                f"{where}: field {name!r}: {value} does not fit in 64 bits", details={"field": name}
            )
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadRequest(
                f"{where}: field {name!r}: {value} is not a finite number", details={"field": name}
            )
        return
    raise BadRequest(
        f"{where}: field {name!r} has a {type(value).__name__}; a value is a float, int, bool or string",
        details={"field": name},
    )


def datetime_to_ns(value: datetime, name: str) -> int:
    """Nanoseconds since the epoch of a timezone-aware ``value``; a naive one is refused."""
    if not isinstance(value, datetime):
        raise BadRequest(f"{name} must be a datetime, not {type(value).__name__}", details={"argument": name})
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadRequest(
            f"{name} {value.isoformat()} has no timezone; give an aware datetime (UTC)",
            details={"argument": name},
        )
    return (value - EPOCH) // timedelta(microseconds=1) * 1000


def ns_to_datetime(time_ns: int) -> datetime:
    """A timezone-aware UTC datetime of ``time_ns`` (microsecond precision, as datetime has)."""
    return EPOCH + timedelta(microseconds=time_ns // 1000)


class Instants(dict[int, datetime]):
    """Nanoseconds -> :func:`ns_to_datetime`, made once per distinct instant.

    One query's rows repeat their instants: the series of a list of twins share their
    windows (or were sampled on one clock), 650 rows of a 50-room answer are 13 instants.
    """

    def __missing__(self, time_ns: int) -> datetime:
        found = self[time_ns] = ns_to_datetime(time_ns)
        return found


def check_query(
    start: datetime, stop: datetime, every_s: float | None, fn: Aggregate | str
) -> tuple[int, int, int | None, Aggregate]:
    """The query's range in nanoseconds, its window in nanoseconds and its aggregate, checked.

    Raises ``BadRequest`` for a stop not after start, a window that is not a positive number
    of nanoseconds, or an unknown aggregate.
    """
    start_ns = datetime_to_ns(start, "start")
    stop_ns = datetime_to_ns(stop, "stop")
    if stop_ns <= start_ns:
        raise BadRequest(
            f"stop {stop.isoformat()} must be after start {start.isoformat()}",
            details={"start": start.isoformat(), "stop": stop.isoformat()},
        )
    every_ns = None
    if every_s is not None:
        if isinstance(every_s, bool) or not isinstance(every_s, int | float) or not math.isfinite(every_s):
            raise BadRequest(
                f"every_s must be a number of seconds, not {every_s!r}", details={"every_s": every_s}
            )
        every_ns = round(every_s * 1_000_000_000)
        if every_ns <= 0:
            raise BadRequest(f"every_s must be > 0, not {every_s}", details={"every_s": every_s})
    try:
        aggregate = Aggregate(fn)
    except ValueError:
        raise BadRequest(
            f"unknown aggregate {fn!r}; use one of {', '.join(a.value for a in Aggregate)}",
            details={"fn": str(fn)},
        ) from None
    return start_ns, stop_ns, every_ns, aggregate


def ref_fields(ref: TelemetryRef, fields: Sequence[str] | None) -> tuple[str, ...]:
    """The fields ``latest`` reads for ``ref``: ``fields``, else the ref's; empty means all."""
    return tuple(fields) if fields is not None else ref.fields


def ref_matches(ref: TelemetryRef, bucket: str, measurement: str, tags: Mapping[str, str]) -> bool:
    """Whether the series (``bucket``, ``measurement``, ``tags``) is one that ``ref`` selects."""
    return (
        ref.bucket == bucket
        and ref.measurement == measurement
        and all(tags.get(k) == v for k, v in ref.tags.items())
    )
