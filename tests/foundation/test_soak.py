"""The 2-minute soak of ``kgtwin serve`` (bench/soak.py) under the issue's mixed load, scaled down.

The rates are a twentieth of the 30-minute soak's (100 messages/s, 5 GraphQL requests/s; 5
subscriptions, a simulation every 30 s, an analyst query every 10 s; ``KGTWIN_SOAK_SCALE``
changes the fraction): what a shared 2-core machine gives with room to spare
(docs/performance.md has the arithmetic). Bounds: RSS growth after the warm-up under 10%, no 5xx, every
acknowledged point stored exactly once, a queue that does not grow.

Both brokers meet them: Mosquitto with the in-process ingest as its subscriber, and the
embedded amqtt broker, which hands telemetry to the in-process ingest and acknowledges a
publisher only once its points are durable (``ingest.intake``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench import soak

pytestmark = pytest.mark.timeout(900)
SCALE = os.environ.get("KGTWIN_SOAK_SCALE", "0.05")


def _soak(tmp_path: Path, broker: str | None) -> dict[str, Any]:
    out = tmp_path / "soak.json"
    argv = ["--minutes", "2", "--scale", SCALE, "--twins", "50", "--sample-s", "5", "--warmup-s", "40"]
    argv += ["--simulation-every-s", "30", "--json", str(out), "--out", str(tmp_path / "out")]
    if broker is not None:
        argv += ["--broker", broker]
    soak.main(argv)
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def _assert_bounds(results: dict[str, Any]) -> None:
    assert results["published"] > 0
    assert results["http_5xx"] == 0, results
    assert results["lost"] == 0, results
    assert results["duplicated"] == 0, results
    # A point stored whose acknowledgement came too late to count is no loss.
    assert results["stored"] >= results["published"], results
    assert results["rss_growth_pct"] < 10, results
    assert not results["queue_growing"], results
    assert all(events > 0 for events in results["subscription_events"]), results
    assert results["simulations"].get("SUCCEEDED", 0) >= 1, results
    assert results["analyst_queries"] >= 5, results


def test_serve_with_mosquitto_holds_the_soak_bounds(tmp_path: Path, mqtt_url: str) -> None:
    _assert_bounds(_soak(tmp_path, mqtt_url))


def test_serve_on_embedded_defaults_holds_the_soak_bounds(tmp_path: Path) -> None:
    _assert_bounds(_soak(tmp_path, None))
