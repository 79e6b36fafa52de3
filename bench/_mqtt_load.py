"""Pieces the MQTT load generators of ``bench/ingest.py`` and ``bench/fleet.py`` share.

A publisher drives paho's loop by hand in one thread and counts PUBACKs itself: with
paho's network thread, each acknowledgement costs a GIL hand-over between two threads,
which caps a Python publisher far below the broker.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class CountingPublisher:
    """A connected paho client with at most ``window`` QoS 1 messages in flight; ``acked`` counts PUBACKs."""

    def __init__(self, host: str, port: int, window: int, protocol: int = mqtt.MQTTv311) -> None:
        self.acked = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=protocol)
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, keepalive=60)
        while not self.client.is_connected():
            self.client.loop(0.1)

    def _on_publish(self, *_: object) -> None:
        self.acked += 1


def records(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of a process's log (other lines skipped)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def epoch(text: str) -> float:
    """Seconds since the epoch of a log line's ISO timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
