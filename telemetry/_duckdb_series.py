"""The DuckDB store's series index: the ``series`` table, in memory.

Each (bucket, measurement, tag set, field) has a number, ``sid``, as InfluxDB's series key
does. Writes turn points into sids and reads turn references into sid sets here, without
a query; only the process that opened the DuckDB file writes it, so this copy cannot go
stale.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from telemetry.checks import check_field, check_series
from telemetry.points import TelemetryPoint
from telemetry.refs import TelemetryRef

NEVER = -(2**63)


@dataclass
class Series:
    """One tag set of one measurement: its tags and the sid of each of its fields."""

    bucket: str
    measurement: str
    tags: dict[str, str]
    sids: dict[str, int] = field(default_factory=dict)
    tags_json: str = ""  # the ``series.tags`` column

    def __post_init__(self) -> None:
        self.tags_json = json.dumps(self.tags, sort_keys=True, ensure_ascii=False)


class SeriesIndex:
    """The ``series`` table in memory: points to sids on write, references to sids on read."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, tuple[tuple[str, str], ...]], Series] = {}
        # The unsorted tag items a writer used, so the common case skips sorting.
        self.by_items: dict[tuple[str, str, tuple[tuple[str, str], ...]], Series] = {}
        self.by_tag: dict[tuple[str, str, str, str], list[Series]] = defaultdict(list)
        self.by_measurement: dict[tuple[str, str], list[Series]] = defaultdict(list)
        self.field_of: dict[int, str] = {}
        self.next_sid = 0
        self.new_rows: list[tuple[int, str, str, str, str]] = []
        # The newest time of each sid (index = sid): ``latest`` reads only points at least
        # as new as the oldest of these among the wanted sids, so DuckDB's min/max zone maps
        # on ``time`` skip the row groups of older points instead of scanning the table.
        self.newest = np.full(0, NEVER, dtype=np.int64)

    def saw(self, sids: np.ndarray[Any, Any], times: np.ndarray[Any, Any]) -> None:
        """Note the times of committed points."""
        if len(self.newest) < self.next_sid:
            grown = np.full(max(self.next_sid, 2 * len(self.newest)), NEVER, dtype=np.int64)
            grown[: len(self.newest)] = self.newest
            self.newest = grown
        np.maximum.at(self.newest, sids, times)

    def add(self, bucket: str, measurement: str, tags: dict[str, str]) -> Series:
        key = (bucket, measurement, tuple(sorted(tags.items())))
        series = self.by_key.get(key)
        if series is None:
            series = Series(bucket, measurement, dict(key[2]))
            self.by_key[key] = series
            self.by_measurement[bucket, measurement].append(series)
            for k, v in tags.items():
                self.by_tag[bucket, measurement, k, v].append(series)
        return series

    def load(self, sid: int, bucket: str, measurement: str, tags: dict[str, str], name: str) -> None:
        self.add(bucket, measurement, tags).sids[name] = sid
        self.field_of[sid] = name
        self.next_sid = max(self.next_sid, sid + 1)

    def series_of_point(self, point: TelemetryPoint, where: str) -> Series:
        items = (point.bucket, point.measurement, tuple(point.tags.items()))
        series = self.by_items.get(items)
        if series is None:
            check_series(point.bucket, point.measurement, point.tags, where)
            series = self.add(point.bucket, point.measurement, dict(point.tags))
            self.by_items[items] = series
        return series

    def new_sid(self, series: Series, name: str, where: str) -> int:
        check_field(name, where)
        sid = self.next_sid
        self.next_sid += 1
        series.sids[name] = sid
        self.field_of[sid] = name
        self.new_rows.append((sid, series.bucket, series.measurement, series.tags_json, name))
        return sid

    def forget_new(self) -> None:
        """Undo the sids handed out by a write that failed, so memory matches the file."""
        for sid, *_ in self.new_rows:
            name = self.field_of.pop(sid)
            for series in self.by_key.values():
                if series.sids.get(name) == sid:
                    del series.sids[name]
        self.new_rows.clear()

    def matching(self, ref: TelemetryRef) -> list[Series]:
        """The series ``ref`` selects: those of its measurement with all its tags."""
        if ref.tags:
            lists = [self.by_tag.get((ref.bucket, ref.measurement, k, v), []) for k, v in ref.tags.items()]
            candidates = min(lists, key=len)
        else:
            candidates = self.by_measurement.get((ref.bucket, ref.measurement), [])
        return [s for s in candidates if all(s.tags.get(k) == v for k, v in ref.tags.items())]
