"""InfluxDB 2 through ``influxdb-client``: the production telemetry store.

Writes are line protocol we build as strings ourselves (the client's ``Point`` costs several
times more per point) and post with the synchronous write API: ``write`` returns after the
server answered 204, which it does once the points are in its write-ahead log, so the
ingest path may acknowledge the messages. The batching API would return before the points
are written and report failures on a background thread, which is the wrong contract for a
caller that must know whether to spool.

Reads are Flux. All references of one call go into one Flux script: one ``filter`` over the
union of their series per bucket, and the rows are given back to the references in Python by
their tag values. Results come back as annotated CSV, parsed here; the client's own table
objects parse each timestamp with dateutil, several times slower.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.dialect import Dialect
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError

from ontology.errors import BackendUnavailable, BadRequest, KgtwinError
from telemetry.checks import (
    Instants,
    check_field,
    check_query,
    check_series,
    check_value,
    ns_to_datetime,
    ref_fields,
)
from telemetry.points import Aggregate, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef

# Lines per HTTP request: InfluxDB suggests 5,000-10,000; bigger bodies gain little.
_CHUNK_LINES = 10_000
# The widest range Flux takes, for "the newest point ever written" (InfluxDB clamps the
# start to the epoch: points before 1970 are not read).
_ALL_TIME = "start: time(v: -9223372036854775806), stop: time(v: 9223372036854775806)"
_DIALECT = Dialect(header=True, annotations=["datatype"])
# The range's bounds repeat on every row and no reader uses them: not sent, not parsed.
_UNREAD = '|> drop(columns: ["_start", "_stop"])'

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\"})
_FLUX_ESCAPES = str.maketrans({'"': r"\"", "\\": r"\\", "\n": r"\n", "\r": r"\r", "\t": r"\t"})


def flux_string(value: str) -> str:
    """``value`` as a Flux string literal (``${`` would start an interpolation)."""
    return '"' + value.translate(_FLUX_ESCAPES).replace("${", "\\${") + '"'


def _line_value(name: str, value: object, where: str) -> str:
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            check_value(name, value, where)
        return repr(value)
    if kind is int:
        check_value(name, value, where)
        return f"{value}i"
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, str) and kind is str:
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    check_value(name, value, where)  # raises unless a subclass of a value kind
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{int(value)}i"
    if isinstance(value, float):
        return repr(float(value))
    return '"' + str(value).translate(_STRING_ESCAPES) + '"'


class _LineCache:
    """Escaped measurement-and-tags prefixes and field keys, built once per series and field."""

    def __init__(self) -> None:
        self.prefixes: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
        self.keys: dict[str, str] = {}

    def prefix(self, point: TelemetryPoint, where: str) -> str:
        check_series(point.bucket, point.measurement, point.tags, where)
        # Tags sorted by key: the order InfluxDB stores them in, cheapest for it to parse.
        tags = "".join(
            f",{k.translate(_KEY_ESCAPES)}={v.translate(_KEY_ESCAPES)}" for k, v in sorted(point.tags.items())
        )
        line = point.measurement.translate(_MEASUREMENT_ESCAPES) + tags + " "
        self.prefixes[point.bucket, point.measurement, tuple(point.tags.items())] = line
        return line

    def key(self, name: str, where: str) -> str:
        check_field(name, where)
        escaped = self.keys[name] = name.translate(_KEY_ESCAPES)
        return escaped


@dataclass
class _RefClass:
    """References of one bucket and measurement that name the same tag keys.

    Their series are told apart by those tag values alone, so one Flux ``group`` by the
    keys gives each reference its own table.
    """

    bucket: str
    measurement: str
    keys: tuple[str, ...]
    refs: dict[tuple[str, ...], list[int]] = field(default_factory=dict)  # tag values -> ref indexes

    def predicate(self) -> str:
        """A Flux predicate selecting the series of all the class's references."""
        ors = []
        for values in self.refs:
            ands = [
                f"r[{flux_string(k)}] == {flux_string(v)}" for k, v in zip(self.keys, values, strict=True)
            ]
            ors.append("(" + " and ".join(ands) + ")" if ands else "true")
        return f"r._measurement == {flux_string(self.measurement)} and {_any_of(ors)}"


def _any_of(terms: Sequence[str]) -> str:
    """``terms`` joined by ``or`` as a balanced tree: Flux refuses a left-deep chain of ~1,000
    ("Program is nested too deep"), while a balanced one is only log2(n) deep."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return f"({_any_of(terms[:middle])} or {_any_of(terms[middle:])})"


def _classes(refs: Sequence[TelemetryRef]) -> list[_RefClass]:
    found: dict[tuple[str, str, tuple[str, ...]], _RefClass] = {}
    for i, ref in enumerate(refs):
        keys = tuple(sorted(ref.tags))
        cls = found.get((ref.bucket, ref.measurement, keys))
        if cls is None:
            cls = found[ref.bucket, ref.measurement, keys] = _RefClass(ref.bucket, ref.measurement, keys)
        cls.refs.setdefault(tuple(ref.tags[k] for k in keys), []).append(i)
    return list(found.values())


def _parse(kind: str, text: str) -> Any:
    if kind == "double":
        return float(text)
    if kind in ("long", "unsignedLong"):
        return int(text)
    if kind == "boolean":
        return text == "true"
    if kind.startswith("dateTime"):
        return _rfc3339_ns(text)
    # InfluxDB writes CSV with CRLF line ends, which turns a "\n" inside a string into "\r\n".
    return text.replace("\r\n", "\n")


def _rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of InfluxDB's ``2026-11-25T07:31:34.940714166Z``."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(seconds + "+00:00")
    return int(whole.timestamp()) * 1_000_000_000 + int((fraction + "000000000")[:9])


class InfluxTelemetryStore:
    """Telemetry points in the buckets of one InfluxDB 2 organisation.

    ``bucket`` is the default one: ``ping`` checks it exists. Points name their own bucket;
    a write to a bucket that does not exist yet creates it (the simulation results go to
    ``simulation``), or fails with ``BackendUnavailable`` if the token may not.
    """

    backend = "influxdb"

    def __init__(self, url: str, token: str, org: str, bucket: str, timeout_ms: int = 10_000) -> None:
        self.url = url
        self.org = org
        self.bucket = bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=timeout_ms)
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()
        self._lines = _LineCache()
        self._buckets: set[str] = set()  # buckets known to exist

    def ping(self) -> None:
        """Check the server answers, the token is accepted and the bucket exists."""
        try:
            if not self._client.ping():
                raise BackendUnavailable("influxdb", f"{self.url} does not answer")
            found = self._client.buckets_api().find_bucket_by_name(self.bucket)
        except (ApiException, InfluxDBError, HTTPError, OSError) as exc:
            raise self._translate(exc, "ping") from exc
        if found is None:
            raise BackendUnavailable("influxdb", f"bucket {self.bucket!r} not found in org {self.org!r}")

    def ensure_bucket(self, name: str) -> None:
        """Create bucket ``name`` (kept forever) unless it exists."""
        api = self._client.buckets_api()
        try:
            if api.find_bucket_by_name(name) is None:
                api.create_bucket(bucket_name=name, org=self.org)
        except ApiException as exc:
            if exc.status == 422:  # created meanwhile by another writer
                return
            if exc.status in (401, 403):
                raise BackendUnavailable(
                    "influxdb",
                    f"bucket {name!r} does not exist and the token may not create it "
                    f"(HTTP {exc.status}); create it or give the token write access to buckets",
                ) from exc
            raise self._translate(exc, f"create bucket {name!r}") from exc
        except InfluxDBError as exc:  # the client could not resolve the org: the token may not read it
            raise BackendUnavailable(
                "influxdb",
                f"bucket {name!r} does not exist and the token may not create it ({exc.message}); "
                "create it or give the token write access to buckets",
            ) from exc
        except (HTTPError, OSError) as exc:
            raise self._translate(exc, f"create bucket {name!r}") from exc

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Post ``points`` as line protocol, one request per bucket and 10,000 lines."""
        for bucket, lines in self._lines_by_bucket(points).items():
            for start in range(0, len(lines), _CHUNK_LINES):
                body = "\n".join(lines[start : start + _CHUNK_LINES]).encode()
                self._post(bucket, body)

    def _lines_by_bucket(self, points: Sequence[TelemetryPoint]) -> dict[str, list[str]]:
        prefixes = self._lines.prefixes
        keys = self._lines.keys
        by_bucket: dict[str, list[str]] = defaultdict(list)
        for n, point in enumerate(points):
            prefix = prefixes.get((point.bucket, point.measurement, tuple(point.tags.items())))
            if prefix is None:
                prefix = self._lines.prefix(point, f"point {n}")
            values = []
            for name, value in point.fields.items():
                key = keys.get(name) or self._lines.key(name, f"point {n}")
                if type(value) is float and math.isfinite(value):
                    values.append(f"{key}={value!r}")
                else:
                    values.append(f"{key}={_line_value(name, value, f'point {n}')}")
            if not values:
                continue  # a point without fields is no line at all
            by_bucket[point.bucket].append(f"{prefix}{','.join(values)} {point.time_ns}")
        return by_bucket

    def _post(self, bucket: str, body: bytes) -> None:
        for attempt in (1, 2):
            try:
                # WritePrecision's constants are plain str, though ``write`` is annotated with the class.
                precision: Any = WritePrecision.NS
                self._write_api.write(bucket=bucket, org=self.org, record=body, write_precision=precision)
                return
            except ApiException as exc:
                if exc.status == 404 and attempt == 1 and "bucket" in _message(exc):
                    self.ensure_bucket(bucket)
                    continue
                raise self._translate(exc, f"write to bucket {bucket!r}") from exc
            except (InfluxDBError, HTTPError, OSError) as exc:
                raise self._translate(exc, f"write to bucket {bucket!r}") from exc

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        """The newest value of each field of each reference: ``last()`` of every series."""
        classes = _classes(refs)
        wanted = [set(ref_fields(ref, fields)) for ref in refs]
        all_named = all(wanted)
        names = sorted(set().union(*wanted)) if all_named else []
        field_filter = " or ".join(f"r._field == {flux_string(n)}" for n in names)

        def stream(bucket: str, predicate: str) -> str:
            fields_and = f" and ({field_filter})" if field_filter else ""
            return (
                f"from(bucket: {flux_string(bucket)}) |> range({_ALL_TIME}) "
                f"|> filter(fn: (r) => ({predicate}){fields_and}) |> last()"
            )

        result: list[dict[str, Sample]] = [{} for _ in refs]
        newest: list[dict[str, int]] = [{} for _ in refs]
        for cls, row in self._run(classes, stream):
            name = row["_field"]
            for i in self._refs_of(cls, row):
                if (not wanted[i] or name in wanted[i]) and row["_time"] >= newest[i].get(name, -(2**63)):
                    newest[i][name] = row["_time"]
                    result[i][name] = Sample(ns_to_datetime(row["_time"]), row["_value"])
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
        """Points of ``field``, or ``aggregateWindow`` of them, for all references in one script."""
        start_ns, stop_ns, every_ns, aggregate = check_query(start, stop, every_s, fn)
        span = f"start: time(v: {start_ns}), stop: time(v: {stop_ns})"

        def stream(bucket: str, predicate: str, keys: tuple[str, ...] = ()) -> str:
            text = (
                f"from(bucket: {flux_string(bucket)}) |> range({span}) "
                f"|> filter(fn: (r) => ({predicate}) and r._field == {flux_string(field)})"
            )
            if every_ns is None:
                return f"{text} {_UNREAD}"
            group = ", ".join(flux_string(k) for k in keys)
            # Grouped by the references' tag keys: the series one reference selects are one table.
            return (
                f"{text} |> group(columns: [{group}]) |> aggregateWindow(every: {every_ns}ns, "
                f'fn: {aggregate.value}, createEmpty: false, timeSrc: "_start") {_UNREAD}'
            )

        result: list[list[Sample]] = [[] for _ in refs]
        merged: set[int] = set()
        action = f"read {field!r}" if every_ns is None else f"aggregate {field!r} with {aggregate.value}"
        instants = Instants()
        for cls, row in self._run(_classes(refs), stream, by_class=every_ns is not None, action=action):
            time_ns = row["_time"]
            if every_ns is not None:
                # The first window starts at ``start`` if that is not on a window boundary.
                time_ns -= time_ns % every_ns
            at = instants[time_ns]
            for i in self._refs_of(cls, row):
                if result[i] and result[i][-1].time > at:
                    merged.add(i)  # rows of several series: sort below
                result[i].append(Sample(at, row["_value"]))
        for i in merged:
            result[i].sort(key=lambda sample: sample.time)
        return result

    def _run(
        self,
        classes: list[_RefClass],
        stream: Callable[..., str],
        *,
        by_class: bool = False,
        action: str = "query",
    ) -> Iterator[tuple[_RefClass, dict[str, Any]]]:
        """Run one Flux script with a stream per bucket (or per class) and yield its rows.

        Buckets that do not exist hold no points: they are left out rather than failing the
        whole script.
        """
        groups: dict[str, list[int]] = defaultdict(list)
        for c, cls in enumerate(classes):
            groups[str(c) if by_class else cls.bucket].append(c)
        existing = self._existing_buckets({cls.bucket for cls in classes})
        parts = []
        owners: dict[str, list[_RefClass]] = {}
        for n, members in enumerate(groups.values()):
            chosen = [classes[c] for c in members if classes[c].bucket in existing]
            if not chosen:
                continue
            predicate = " or ".join(f"({cls.predicate()})" for cls in chosen)
            args = (chosen[0].keys,) if by_class else ()
            parts.append(f'{stream(chosen[0].bucket, predicate, *args)} |> yield(name: "s{n}")')
            owners[f"s{n}"] = chosen
        if not parts:
            return
        try:
            for result_name, row in self._rows("\n".join(parts)):
                for cls in owners[result_name]:
                    yield cls, row
        except (ApiException, InfluxDBError, HTTPError, OSError) as exc:
            raise self._translate(exc, action) from exc

    def _existing_buckets(self, names: set[str]) -> set[str]:
        if names <= self._buckets:
            return names
        api = self._client.buckets_api()
        try:
            for name in names - self._buckets:
                if api.find_bucket_by_name(name) is not None:
                    self._buckets.add(name)
        except (ApiException, InfluxDBError, HTTPError, OSError) as exc:
            raise self._translate(exc, "find buckets") from exc
        return names & self._buckets

    def _rows(self, flux: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The annotated CSV of ``flux`` as (result name, row by column name)."""
        kinds: list[str] = []
        header: list[str] = []
        times: dict[str, int] = {}  # time text -> ns: a window's instant repeats in every series
        rows = self._query_api.query_csv(flux, org=self.org, dialect=_DIALECT)
        expect_header = False
        for line in rows:
            if not line or not any(line):
                continue
            if line[0] == "#datatype":
                kinds = line
                expect_header = True
                continue
            if expect_header:
                header = line
                expect_header = False
                if "error" in header and "reference" in header:
                    error = next(rows, ["", "unknown error"])
                    raise BadRequest(f"influxdb query failed: {error[1]}", details={"flux": flux})
                continue
            row: dict[str, Any] = {}
            for name, kind, text in zip(header[1:], kinds[1:], line[1:], strict=True):
                if kind.startswith("dateTime") and text:
                    ns = times.get(text)
                    if ns is None:
                        ns = times[text] = _rfc3339_ns(text)
                    row[name] = ns
                else:
                    row[name] = _parse(kind, text) if text or kind == "string" else None
            yield str(row["result"]), row

    @staticmethod
    def _refs_of(cls: _RefClass, row: Mapping[str, Any]) -> list[int]:
        if row.get("_measurement", cls.measurement) != cls.measurement:
            return []
        values = tuple(row.get(k) for k in cls.keys)
        if None in values:
            return []
        return cls.refs.get(values, [])  # type: ignore[arg-type]  # no None in values

    def _translate(self, exc: Exception, action: str) -> KgtwinError:
        """The kgtwin error for a driver failure: retry later, or fix the request."""
        if isinstance(exc, ApiException):
            status = exc.status or 0
            message = _message(exc)
            if status in (400, 413, 422):
                return BadRequest(
                    f"influxdb refused to {action}: {message}", details={"status": status, "cause": message}
                )
            return BackendUnavailable("influxdb", f"{self.url}: {action}: HTTP {status} {message}")
        return BackendUnavailable("influxdb", f"{self.url}: {action}: {exc}")

    def close(self) -> None:
        self._client.close()


def _message(exc: ApiException) -> str:
    """The server's error message from an ``ApiException``, else its reason."""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if isinstance(body, str) and body:
        try:
            decoded = json.loads(body)
        except ValueError:
            return body
        if isinstance(decoded, dict) and "message" in decoded:
            return str(decoded["message"])
    return str(exc.reason or "")
