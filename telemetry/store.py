"""The ``TelemetryStore`` port: where telemetry points are kept.

The graph holds only references to series (``TelemetryRef``); the points live here, in
InfluxDB 2 (``telemetry/influx.py``), embedded DuckDB (``telemetry/duckdb.py``) or memory
(``telemetry/memory.py``, for tests and short-lived tools).
Every read goes through references, so a twin that points at series another system
writes is read exactly like one kgtwin ingests itself.

Writes are idempotent: a point is identified by (bucket, measurement, tag set, field,
time), and writing it again replaces it, so a message redelivered after a crash is never
counted twice in a query.

A reference selects every series of its bucket and measurement whose tag set includes
all the reference's tags, as an InfluxDB tag filter does: a twin's reference
``{twin_id: pump-1}`` reads its own series, and a reference ``{site: north, sensor: p-7}``
reads the series another system writes with those tags and perhaps more (``unit=bar``).
When several series match one reference their points are read as one series (the newest
of them for ``latest``, one window over all of them for ``query``).

The checks every adapter runs (``telemetry.checks``) are shared, so that a point or a
query one store refuses is refused by the others with the same ``BadRequest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from telemetry.points import Aggregate, Sample, TelemetryPoint
from telemetry.refs import TelemetryRef


class TelemetryStore(Protocol):
    """A time-series database holding the twins' telemetry points."""

    @property
    def backend(self) -> str:
        """A short name for logs and health checks, such as ``duckdb`` or ``influxdb``."""
        ...

    def ping(self) -> None:
        """Check the store answers; raise ``BackendUnavailable`` when it does not."""
        ...

    def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Store ``points`` durably before returning (the ingest path acknowledges after this).

        Raises ``BackendUnavailable`` when the store cannot take them; then nothing may
        be assumed written, and writing the same points again is safe. Raises ``BadRequest``
        for points no store can keep (``telemetry.checks``:
        nothing of the call is written) or that the store refuses (InfluxDB: a field whose
        type differs from the one already stored; the other points may be written): retrying
        those cannot succeed.
        """
        ...

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        """The newest value of each field of each reference, in one round trip.

        The result is aligned with ``refs``: one mapping of field name to its newest sample
        (fields with no point are absent). ``fields`` ``None`` means the reference's fields;
        a reference without fields reads all the fields its series have.
        """
        ...

    def query(
        self,
        refs: Sequence[TelemetryRef],
        field: str,
        start: datetime,
        stop: datetime,
        every_s: float | None = None,
        fn: Aggregate = Aggregate.MEAN,
    ) -> list[list[Sample]]:
        """Points of ``field`` in ``[start, stop)`` for many references in one round trip.

        With ``every_s``, points are grouped in windows of that many seconds aligned to the
        epoch and each window that holds points gives one sample (its start time, ``fn`` of
        its values). The result is aligned with ``refs``; samples are in time order, with
        timezone-aware UTC times. ``mean`` keeps ints as floats; ``min``, ``max`` and
        ``last`` keep the field's type; ``count`` is an int. Raises ``BadRequest`` for a
        naive datetime, ``stop <= start``, ``every_s <= 0``, an unknown ``fn``, or ``mean``,
        ``min`` or ``max`` of a field holding strings or booleans.
        """
        ...

    def close(self) -> None:
        """Flush pending writes and release connections."""
        ...
