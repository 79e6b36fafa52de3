"""The intake between the embedded broker's event loop and ingest's loop thread (no network)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from ingest.intake import Intake, filter_matches
from ingest.subscriber import Inbound


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own, as amqtt's is."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


async def _nowhere(_topic: str, _payload: bytes, _qos: int) -> None:
    return None


def publish(loop: asyncio.AbstractEventLoop, intake: Intake, topic: str, qos: int = 1) -> object:
    """What the broker does for one PUBLISH; the future is done when it may send PUBACK."""
    return asyncio.run_coroutine_threadsafe(intake.hand_over(topic, b"{}", qos), loop)


def test_filters_match_as_mqtt_says() -> None:
    assert filter_matches(["kgtwin", "twins", "+", "telemetry"], ["kgtwin", "twins", "a", "telemetry"])
    assert not filter_matches(
        ["kgtwin", "twins", "+", "telemetry"], ["kgtwin", "twins", "a", "b", "telemetry"]
    )
    assert filter_matches(["gw", "#"], ["gw", "1", "2"])
    assert filter_matches(["gw", "#"], ["gw"])
    assert not filter_matches(["gw", "+"], ["gw"])


def test_a_message_is_acknowledged_only_once_ingest_acknowledges_it(loop: asyncio.AbstractEventLoop) -> None:
    intake = Intake()
    intake.bind(loop, _nowhere)
    got: list[Inbound] = []
    source = intake.claim(["kgtwin/twins/+/telemetry"], got.append)
    waiting = publish(loop, intake, "kgtwin/twins/a/telemetry")
    passing = publish(loop, intake, "elsewhere/a")
    assert passing.result(5) is None  # type: ignore[attr-defined]
    source.poll(5)
    assert [m.topic for m in got] == ["kgtwin/twins/a/telemetry"]
    assert not waiting.done()  # type: ignore[attr-defined]
    assert source.ack(got) == 1
    assert waiting.result(5) is None  # type: ignore[attr-defined]


def test_qos_0_is_handed_over_without_waiting(loop: asyncio.AbstractEventLoop) -> None:
    intake = Intake()
    intake.bind(loop, _nowhere)
    got: list[Inbound] = []
    source = intake.claim(["t/#"], got.append)
    assert publish(loop, intake, "t/1", qos=0).result(5) is None  # type: ignore[attr-defined]
    source.poll(5)
    assert [(m.topic, m.qos) for m in got] == [("t/1", 0)]
    assert source.ack(got) == 0


def test_before_a_claim_messages_wait_for_it_and_a_release_lets_them_through(
    loop: asyncio.AbstractEventLoop,
) -> None:
    intake = Intake(hold_s=30)
    intake.bind(loop, _nowhere)
    held = publish(loop, intake, "t/1")
    with pytest.raises(TimeoutError):
        held.result(0.3)  # type: ignore[attr-defined]
    got: list[Inbound] = []
    source = intake.claim(["t/#"], got.append)
    source.poll(5)
    assert [m.topic for m in got] == ["t/1"]  # the held message went to the claimant
    source.ack(got)
    assert held.result(5) is None  # type: ignore[attr-defined]

    other = Intake(hold_s=30)
    other.bind(loop, _nowhere)
    waiting = publish(loop, other, "t/1")
    other.release()
    assert waiting.result(5) is None  # type: ignore[attr-defined]
    assert publish(loop, other, "t/2").result(5) is None  # type: ignore[attr-defined]


def test_a_message_is_never_acknowledged_before_an_ingest_claims_it(loop: asyncio.AbstractEventLoop) -> None:
    intake = Intake(hold_s=0.2)  # past this, the late claim is logged and the message still waits
    intake.bind(loop, _nowhere)
    held = publish(loop, intake, "t/1")
    with pytest.raises(TimeoutError):
        held.result(1.0)  # type: ignore[attr-defined]
    got: list[Inbound] = []
    source = intake.claim(["t/#"], got.append)
    source.poll(5)
    assert [m.topic for m in got] == ["t/1"]
    assert not held.done()  # type: ignore[attr-defined]
    source.ack(got)
    assert held.result(5) is None  # type: ignore[attr-defined]
