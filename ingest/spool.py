"""The spool: a bounded, fsync'd queue on local disk for points the store cannot take yet.

While the time-series store is unreachable, the ingest service writes each batch here
and then acknowledges its messages to the broker: once a batch is in the spool it
survives a crash of the process (SQLite with ``synchronous=FULL`` syncs each commit to
disk). Batches leave the spool, oldest first, only after the store has taken them, and
a restarted process replays what it finds. The spool is bounded (``max_points``): when
it is full the service stops acknowledging, so the broker keeps the messages instead.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from telemetry.points import TelemetryPoint

_SCHEMA = "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, points INTEGER, body BLOB)"


class SpoolFull(Exception):
    """Raised by :meth:`Spool.push` when the batch would pass ``max_points``."""


class Spool:
    """Batches of points in one SQLite file, first in, first out."""

    def __init__(self, path: Path, *, max_points: int = 2_000_000) -> None:
        self.path = path
        self.max_points = max_points
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        row = self._db.execute("SELECT coalesce(sum(points), 0), count(*) FROM batches").fetchone()
        self._points, self._batches = int(row[0]), int(row[1])

    @property
    def points(self) -> int:
        """Points waiting in the spool."""
        return self._points

    def __len__(self) -> int:
        """Batches waiting in the spool."""
        return self._batches

    def push(self, points: Sequence[TelemetryPoint]) -> None:
        """Append a batch durably (synced to disk when this returns)."""
        if self._points + len(points) > self.max_points and self._batches:
            raise SpoolFull(f"{self.path}: {self._points} points waiting, limit {self.max_points}")
        body = json.dumps(
            [[p.bucket, p.measurement, dict(p.tags), dict(p.fields), p.time_ns] for p in points],
            separators=(",", ":"),
        ).encode("utf-8")
        with self._lock:
            self._db.execute("INSERT INTO batches (points, body) VALUES (?, ?)", (len(points), body))
            self._points += len(points)
            self._batches += 1

    def peek(self) -> tuple[int, list[TelemetryPoint]] | None:
        """The oldest batch and its key (for :meth:`drop`), or None when empty."""
        with self._lock:
            row = self._db.execute("SELECT id, body FROM batches ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        points = [TelemetryPoint(b, m, t, f, int(ns)) for b, m, t, f, ns in json.loads(row[1])]
        return int(row[0]), points

    def drop(self, key: int) -> None:
        """Remove a batch the store has taken."""
        with self._lock:
            row = self._db.execute("DELETE FROM batches WHERE id = ? RETURNING points", (key,)).fetchone()
            if row is not None:
                self._points -= int(row[0])
                self._batches -= 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
