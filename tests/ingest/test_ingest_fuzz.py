"""A fuzz of MQTT topics and payloads against a running ingest: the stream keeps flowing.

``kgtwin serve`` (the edge profile) is the target: its embedded broker lets through
topics MQTT forbids (U+0000, other control characters, lone levels), and its ingest
writes to DuckDB, the last-value cache and the graph in one process, so one bad message
could stop all of them (issue 21 §6.1). Hypothesis makes topics and payloads, aimed at
known twins (whose model checks every value) and at made-up ones. After each example a
valid reading of a sentinel twin must be stored; at the end ``/readyz`` is ready, the
loop never failed, and the sentinel's value reached its graph node.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.edge import ServeProcess, device, latest, node_value, seed, send
from tests.ingest.fuzzing import as_json, payloads, readings, telemetry_topics
from tests.ingest.helpers import topic, wait_until

pytestmark = pytest.mark.timeout(900)

PREFIX = uuid.uuid4().hex[:6]
KNOWN = [f"fz-{PREFIX}-{i}" for i in range(3)]
SENTINEL = f"fz-{PREFIX}-sentinel"

TOPIC = telemetry_topics(KNOWN)
PAYLOAD = payloads(readings())
MESSAGES = st.lists(st.tuples(TOPIC, PAYLOAD), min_size=1, max_size=5)


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path_factory.mktemp("fuzz"))
    process.start()
    seed(process, [*KNOWN, SENTINEL])
    try:
        yield process
    finally:
        process.stop()


def publish_without_waiting(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and give the broker a moment, without insisting on PUBACKs: a topic
    MQTT forbids may make the broker drop the connection, which the stream must survive."""
    client = device(port)
    try:
        infos = [client.publish(t, p, qos=1) for t, p in messages]
        for info in infos:
            try:
                info.wait_for_publish(5)
            except RuntimeError:  # the broker closed the connection
                break
    finally:
        client.disconnect()
        client.loop_stop()


class Sentinel:
    """Valid readings of a known twin, each with a new value, that must all be stored."""

    def __init__(self, serve: ServeProcess) -> None:
        self.serve = serve
        self.value = 0.0

    def flows(self) -> None:
        self.value += 1.0
        value = self.value
        send(self.serve.mqtt_port, [(topic(SENTINEL), as_json({"v3": value}))])

        def stored() -> bool:
            found = latest(self.serve, SENTINEL, "v3")["data"]["twin"]["latest"]
            return found is not None and found["value"] == value

        wait_until(stored, 30, f"the sentinel's value {value} after the fuzzed messages")


def test_fuzzed_topics_and_payloads_never_stop_the_stream(serve: ServeProcess) -> None:
    sentinel = Sentinel(serve)
    sentinel.flows()
    examples = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(MESSAGES)
    def stream_flows_after(messages: list[tuple[str, bytes]]) -> None:
        nonlocal examples
        examples += 1
        publish_without_waiting(serve.mqtt_port, messages)
        sentinel.flows()

    stream_flows_after()
    assert examples >= 40
    assert serve.readyz().status_code == 200, serve.readyz().text
    assert serve.events("ingest.loop_failed") == []
    assert serve.events("ingest.loop_error") == []
    wait_until(lambda: node_value(serve, SENTINEL, "v3") == sentinel.value, 30, "the sentinel on its node")
    assert serve.process is not None
    assert serve.process.poll() is None
    # The known twins' values, whatever was taken, still answer through GraphQL.
    for twin_id in KNOWN:
        for name in ("v0", "state", "count"):
            answer = latest(serve, twin_id, name)
            assert "errors" not in answer, answer
