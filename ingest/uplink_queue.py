"""The uplink queue: what an edge instance has still to send to the cloud, durable on local disk.

Like the ingest spool (``ingest.spool``), one SQLite file with ``synchronous=FULL``: a
message pushed here survives a crash of the process, and leaves only once the cloud's
broker acknowledged it. Each message gets the next sequence number of the site (SQLite's
``AUTOINCREMENT`` never hands a number out twice, even after the rows are gone), so
``<site>:<seq>`` is a message id unique and stable across restarts: a message sent again
after a reconnect or a restart carries the same id, and the cloud stores it once.

**Bounds and overflow** (``max_bytes`` of message bodies, ``max_age_s`` of the oldest):
past a bound, telemetry goes first, oldest message first, counted in
``dropped_points`` and logged. Graph changes are never dropped one by one: when they
alone pass a bound, the queued changes are replaced by a mark that the site needs a
resync, and the forwarder then sends a snapshot of the whole site (which carries every
change), so the cloud's graph ends equal to the edge's.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import structlog

_log = structlog.get_logger("kgtwin.uplink")

_LOG_EVERY_NS = 10 * 10**9
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " points INTEGER NOT NULL, at_ns INTEGER NOT NULL, bytes INTEGER NOT NULL, body BLOB)",
    "CREATE TABLE IF NOT EXISTS flags (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # The oldest message of a kind, found without a scan however long the outage was.
    "CREATE INDEX IF NOT EXISTS messages_by_kind ON messages (kind, seq)",
)


class MessageKind(StrEnum):
    """What a forwarded message carries; the last level of its topic."""

    TELEMETRY = "telemetry"
    CHANGE = "change"
    SNAPSHOT = "snapshot"
    REFUSAL = "refusal"
    """A model change from the cloud the edge refused (``ingest.uplink_downlink``); never dropped."""


@dataclass(frozen=True)
class QueuedMessage:
    """One message waiting to be sent: ``seq`` orders the site's messages and names them."""

    seq: int
    kind: MessageKind
    body: bytes


