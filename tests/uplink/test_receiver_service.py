"""``kgtwin uplink-receiver`` as a real process: its health port answers, its metrics count each site.

The receiver runs on an embedded FalkorDB graph and an in-memory telemetry store against
the session's Mosquitto; the test publishes uplink messages as an edge would and reads
``/metrics`` on ``KGTWIN_HEALTH_PORT``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.uplink_messages import encode_points, envelope, uplink_topic
from ingest.uplink_queue import MessageKind, QueuedMessage
from tests.servers.process import free_port
from tests.uplink.harness import points, wait_for

pytestmark = [pytest.mark.mosquitto]

KGTWIN = str(Path(sys.executable).with_name("kgtwin"))


def _metric(text: str, name: str, site: str) -> float | None:
    found = re.search(rf'^{name}\{{site="{site}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_the_receiver_answers_its_probes_and_counts_each_site_on_its_metrics(
    tmp_path: Path, mqtt_url: str
) -> None:
    port = free_port()
    host, broker_port = mqtt_url.removeprefix("mqtt://").split(":")
    site = f"site-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")} | {
        "KGTWIN_GRAPH_URL": f"falkordb:///{tmp_path / 'graph'}",
        "KGTWIN_TELEMETRY_URL": "memory://",
        "KGTWIN_BROKER_URL": mqtt_url,
        "KGTWIN_HEALTH_PORT": str(port),
        "KGTWIN_UPLINK_RECEIVER_CLIENT_ID": f"receiver-{site}",
    }
    with (tmp_path / "receiver.log").open("w") as out:
        receiver = subprocess.Popen([KGTWIN, "uplink-receiver"], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert receiver.poll() is None, (tmp_path / "receiver.log").read_text()
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout=60, what="the receiver's /readyz")
        assert httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{site}")
        client.connect(host, int(broker_port))
        client.loop_start()
        try:
            for seq in (1, 2, 2):  # the second 2 is a replay: a duplicate, stored once
                body = encode_points(points("sensor-1", seq * 10, 3))
                payload = envelope(site, QueuedMessage(seq, MessageKind.TELEMETRY, body))
                client.publish(uplink_topic(site, MessageKind.TELEMETRY), payload, qos=1).wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()

        def scraped() -> str:
            return httpx.get(f"{base}/metrics", timeout=5).text

        wait_for(
            lambda: _metric(scraped(), "kgtwin_uplink_receiver_duplicate_messages_total", site) == 1.0,
            timeout=30,
            what="the replay to be counted",
        )
        text = scraped()
        assert _metric(text, "kgtwin_uplink_receiver_applied_messages_total", site) == 2.0
        assert _metric(text, "kgtwin_uplink_receiver_points_total", site) == 6.0
        assert _metric(text, "kgtwin_uplink_receiver_high_water", site) == 2.0
        assert _metric(text, "kgtwin_uplink_receiver_backlog_messages", site) == 0.0
        assert re.search(r"^kgtwin_uplink_receiver_connected 1\.0$", text, re.MULTILINE)
        assert 'service="uplink-receiver"' in text
        missing = httpx.get(f"{base}/nothing", timeout=2)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        receiver.send_signal(signal.SIGTERM)
        assert receiver.wait(timeout=60) == 0, (tmp_path / "receiver.log").read_text()
        time.sleep(0.2)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", timeout=2)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
