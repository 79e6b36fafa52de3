"""The ``TelemetryStore`` port: where telemetry points are kept.

The graph holds only references to series (``graph.telemetry.TelemetryRef``); the points
live here, in InfluxDB 2 (``ingest/influx.py``) or embedded DuckDB (``ingest/duckdb.py``).
Every read goes through references, so a twin that points at series another system
writes is read exactly like one kgtwin ingests itself.

Writes are idempotent: a point is identified by (bucket, measurement, tag set, field,
time), and writing it again replaces it, so a message redelivered after a crash is never
counted twice in a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from graph.telemetry import Aggregate, FieldValue, Sample, TelemetryPoint, TelemetryRef

__all__ = ["Aggregate", "FieldValue", "Sample", "TelemetryPoint", "TelemetryStore"]


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
        be assumed written, and writing the same points again is safe.
        """
        ...

    def latest(
        self, refs: Sequence[TelemetryRef], fields: Sequence[str] | None = None
    ) -> list[dict[str, Sample]]:
        """The newest value of each field of each reference, in one round trip.

        The result is aligned with ``refs``: one mapping of field name to its newest sample
        (fields with no point are absent). ``fields`` ``None`` means the reference's fields.
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
        its values). The result is aligned with ``refs``; samples are in time order.
        """
        ...

    def close(self) -> None:
        """Flush pending writes and release connections."""
        ...
