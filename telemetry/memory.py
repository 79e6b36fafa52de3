"""An in-memory ``TelemetryStore``: the points in dictionaries, gone when the process ends.

For unit tests of the code that reads or writes telemetry (simulation parameters, result
series, the API's loaders) and for short-lived tools: it passes the same contract suite as
DuckDB and InfluxDB (``tests/telemetry/test_store.py``), so what a test sees through it is
what a real store would answer. Chosen by the URL ``memory://``.

A series is (bucket, measurement, tag set); each of its fields maps a time to its value,
so writing a point again replaces it, as in the real stores.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ontology.errors import BadRequest
from telemetry.checks import (
    Instants,
    check_field,
    check_query,
    check_series,
    check_value,
    ns_to_datetime,
    ref_fields,
    ref_matches,
)
from telemetry.points import Aggregate, FieldValue, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef

_INT64 = (-(2**63), 2**63 - 1)


@dataclass
class _Series:
    """One tag set of one measurement: each field's values by time (ns)."""

    bucket: str
    measurement: str
    tags: dict[str, str]
    fields: dict[str, dict[int, FieldValue]] = field(default_factory=dict)


class MemoryTelemetryStore:
    """Telemetry points in this process's memory (thread-safe)."""

    backend = "memory"

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Series] = {}
        self._lock = threading.Lock()

    def ping(self) -> None:
        """Memory always answers."""

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Check every point, then keep them all (or nothing, when one is refused)."""
        checked: list[tuple[TelemetryPoint, dict[str, FieldValue]]] = []
        for n, point in enumerate(points):
            where = f"point {n}"
            check_series(point.bucket, point.measurement, point.tags, where)
            if not isinstance(point.time_ns, int) or not _INT64[0] <= point.time_ns <= _INT64[1]:
                raise BadRequest("a point's time_ns does not fit in 64 bits")
            values: dict[str, FieldValue] = {}
            for name, value in point.fields.items():
                check_field(name, where)
                check_value(name, value, where)
                values[name] = _plain(value)
            checked.append((point, values))
        with self._lock:
            for point, values in checked:
                key = (point.bucket, point.measurement, tuple(sorted(point.tags.items())))
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = _Series(point.bucket, point.measurement, dict(key[2]))
                for name, value in values.items():
                    series.fields.setdefault(name, {})[point.time_ns] = value

    def _matching(self, ref: TelemetryRef) -> list[_Series]:
        return [s for s in self._series.values() if ref_matches(ref, s.bucket, s.measurement, s.tags)]

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        """The newest value of each field of each reference, over every series it selects."""
        result: list[dict[str, Sample]] = []
        with self._lock:
            for ref in refs:
                names = ref_fields(ref, fields)
                newest: dict[str, tuple[int, FieldValue]] = {}
                for series in self._matching(ref):
                    for name, values in series.fields.items():
                        if (names and name not in names) or not values:
                            continue
                        time_ns = max(values)
                        if name not in newest or time_ns >= newest[name][0]:
                            newest[name] = (time_ns, values[time_ns])
                result.append({n: Sample(ns_to_datetime(t), v) for n, (t, v) in newest.items()})
        return result

    def query(
        self,
        refs: Sequence[TelemetryRef],
        field: str,
        start: datetime,
        stop: datetime,
        every_s: float | None = None,
        fn: Aggregate = Aggregate.MEAN,
    ) -> list[list[Sample]]:
        """Points of ``field`` in ``[start, stop)``, or their epoch-aligned window aggregates."""
        start_ns, stop_ns, every_ns, aggregate = check_query(start, stop, every_s, fn)
        with self._lock:
            found = [
                sorted(
                    (
                        (t, v)
                        for series in self._matching(ref)
                        for t, v in series.fields.get(field, {}).items()
                        if start_ns <= t < stop_ns
                    ),
                    key=_time,
                )
                for ref in refs
            ]
        instants = Instants()
        if every_ns is None:
            return [[Sample(instants[t], v) for t, v in points] for points in found]
        answers: list[list[Sample]] = []
        for points in found:
            windows: dict[int, list[tuple[int, FieldValue]]] = {}
            for t, v in points:
                windows.setdefault(t - t % every_ns, []).append((t, v))
            answers.append(
                [Sample(instants[w], _aggregate(aggregate, field, windows[w])) for w in sorted(windows)]
            )
        return answers

    def points(self) -> list[TelemetryPoint]:
        """Every value held as a point of one field: series by series in the order they were
        first written, then field by field, in time order. For tests and tools that look at
        what was written."""
        with self._lock:
            return [
                TelemetryPoint(s.bucket, s.measurement, dict(s.tags), {name: values[t]}, t)
                for s in self._series.values()
                for name, values in s.fields.items()
                for t in sorted(values)
            ]

    def close(self) -> None:
        """Nothing to release; the points stay until the store is dropped."""


def _time(point: tuple[int, FieldValue]) -> int:
    return point[0]


def _plain(value: FieldValue) -> FieldValue:
    """The value as its base type (a numpy float or an IntEnum reads back as float or int)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _aggregate(aggregate: Aggregate, name: str, points: list[tuple[int, FieldValue]]) -> FieldValue:
    """One window's value; ``points`` are in time order."""
    if aggregate is Aggregate.COUNT:
        return len(points)
    if aggregate is Aggregate.LAST:
        return points[-1][1]
    values = [v for _, v in points]
    if any(isinstance(v, bool | str) for v in values):
        raise BadRequest(
            f"{aggregate.value} needs a numeric field; {name!r} holds booleans or strings",
            details={"field": name, "fn": aggregate.value},
        )
    numbers: list[int | float] = [v for v in values if not isinstance(v, bool | str)]
    if aggregate is Aggregate.MEAN:
        return math.fsum(numbers) / len(numbers)
    chosen = min(numbers) if aggregate is Aggregate.MIN else max(numbers)
    # An int when every value of the window is one, as InfluxDB keeps the type.
    return chosen if all(type(v) is int for v in numbers) else float(chosen)
