"""Embedded DuckDB: the zero set-up default telemetry store.

DuckDB keeps the points in one file and answers windowed aggregations fast. It locks
its file for one process, so the microservices profile (separate ``api`` and ``ingest``
processes) uses InfluxDB instead.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from ontology.errors import BackendUnavailable


class DuckDbTelemetryStore:
    """Telemetry points in an embedded DuckDB file (or in memory when ``path`` is None)."""

    backend = "duckdb"

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = duckdb.connect(str(path) if path is not None else ":memory:")
        except (OSError, duckdb.Error) as exc:
            raise BackendUnavailable("duckdb", f"cannot open {path}: {exc}") from exc
        # One connection shared by threads: DuckDB connections are not thread-safe.
        self._lock = threading.Lock()

    def ping(self) -> None:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchall()
        except duckdb.Error as exc:
            raise BackendUnavailable("duckdb", str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()
