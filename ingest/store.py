"""The ``TelemetryStore`` port: where telemetry points are kept.

The graph holds only references to series; the points live here, in InfluxDB 2
(``ingest/influx.py``) or embedded DuckDB (``ingest/duckdb.py``). Writing and querying
points join this protocol with the telemetry release; start-up needs ``ping``/``close``.
"""

from __future__ import annotations

from typing import Protocol


class TelemetryStore(Protocol):
    """A time-series database holding the twins' telemetry points."""

    @property
    def backend(self) -> str:
        """A short name for logs and health checks, such as ``duckdb`` or ``influxdb``."""
        ...

    def ping(self) -> None:
        """Check the store answers; raise ``BackendUnavailable`` when it does not."""
        ...

    def close(self) -> None:
        """Flush pending writes and release connections."""
        ...
