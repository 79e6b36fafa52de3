"""Embedded DuckDB: the zero set-up default telemetry store.

DuckDB keeps the points in one file and answers windowed aggregations fast. It locks
its file for one process, so the microservices profile (separate ``api`` and ``ingest``
processes) uses InfluxDB instead.

Two tables. ``series`` names each (bucket, measurement, tag set, field) once and gives it a
number, ``sid``, as InfluxDB's series key does; this process keeps the whole table in memory
(``telemetry._duckdb_series``) to turn points into sids and references into sid sets
without a query.
``points`` is long and narrow: (sid, time, seq, kind, value, ival, text), one row per field
value. Only one process opens the file, so the in-memory index cannot go stale.

Idempotence is kept on read, not on write: a rewritten point is a second row with a larger
``seq`` (write order), and every read keeps the row with the largest ``seq`` of each (sid,
time). A primary key with ``INSERT OR REPLACE`` would keep the table free of duplicates,
but it measured four times slower on bulk writes (0.5 M against 2.1 M rows/s for 1 M rows)
and its index has to fit in memory as the table grows; redeliveries are rare, so the
duplicates they leave cost little.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from ontology.errors import BackendUnavailable, BadRequest
from telemetry._duckdb_series import SeriesIndex
from telemetry.checks import Instants, check_query, check_value, ns_to_datetime, ref_fields
from telemetry.points import Aggregate, FieldValue, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef

# How a value is kept: ``kind`` says which column holds it.
_FLOAT, _INT, _BOOL, _STR = 0, 1, 2, 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    sid UINTEGER PRIMARY KEY,
    bucket VARCHAR NOT NULL,
    measurement VARCHAR NOT NULL,
    tags VARCHAR NOT NULL,  -- JSON object, keys sorted
    field VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    sid UINTEGER NOT NULL,
    time BIGINT NOT NULL,   -- nanoseconds since the epoch, UTC
    seq BIGINT NOT NULL,    -- write order: the largest wins among rows of one (sid, time)
    kind UTINYINT NOT NULL, -- 0 float, 1 int, 2 bool, 3 string
    value DOUBLE NOT NULL,  -- the number (ints and bools too, so aggregates read one column)
    ival BIGINT NOT NULL,   -- the exact int (0 for other kinds)
    text VARCHAR            -- the string (NULL for other kinds)
);
"""

# The newest row of each (sid, time) among those of the wanted sids in the range: the
# rows every read works on. ``x`` is the value as a struct so one arg_max carries it.
# The sids (and the reference each sid answers) come as list parameters, unnested: a
# registered data frame cost 0.8 ms more per query (register, scan, unregister).
_WHOLE = "{'k': p.kind, 'v': p.value, 'i': p.ival, 't': p.text}"
_NUMBER = "{'k': p.kind, 'v': p.value, 'i': p.ival}"
_DEDUPED = """
SELECT p.sid, p.time, arg_max({value}, p.seq) AS x
FROM points p
WHERE p.sid IN (SELECT unnest($sids)) AND p.time >= $start AND p.time < $stop
GROUP BY p.sid, p.time
"""

_RAW = """
SELECT r.ref, d.time, d.x
FROM d JOIN (SELECT unnest($refs) AS ref, unnest($sids) AS sid) r USING (sid)
ORDER BY r.ref, d.time
"""

# Windows start at multiples of $every nanoseconds since the epoch (floored: % truncates
# towards zero). Integer arithmetic on the stored nanoseconds rather than time_bucket, whose
# default origin (2000-01-03) is off the epoch grid for widths that do not divide it (7 s).
_WINDOWED = """
SELECT r.ref, d.time - ((d.time % $every) + $every) % $every AS w, {aggregates}
FROM d JOIN (SELECT unnest($refs) AS ref, unnest($sids) AS sid) r USING (sid)
GROUP BY r.ref, w ORDER BY r.ref, w
"""

