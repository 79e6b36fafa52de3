"""The intake: the embedded broker hands telemetry to in-process ingest and acknowledges it only once durable.

amqtt acknowledges a QoS 1 PUBLISH as soon as the message is in its memory, and keeps
it nowhere else: a power cut, a SIGKILL, or merely the publisher disconnecting before
amqtt passed the message on, lost messages the device had been told were safe (37,032 of
50,000 on a SIGKILL). On an edge box, where the link fails and power is cut, a PUBACK
must mean durable.

So in the edge profile ingest does not subscribe to the embedded broker over TCP: the
broker's protocol handler (``ingest.embedded_broker``) hands each PUBLISH whose topic
matches ingest's filters to the :class:`Intake` and awaits it before sending PUBACK
(PUBREC for QoS 2). Ingest takes the messages from the intake with the same loop,
pipeline, writer and spool as from MQTT, and acknowledging a batch (once it is in the
store or the fsync'd spool, and its dead letters are out) resolves the waits: amqtt then
sends the PUBACKs and routes the messages on to any other subscriber as usual. A crash
before that leaves the messages unacknowledged, so the publisher still has them.

Two threads meet here: amqtt's event loop (:meth:`Intake.hand_over`) and ingest's loop
thread (:class:`IntakeSource`, a ``Source`` like ``ingest.subscriber.MqttSubscriber``).
A wait is resolved on amqtt's loop, one call per acknowledged batch.

Until an ingest claims the intake (its filters known), QoS >= 1 messages wait for the
claim instead of being acknowledged into nothing: the broker starts listening a moment
before ingest is built, and that moment can be long (after a power cut, with the graph
still loading). A wait past ``hold_s`` is logged. A process that runs no ingest releases
the intake at once (:meth:`Intake.release`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, NamedTuple

import structlog

from ingest.subscriber import Inbound

_log = structlog.get_logger("kgtwin.ingest")

Broadcast = Callable[[str, bytes, int], Coroutine[Any, Any, None]]
"""Publishes a message from inside the broker (amqtt's ``internal_message_broadcast``)."""


class _Waiting(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    received_ns: int
    done: asyncio.Future[None] | None


def filter_matches(pattern: Sequence[str], levels: Sequence[str]) -> bool:
    """Whether a topic (split on ``/``) matches an MQTT filter (split on ``/``): MQTT 3.1.1 §4.7."""
    for i, want in enumerate(pattern):
        if want == "#":
            return True
        if i >= len(levels) or (want != "+" and want != levels[i]):
            return False
    return len(levels) == len(pattern)


class Intake:
    """Messages on their way from the embedded broker to the ingest of this process."""

    def __init__(self, *, hold_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Waiting] = deque()
        self._arrived = threading.Event()
        self._filters: list[list[str]] | None = None  # None: not claimed
        self._released = hold_s <= 0
        self._hold_s = hold_s
        self._late = False
        self._claimed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broadcast: Broadcast | None = None

    def bind(self, loop: asyncio.AbstractEventLoop, broadcast: Broadcast) -> None:
        """Called by the broker once its loop runs: where waits resolve and dead letters go."""
        self._loop = loop
        self._broadcast = broadcast

    # --- the broker's side (amqtt's event loop) --------------------------------------------

    async def hand_over(self, topic: str, payload: bytes, qos: int) -> None:
        """Return once ingest has made the message durable (QoS >= 1), or at once if it is not ingest's.

        QoS 0 messages for ingest are queued and not waited for: QoS 0 promises nothing.
        """
        if self._filters is None:
            if self._released or qos == 0:
                return
            # Not claimed yet: the ingest being built will claim it, however long its start
            # takes (a slow disk, a graph still loading); acknowledging before would tell the
            # device its reading is safe while it is nowhere. A late start is logged once.
            try:
                await asyncio.wait_for(self._claimed.wait(), self._hold_s)
            except TimeoutError:
                if not self._late:
                    self._late = True
                    _log.warning("intake.waiting", reason=f"no ingest claimed it within {self._hold_s:g} s")
                await self._claimed.wait()
        filters = self._filters
        if filters is None:
            return
        levels = topic.split("/")
        if not any(filter_matches(f, levels) for f in filters):
            return
        done: asyncio.Future[None] | None = None
        if qos > 0:
            done = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append(_Waiting(topic, payload, qos, time.time_ns(), done))
        self._arrived.set()
        if done is not None:
            await done

    def release(self) -> None:
        """No ingest will claim this intake (a process without ingest): let everything through."""
        self._released = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._claimed.set)

    # --- ingest's side (its loop thread) ----------------------------------------------------

    def claim(self, filters: Sequence[str], deliver: Callable[[Inbound], None]) -> IntakeSource:
        """Take the messages of ``filters`` from now on (held ones included); delivered by ``poll``."""
        self._filters = [f.split("/") for f in filters]
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._claimed.set)
        return IntakeSource(self, list(filters), deliver)

    def take(self, most: int) -> list[_Waiting]:
        with self._lock:
            taken = [self._queue.popleft() for _ in range(min(most, len(self._queue)))]
            if not self._queue:
                self._arrived.clear()
        return taken

    def wait(self, timeout: float) -> None:
        self._arrived.wait(timeout)

    def resolve(self, waits: list[asyncio.Future[None]]) -> None:
        """Let the broker acknowledge these messages (one hop to its loop for all)."""
        if waits and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, waits)

    def broadcast(self, topic: str, payload: bytes, qos: int) -> concurrent.futures.Future[None]:
        assert self._loop is not None, "the broker is not running"
        assert self._broadcast is not None, "the broker is not running"
        return asyncio.run_coroutine_threadsafe(self._broadcast(topic, payload, qos), self._loop)