class UplinkQueue:
    """The site's outgoing messages in one SQLite file, first in, first out.

    ``clock`` (seconds) is injectable so tests can age messages without waiting.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        max_age_s: float = 7 * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._count_waiting()
        self.dropped_points = 0
        self.dropped_messages = 0
        self.resyncs_marked = 0
        self._logged_ns = 0
        self._unlogged_points = 0
        self._ready = threading.Condition(self._lock)

    @property
    def waiting_bytes(self) -> int:
        """Bytes of message bodies waiting."""
        return self._bytes

    def __len__(self) -> int:
        """Messages waiting."""
        return self._count

    def last_sequence(self) -> int:
        """The sequence of the newest message ever queued (0 before the first)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        return int(row[0]) if row is not None else 0

    def size_bytes(self) -> int:
        """Bytes the queue takes on disk: its file and its write-ahead log."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

    def push(self, kind: MessageKind, body: bytes, *, points: int = 0) -> int:
        """Append a message durably (synced when this returns) and apply the bounds; answers its sequence."""
        return self.push_many(kind, [(body, points)])[0]

    def push_many(self, kind: MessageKind, messages: Sequence[tuple[bytes, int]]) -> list[int]:
        """Append ``(body, points)`` messages in one transaction, so one sync, then apply the bounds.

        A store write of several messages' worth of points (ingest writes up to 5,000 values
        at once) costs one fsync, not one per message: the sync, not the insert, is most of
        what forwarding adds to ingest (``bench/uplink.py``). Answers the sequences.
        """
        now_ns = int(self._clock() * 1e9)
        with self._lock:
            if len(messages) == 1:
                body, points = messages[0]
                seqs = [self._insert(kind, body, points, now_ns)]
            else:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    seqs = [self._insert(kind, body, points, now_ns) for body, points in messages]
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._count_waiting()
                    raise
            self._enforce_bounds(now_ns)
            self._ready.notify_all()
        return seqs

    def reserve_snapshot(self) -> int:
        """Take the next sequence for a snapshot about to be read; :meth:`fill_snapshot` gives its body.

        The sequence is taken *before* the site is read, so a change committed while it is
        read gets a later sequence and is applied after the snapshot, never undone by it.
        """
        with self._lock:
            self._db.execute("DELETE FROM flags WHERE name = 'resync'")
            # An older snapshot still waiting says less than this one: it goes.
            gone = self._db.execute(
                "DELETE FROM messages WHERE kind = ? RETURNING bytes", (MessageKind.SNAPSHOT.value,)
            ).fetchall()
            self._bytes -= sum(int(r[0]) for r in gone)
            self._count -= len(gone)
            return self._insert(MessageKind.SNAPSHOT, None, 0, int(self._clock() * 1e9))

    def fill_snapshot(self, seq: int, body: bytes) -> None:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE messages SET body = ?, bytes = ? WHERE seq = ?", (body, len(body), seq)
            )
            if cursor.rowcount:  # else overflow replaced it by a new resync mark meanwhile
                self._bytes += len(body)
            self._ready.notify_all()

    def abandon_snapshot(self, seq: int) -> None:
        """The snapshot reserved as ``seq`` could not be read: forget it and ask for a resync again."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM messages WHERE seq = ? AND body IS NULL", (seq,))
            self._count -= cursor.rowcount
            self._mark_resync()

    def needs_resync(self) -> bool:
        """Whether changes were replaced by a resync mark (or none was ever sent)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM flags WHERE name = 'resync'").fetchone()
        return row is not None

    def mark_resync(self) -> None:
        """Ask for a snapshot of the site (kept across restarts until one is queued)."""
        with self._lock:
            self._mark_resync()

    def peek(self, limit: int, after: int = 0) -> list[QueuedMessage]:
        """Up to ``limit`` of the oldest messages after ``after``; a snapshot still being read ends them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        found: list[QueuedMessage] = []
        for seq, kind, body in rows:
            if body is None:
                break
            found.append(QueuedMessage(int(seq), MessageKind(kind), bytes(body)))
        return found

    def wait(self, timeout: float) -> None:
        """Wait until a message is pushed, at most ``timeout`` seconds."""
        with self._lock:
            self._ready.wait(timeout)

    def drop_through(self, seq: int) -> None:
        """Remove every message up to ``seq``: the cloud's broker acknowledged them."""
        with self._lock:
            row = self._db.execute(
                "SELECT coalesce(sum(bytes), 0), count(*) FROM messages WHERE seq <= ?", (seq,)
            ).fetchone()
            self._db.execute("DELETE FROM messages WHERE seq <= ?", (seq,))
            self._bytes -= int(row[0])
            self._count -= int(row[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _count_waiting(self) -> None:
        row = self._db.execute("SELECT coalesce(sum(bytes), 0), count(*) FROM messages").fetchone()
        self._bytes, self._count = int(row[0]), int(row[1])

    def _insert(self, kind: MessageKind, body: bytes | None, points: int, now_ns: int) -> int:
        size = len(body) if body is not None else 0
        cursor = self._db.execute(
            "INSERT INTO messages (kind, points, at_ns, bytes, body) VALUES (?, ?, ?, ?, ?)",
            (kind.value, points, now_ns, size, body),
        )
        self._bytes += size
        self._count += 1
        return int(cursor.lastrowid or 0)

    def _mark_resync(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO flags (name, value) VALUES ('resync', 1)")
        self.resyncs_marked += 1

    def _enforce_bounds(self, now_ns: int) -> None:
        """Telemetry out first, oldest first; then queued changes give way to a resync mark."""
        oldest = now_ns - int(self.max_age_s * 1e9)
        dropped_points = dropped = 0
        while self._bytes > self.max_bytes or self._oldest_before(oldest, MessageKind.TELEMETRY):
            row = self._db.execute(
                "DELETE FROM messages WHERE seq = (SELECT min(seq) FROM messages WHERE kind = ?)"
                " RETURNING points, bytes",
                (MessageKind.TELEMETRY.value,),
            ).fetchone()
            if row is None:
                break
            dropped_points += int(row[0])
            dropped += 1
            self._bytes -= int(row[1])
            self._count -= 1
        if dropped:
            self.dropped_points += dropped_points
            self.dropped_messages += dropped
            self._unlogged_points += dropped_points
            if now_ns - self._logged_ns >= _LOG_EVERY_NS:
                # One line per interval, not per batch: overflow lasts as long as the outage.
                _log.warning(
                    "uplink.telemetry_dropped",
                    points=self._unlogged_points,
                    dropped_total=self.dropped_points,
                    waiting_bytes=self._bytes,
                    limit_bytes=self.max_bytes,
                )
                self._logged_ns, self._unlogged_points = now_ns, 0
        if self._bytes > self.max_bytes or self._oldest_before(oldest, MessageKind.CHANGE):
            row = self._db.execute(
                "DELETE FROM messages WHERE kind = ? RETURNING bytes", (MessageKind.CHANGE.value,)
            ).fetchall()
            if not row:
                return  # only snapshots are waiting: nothing a resync would replace
            self._bytes -= sum(int(r[0]) for r in row)
            self._count -= len(row)
            self._mark_resync()
            _log.warning(
                "uplink.resync_marked",
                changes=len(row),
                waiting_bytes=self._bytes,
                limit_bytes=self.max_bytes,
            )

    def _oldest_before(self, oldest_ns: int, kind: MessageKind) -> bool:
        row = self._db.execute(
            "SELECT at_ns FROM messages WHERE kind = ? ORDER BY seq LIMIT 1", (kind.value,)
        ).fetchone()
        return row is not None and int(row[0]) < oldest_ns
