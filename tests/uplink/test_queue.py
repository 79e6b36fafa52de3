"""The uplink queue: ids stable across restarts, overflow drops telemetry oldest first (counted in
the metrics) and never drops a graph change silently (a resync mark replaces them). No server."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.uplink import Forwarder, UplinkOptions
from ingest.uplink_queue import MessageKind, UplinkQueue
from kgtwin.metrics import Metrics, watch_uplink


def test_sequence_numbers_survive_a_restart_and_are_never_reused(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3")
    first = [queue.push(MessageKind.TELEMETRY, b"[]", points=1) for _ in range(3)]
    queue.drop_through(first[-1])
    queue.close()
    reopened = UplinkQueue(tmp_path / "q.sqlite3")
    later = reopened.push(MessageKind.CHANGE, b"{}")
    assert first == [1, 2, 3]
    assert later == 4  # the acknowledged messages' numbers are not handed out again
    assert [m.seq for m in reopened.peek(10)] == [4]


def test_unacknowledged_messages_are_still_there_after_a_restart(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3")
    queue.push(MessageKind.TELEMETRY, b'[["b","m",{"twin_id":"t"},{"v":1},1]]', points=1)
    queue.push(MessageKind.CHANGE, b'{"kind":"twin.deleted"}')
    queue.close()
    reopened = UplinkQueue(tmp_path / "q.sqlite3")
    assert [(m.seq, m.kind) for m in reopened.peek(10)] == [
        (1, MessageKind.TELEMETRY),
        (2, MessageKind.CHANGE),
    ]
    assert len(reopened) == 2
    assert reopened.waiting_bytes == len(b'[["b","m",{"twin_id":"t"},{"v":1},1]]') + len(
        b'{"kind":"twin.deleted"}'
    )


def test_past_the_byte_bound_telemetry_goes_oldest_first_and_changes_stay(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3", max_bytes=1000)
    queue.push(MessageKind.CHANGE, b"c" * 100)
    for _ in range(10):
        queue.push(MessageKind.TELEMETRY, b"t" * 100, points=5)
    waiting = queue.peek(100)
    assert queue.waiting_bytes <= 1000
    assert waiting[0].kind is MessageKind.CHANGE  # the change is kept
    assert [m.seq for m in waiting[1:]] == list(range(3, 12))  # the oldest points went
    assert queue.dropped_points == 5
    assert queue.dropped_messages == 1
    assert not queue.needs_resync()


def test_changes_past_the_bound_give_way_to_a_resync_mark(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3", max_bytes=500)
    queue.push(MessageKind.TELEMETRY, b"t" * 100, points=3)
    for _ in range(6):
        queue.push(MessageKind.CHANGE, b"c" * 100)
    assert queue.needs_resync()
    assert queue.dropped_points == 3  # telemetry went first
    assert all(m.kind is MessageKind.CHANGE for m in queue.peek(100))
    assert queue.waiting_bytes <= 500
    queue.close()
    assert UplinkQueue(tmp_path / "q.sqlite3").needs_resync()  # the mark survives a restart


def test_age_bound_drops_old_telemetry_and_marks_old_changes(tmp_path: Path) -> None:
    now = [1000.0]
    queue = UplinkQueue(tmp_path / "q.sqlite3", max_age_s=60, clock=lambda: now[0])
    queue.push(MessageKind.TELEMETRY, b"old", points=2)
    queue.push(MessageKind.CHANGE, b"old change")
    now[0] += 61
    queue.push(MessageKind.TELEMETRY, b"new", points=1)
    assert [m.body for m in queue.peek(10)] == [b"new"]
    assert queue.dropped_points == 2
    assert queue.needs_resync()


def test_a_snapshot_being_read_holds_back_later_messages(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3")
    queue.push(MessageKind.CHANGE, b"before")
    queue.mark_resync()
    seq = queue.reserve_snapshot()
    queue.push(MessageKind.CHANGE, b"during")
    assert not queue.needs_resync()
    assert [m.body for m in queue.peek(10)] == [b"before"]  # nothing passes the unread snapshot
    queue.fill_snapshot(seq, b"{}")
    assert [(m.kind, m.body) for m in queue.peek(10)] == [
        (MessageKind.CHANGE, b"before"),
        (MessageKind.SNAPSHOT, b"{}"),
        (MessageKind.CHANGE, b"during"),
    ]


def test_a_new_snapshot_replaces_one_still_waiting(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3")
    first = queue.reserve_snapshot()
    queue.fill_snapshot(first, b"old site")
    queue.push(MessageKind.CHANGE, b"change")
    second = queue.reserve_snapshot()
    queue.fill_snapshot(second, b"new site")
    assert [m.body for m in queue.peek(10)] == [b"change", b"new site"]
    assert queue.waiting_bytes == len(b"change") + len(b"new site")


def test_overflow_shows_in_the_metrics(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3", max_bytes=300)
    options = UplinkOptions(host="127.0.0.1", port=1, site="site-a", client_id="metrics-test")
    forwarder = Forwarder(queue, options, lambda: b"{}")  # never started: not connected
    metrics = Metrics("serve")
    watch_uplink(metrics, queue, forwarder)
    for _ in range(5):
        queue.push(MessageKind.TELEMETRY, b"t" * 100, points=7)
    text = metrics.exposition()[0].decode()
    assert "kgtwin_uplink_dropped_points 14.0" in text
    assert "kgtwin_uplink_queue_messages 3.0" in text
    assert "kgtwin_uplink_connected 0.0" in text


def test_a_store_write_of_several_messages_is_queued_whole_or_not_at_all(tmp_path: Path) -> None:
    queue = UplinkQueue(tmp_path / "q.sqlite3")
    queue.push(MessageKind.CHANGE, b"{}")
    seqs = queue.push_many(MessageKind.TELEMETRY, [(b"[1]", 1), (b"[2,3]", 2)])
    assert seqs == [2, 3]
    with pytest.raises(TypeError):
        # The second body cannot be stored: the first of the same write is not kept either.
        queue.push_many(MessageKind.TELEMETRY, [(b"[4]", 1), (object(), 1)])  # type: ignore[list-item]
    assert [m.seq for m in queue.peek(10)] == [1, 2, 3]
    assert (len(queue), queue.waiting_bytes) == (3, len(b"{}[1][2,3]"))
    queue.close()
    reopened = UplinkQueue(tmp_path / "q.sqlite3")
    assert [(m.seq, m.body) for m in reopened.peek(10)] == [(1, b"{}"), (2, b"[1]"), (3, b"[2,3]")]