def _resolve(waits: list[asyncio.Future[None]]) -> None:
    for done in waits:
        if not done.done():  # cancelled: the publisher left before its PUBACK
            done.set_result(None)


class Delivered:
    """A dead letter handed to the broker's subscribers (what paho's ``MQTTMessageInfo`` is for MQTT)."""

    def __init__(self, future: concurrent.futures.Future[None]) -> None:
        self._future = future

    def is_published(self) -> bool:
        return self._future.done()


class IntakeSource:
    """Ingest's end of an :class:`Intake`: the same methods as ``MqttSubscriber``, without a network."""

    protocol = "in-process"
    session = 0

    def __init__(self, intake: Intake, filters: list[str], deliver: Callable[[Inbound], None]) -> None:
        self._intake = intake
        self._filters = filters
        self._deliver = deliver
        self._mids = itertools.count(1)
        self._waits: dict[int, asyncio.Future[None]] = {}

    @property
    def subscriptions(self) -> list[str]:
        return list(self._filters)

    def start(self, timeout: float = 10.0) -> None:
        """Nothing to connect: the intake was claimed when this source was made."""

    def poll(self, timeout: float, max_messages: int = 256) -> None:
        """Wait up to ``timeout`` for messages, then hand up to ``max_messages`` to ``deliver``."""
        if max_messages <= 0:
            time.sleep(timeout)
            return
        taken = self._intake.take(max_messages)
        if not taken:
            self._intake.wait(timeout)
            taken = self._intake.take(max_messages)
        for waiting in taken:
            mid = next(self._mids)
            if waiting.done is not None:
                self._waits[mid] = waiting.done
            self._deliver(
                Inbound(waiting.topic, waiting.payload, mid, waiting.qos, waiting.received_ns, self.session)
            )

    def ack(self, messages: Iterable[Inbound]) -> int:
        """Let the broker acknowledge ``messages`` to their publishers: they are durable."""
        waits = [w for w in (self._waits.pop(m.mid, None) for m in messages) if w is not None]
        self._intake.resolve(waits)
        return len(waits)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> Delivered:
        """Publish from inside the broker (dead letters)."""
        return Delivered(self._intake.broadcast(topic, payload, qos))

    def is_connected(self) -> bool:
        return True

    def stop(self) -> None:
        """Messages not acknowledged stay unacknowledged: their publishers still hold them."""
