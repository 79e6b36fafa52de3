"""Simulated devices for the network-cut test, run inside the edge's namespace.

``python -m tests.uplink.devices HOST PORT RATE OUT TWIN,TWIN,...`` publishes room
readings to ``kgtwin/twins/<twin>/telemetry`` at QoS 1, ``RATE`` messages a second in
all, round-robin over the twins, until SIGTERM; then writes ``OUT`` (JSON): messages
published, and every reading the broker acknowledged as ``[twin, ts_ms, value]``.

Each message has its own value (a running count) and a time stamp from its schedule
(``start + n / RATE``), so every reading is one distinct point whose value the cloud
must hold exactly once. The session is persistent and paho keeps unacknowledged
messages, sending them again after a reconnect: an edge killed and restarted loses none
of what it acknowledged, and what it did not acknowledge comes again.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TICK_S = 0.01


def main(host: str, port: int, rate: float, out: str, twins: list[str]) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lock = threading.Lock()
    pending: dict[int, tuple[str, int, float]] = {}
    early: set[int] = set()
    acked: list[tuple[str, int, float]] = []

    def on_publish(_c: mqtt.Client, _u: object, mid: int, _rc: object, _p: object) -> None:
        with lock:
            found = pending.pop(mid, None)
            if found is None:
                early.add(mid)  # acknowledged before publish() returned its mid
            else:
                acked.append(found)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kgtwin-test-devices", clean_session=False)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1)
    client.on_publish = on_publish
    client.connect_async(host, port, keepalive=10)
    client.loop_start()
    start = time.time()
    sent = 0
    while not stop.is_set():
        due = int((time.time() - start) * rate)
        while sent < due:
            twin = twins[sent % len(twins)]
            ts_ms = int((start + sent / rate) * 1000)
            value = float(sent)
            payload: dict[str, Any] = {
                "temperature": value,
                "humidity": 40.0,
                "co2": 420.0,
                "occupancy": 1,
                "ts": ts_ms,
            }
            info = client.publish(f"kgtwin/twins/{twin}/telemetry", json.dumps(payload), qos=1)
            with lock:
                if info.mid in early:
                    early.discard(info.mid)
                    acked.append((twin, ts_ms, value))
                else:
                    pending[info.mid] = (twin, ts_ms, value)
            sent += 1
        stop.wait(TICK_S)
    # A moment for acknowledgements on their way; what is still pending is not counted as acked.
    deadline = time.monotonic() + 5
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    with open(out, "w") as file:
        json.dump({"published": sent, "seconds": time.time() - start, "acked": acked}, file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5].split(",")))