_LATEST = """
SELECT sid, arg_max({'k': kind, 'v': value, 'i': ival, 't': text, 'time': time}, (time, seq)) AS x
FROM points
WHERE sid IN (SELECT unnest($sids)) AND time >= $since
GROUP BY sid
"""


def _value(x: Mapping[str, Any]) -> FieldValue:
    kind = x["k"]
    if kind == _FLOAT:
        return float(x["v"])
    if kind == _INT:
        return int(x["i"])
    if kind == _BOOL:
        return bool(x["v"])
    return str(x["t"])


# DuckDB's buffer pool grows to 80% of RAM by default: on an edge box it shares the
# process with the API and ingest, and bench/ingest.py saw ingest's RSS pass 300 MB.
# Writes and the windowed queries of a few thousand series work within this.
DEFAULT_MEMORY_LIMIT = "128MB"


class DuckDbTelemetryStore:
    """Telemetry points in an embedded DuckDB file (or in memory when ``path`` is None)."""

    backend = "duckdb"

    def __init__(self, path: Path | None, *, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = duckdb.connect(
                str(path) if path is not None else ":memory:", config={"memory_limit": memory_limit}
            )
        except (OSError, duckdb.Error) as exc:
            raise BackendUnavailable("duckdb", f"cannot open {path}: {exc}") from exc
        try:
            self._index, self._seq = self._load()
        except duckdb.Error as exc:
            self._conn.close()
            raise BackendUnavailable("duckdb", f"cannot read {path}: {exc}") from exc
        # One connection shared by threads: DuckDB connections are not thread-safe, and the
        # series index must change together with the tables.
        self._lock = threading.Lock()

    def _load(self) -> tuple[SeriesIndex, int]:
        """Create the tables if new; read the series index and the last write sequence number."""
        conn = self._conn
        conn.execute(_SCHEMA)
        index = SeriesIndex()
        rows = conn.execute("SELECT sid, bucket, measurement, tags, field FROM series").fetchall()
        for sid, bucket, measurement, tags, name in rows:
            index.load(sid, bucket, measurement, json.loads(tags), name)
        [(seq,)] = conn.execute("SELECT coalesce(max(seq), 0) FROM points").fetchall()
        newest = conn.execute("SELECT sid, max(time) AS time FROM points GROUP BY sid").fetchnumpy()
        index.saw(newest["sid"], newest["time"])
        return index, int(seq)

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchall()
        except duckdb.Error as exc:
            raise BackendUnavailable("duckdb", str(exc)) from exc

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Append ``points`` in one transaction: committed (in the WAL) when this returns."""
        if not points:
            return
        with self._lock:
            try:
                self._insert(self._columns(points))
            except BaseException:
                self._index.forget_new()
                raise
            finally:
                self._index.new_rows.clear()

    def _columns(self, points: Sequence[TelemetryPoint]) -> dict[str, np.ndarray[Any, Any]]:
        """The points as numpy columns (the fastest way into DuckDB without pyarrow)."""
        index = self._index
        sids: list[int] = []
        times: list[int] = []
        kinds: list[int] = []
        values: list[float] = []
        ints: list[tuple[int, int]] = []
        texts: list[tuple[int, str]] = []
        by_items = index.by_items
        for n, point in enumerate(points):
            series = by_items.get((point.bucket, point.measurement, tuple(point.tags.items())))
            if series is None:
                series = index.series_of_point(point, f"point {n}")
            time_ns = point.time_ns
            for name, value in point.fields.items():
                sid = series.sids.get(name)
                if sid is None:
                    sid = index.new_sid(series, name, f"point {n}")
                kind = type(value)
                if kind is float:
                    kinds.append(_FLOAT)
                    values.append(value)  # type: ignore[arg-type]
                elif kind is int:
                    ints.append((len(sids), value))  # type: ignore[arg-type]
                    kinds.append(_INT)
                    values.append(value)  # type: ignore[arg-type]
                elif kind is bool:
                    kinds.append(_BOOL)
                    values.append(1.0 if value else 0.0)
                elif kind is str:
                    texts.append((len(sids), value))  # type: ignore[arg-type]
                    kinds.append(_STR)
                    values.append(0.0)
                else:  # a subclass (numpy.float64, an IntEnum ...) or no value kind at all
                    check_value(name, value, f"point {n}")
                    if isinstance(value, bool):
                        kinds.append(_BOOL)
                        values.append(1.0 if value else 0.0)
                    elif isinstance(value, int):
                        ints.append((len(sids), int(value)))
                        kinds.append(_INT)
                        values.append(float(value))
                    elif isinstance(value, float):
                        kinds.append(_FLOAT)
                        values.append(float(value))
                    else:
                        kinds.append(_STR)
                        values.append(0.0)
                        texts.append((len(sids), str(value)))
                sids.append(sid)
                times.append(time_ns)
        count = len(sids)
        value_col = np.array(values, dtype=np.float64)
        if not np.isfinite(value_col).all():
            bad = int(np.flatnonzero(~np.isfinite(value_col))[0])
            raise BadRequest(
                f"field {index.field_of[sids[bad]]!r}: {values[bad]} is not a finite number",
                details={"field": index.field_of[sids[bad]]},
            )
        ival = np.zeros(count, dtype=np.int64)
        if ints:
            rows, numbers = zip(*ints, strict=True)
            try:
                ival[list(rows)] = numbers
            except OverflowError:
                big = next(i for i, v in ints if not -(2**63) <= v < 2**63)
                check_value(index.field_of[sids[big]], dict(ints)[big], "point")
        text = np.full(count, None, dtype=object)
        if texts:
            rows, strings = zip(*texts, strict=True)
            text[list(rows)] = strings
        try:
            time_col = np.array(times, dtype=np.int64)
        except OverflowError:
            raise BadRequest("a point's time_ns does not fit in 64 bits") from None
        self._seq += count
        return {
            "sid": np.array(sids, dtype=np.uint32),
            "time": time_col,
            "seq": np.arange(self._seq - count + 1, self._seq + 1, dtype=np.int64),
            "kind": np.array(kinds, dtype=np.uint8),
            "value": value_col,
            "ival": ival,
            "text": text,
        }

    def _insert(self, batch: Mapping[str, np.ndarray[Any, Any]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN TRANSACTION")
            try:
                if self._index.new_rows:
                    # executemany takes ~1 ms a row in DuckDB; a registered batch does 100,000 at once.
                    sid, bucket, measurement, tags, name = zip(*self._index.new_rows, strict=True)
                    conn.register(
                        "new_series",
                        {
                            "sid": np.array(sid, dtype=np.uint32),
                            "bucket": np.array(bucket, dtype=object),
                            "measurement": np.array(measurement, dtype=object),
                            "tags": np.array(tags, dtype=object),
                            "field": np.array(name, dtype=object),
                        },
                    )
                    try:
                        conn.execute("INSERT INTO series SELECT * FROM new_series")
                    finally:
                        conn.unregister("new_series")
                conn.register("batch", batch)
                try:
                    conn.execute(
                        "INSERT INTO points SELECT sid, time, seq, kind, value, ival, text FROM batch"
                    )
                finally:
                    conn.unregister("batch")
                conn.execute("COMMIT")
                self._index.saw(batch["sid"], batch["time"])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise BackendUnavailable("duckdb", f"write failed: {exc}") from exc

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        """The newest value of each field of each reference, in one query over all of them."""
        wanted: dict[int, list[int]] = defaultdict(list)  # sid -> indexes of the refs reading it
        with self._lock:
            for i, ref in enumerate(refs):
                names = ref_fields(ref, fields)
                for series in self._index.matching(ref):
                    for name, sid in series.sids.items():
                        if not names or name in names:
                            wanted[sid].append(i)
            if wanted:
                sids = np.fromiter(wanted, dtype=np.int64)
                since = int(self._index.newest[sids].min())
                rows = self._select(_LATEST, {"sids": sids.tolist(), "since": since})
            else:
                rows = []
            field_of = self._index.field_of
        result: list[dict[str, Sample]] = [{} for _ in refs]
        newest: list[dict[str, int]] = [{} for _ in refs]
        for sid, x in rows:
            name = field_of[sid]
            for i in wanted[sid]:
                if x["time"] >= newest[i].get(name, -(2**63)):
                    newest[i][name] = x["time"]
                    result[i][name] = Sample(ns_to_datetime(x["time"]), _value(x))
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
        """Points or window aggregates of ``field`` for all ``refs`` in one query."""
        start_ns, stop_ns, every_ns, aggregate = check_query(start, stop, every_s, fn)
        pairs: list[tuple[int, int]] = []  # (ref index, sid)
        with self._lock:
            for i, ref in enumerate(refs):
                for series in self._index.matching(ref):
                    sid = series.sids.get(field)
                    if sid is not None:
                        pairs.append((i, sid))
            if not pairs:
                return [[] for _ in refs]
            params: dict[str, Any] = {
                "start": start_ns,
                "stop": stop_ns,
                "refs": [i for i, _ in pairs],
                "sids": [s for _, s in pairs],
            }
            # Only constants are spliced in; every value is a parameter or a registered column.
            if every_ns is None:
                sql = f"WITH d AS ({_DEDUPED.format(value=_WHOLE)}) {_RAW}"
            else:
                params["every"] = every_ns
                # Numeric aggregates leave the text column unread: a quarter less scanning.
                value = _WHOLE if aggregate is Aggregate.LAST else _NUMBER
                dedup = _DEDUPED.format(value=value)
                sql = f"WITH d AS ({dedup}) {_WINDOWED.format(aggregates=_AGGREGATES[aggregate])}"
            rows = self._select(sql, params)
        result: list[list[Sample]] = [[] for _ in refs]
        instants = Instants()
        if every_ns is None:
            for i, time_ns, x in rows:
                result[i].append(Sample(instants[time_ns], _value(x)))
            return result
        for i, window, *values in rows:
            result[i].append(Sample(instants[window], _aggregate_value(aggregate, field, values)))
        return result

    def _select(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run ``sql``; a DuckDB error is the backend's, never a traceback to the caller."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise BackendUnavailable("duckdb", f"query failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# Each aggregate's columns; ``_aggregate_value`` turns them into one value. ``max(x.k)``
# tells whether a window holds values that are not numbers.
_AGGREGATES = {
    Aggregate.MEAN: "avg(d.x.v), max(d.x.k)",
    Aggregate.MIN: "min(d.x.v), min(d.x.i), min(d.x.k), max(d.x.k)",
    Aggregate.MAX: "max(d.x.v), max(d.x.i), min(d.x.k), max(d.x.k)",
    Aggregate.LAST: "arg_max(d.x, d.time)",
    Aggregate.COUNT: "count(*)",
}


def _aggregate_value(aggregate: Aggregate, name: str, values: list[Any]) -> FieldValue:
    if aggregate is Aggregate.COUNT:
        return int(values[0])
    if aggregate is Aggregate.LAST:
        return _value(values[0])
    if values[-1] >= _BOOL:
        raise BadRequest(
            f"{aggregate.value} needs a numeric field; {name!r} holds booleans or strings",
            details={"field": name, "fn": aggregate.value},
        )
    if aggregate is Aggregate.MEAN:
        return float(values[0])
    # min/max: an int when every value of the window is one, as InfluxDB keeps the type.
    number, integer, lowest_kind = values[0], values[1], values[2]
    return int(integer) if lowest_kind == _INT else float(number)
