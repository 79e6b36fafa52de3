"""The ingest service's MQTT session: persistent, QoS 1, acknowledged by hand.

The session survives the process (fixed client id, ``clean_start`` False with a session
expiry in MQTT 5, ``clean_session`` False in 3.1.1), so the broker keeps what arrives
while ingest is down. paho's ``manual_ack`` holds back each PUBACK until the service says
the message's points are durable (:meth:`MqttSubscriber.ack`); a message not acknowledged
when the connection drops is sent again by the broker on reconnect. MQTT 5 is tried
first and 3.1.1 used when the broker refuses it (amqtt), as ``ingest.broker`` does.

There is no paho network thread: the ingest service's loop thread calls :meth:`poll`,
so reading, acknowledging and publishing dead letters happen on one thread. With paho's
own thread, every message and every ack crossed threads and paid a GIL hand-over, which
(profiled) cost more than decoding and validating the message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ontology.errors import BackendUnavailable

_log = structlog.get_logger("kgtwin.ingest")
_UNSUPPORTED_PROTOCOL = {132, 1}


class Inbound(NamedTuple):
    """One received message; ``session`` tells connections apart so a stale ack is never sent.

    A tuple, not a frozen dataclass: one is made per message on paho's network thread.
    """

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_ns: int
    session: int


@dataclass(frozen=True)
class SessionOptions:
    """Where to connect and what to subscribe to.

    ``session_expiry_s`` is how long the broker keeps the session (its subscriptions and
    the messages queued for it) after a disconnect; 0 ends it with the connection.
    """

    host: str
    port: int
    client_id: str
    filters: Sequence[str]
    user: str | None = None
    password: str | None = None
    tls: bool = False
    share_group: str | None = None
    prefer_v5: bool = True
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 65535
    keepalive_s: int = 30


class MqttSubscriber:
    """Subscribes with QoS 1 and hands every message to ``deliver`` on the thread calling :meth:`poll`."""

    def __init__(self, options: SessionOptions, deliver: Callable[[Inbound], None]) -> None:
        self.options = options
        self._deliver = deliver
        self._session = 0
        self._client: mqtt.Client | None = None
        self._version = MQTTProtocolVersion.MQTTv5
        self._backoff = 0.0
        self._retry_at = 0.0
        self.received = 0

    @property
    def protocol(self) -> str:
        return "5" if self._version == MQTTProtocolVersion.MQTTv5 else "3.1.1"

    @property
    def subscriptions(self) -> list[str]:
        group = self.options.share_group
        return [f"$share/{group}/{f}" if group else f for f in self.options.filters]

    def start(self, timeout: float = 10.0) -> None:
        """Connect (MQTT 5, else 3.1.1), subscribe, and keep the session up until :meth:`stop`."""
        versions = [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311]
        if not self.options.prefer_v5:
            versions = versions[1:]
        error = "no attempt"
        for version in versions:
            error = self._connect(version, timeout)
            if not error:
                return
            if not error.startswith("unsupported protocol"):
                break
        raise BackendUnavailable("mqtt", f"{self.options.host}:{self.options.port}: {error}")

    def _connect(self, version: MQTTProtocolVersion, timeout: float) -> str:
        opts = self.options
        v5 = version == MQTTProtocolVersion.MQTTv5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=opts.client_id,
            protocol=version,
            # MQTT 3.1.1 has no session expiry: a session that must not outlive the
            # connection (``session_expiry_s=0``) is a clean one, else the broker keeps it.
            clean_session=None if v5 else opts.session_expiry_s == 0,
            manual_ack=True,
        )
        if opts.user:
            client.username_pw_set(opts.user, opts.password)
        if opts.tls:
            client.tls_set()
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        outcome: dict[str, ReasonCode] = {}
        answered = threading.Event()
        subscribed = threading.Event()

        def on_connect(
            c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, reason: ReasonCode, _p: object
        ) -> None:
            outcome["reason"] = reason
            answered.set()
            if reason.is_failure:
                outcome["failed"] = reason
                return
            self._session += 1
            self._backoff = 0.0
            c.subscribe([(topic, 1) for topic in self.subscriptions])
            if flags.session_present:
                # The broker kept our subscriptions and starts sending what it queued at
                # once; start() must not read that backlog into memory waiting for SUBACK.
                subscribed.set()
            _log.info("ingest.connected", protocol=self.protocol, session_present=flags.session_present)

        def on_disconnect(_c: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
            _log.warning("ingest.disconnected", reason=str(reason))

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            self.received += 1
            self._deliver(
                Inbound(
                    message.topic,
                    bytes(message.payload),
                    message.mid,
                    message.qos,
                    time.time_ns(),
                    self._session,
                )
            )

        # paho matches every message's topic against per-topic callbacks (we register none):
        # about 5% of the ingest process's CPU at full rate, so skip the walk.
        client._on_message_filtered = _NoTopicCallbacks()  # type: ignore[assignment]

        def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, _codes: object, _p: object) -> None:
            subscribed.set()

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = opts.session_expiry_s
            properties.ReceiveMaximum = opts.receive_maximum
        self._version = version
        try:
            client.connect(
                opts.host,
                opts.port,
                keepalive=opts.keepalive_s,
                clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                properties=properties,
            )
        except OSError as exc:
            return str(exc)
        # Return only once subscribed: a message published after start() must reach us.
        deadline = time.monotonic() + timeout
        while not (subscribed.is_set() or outcome.get("failed")) and time.monotonic() < deadline:
            if client.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
        if not answered.is_set() or not (subscribed.is_set() or reason_failed(outcome)):
            client.disconnect()
            return f"no CONNACK and SUBACK within {timeout} s"
        reason = outcome["reason"]
        if reason.is_failure:
            client.disconnect()
            if reason.value in _UNSUPPORTED_PROTOCOL:
                return f"unsupported protocol version ({reason})"
            return f"connection refused: {reason}"
        self._client = client
        return ""

    def poll(self, timeout: float, max_messages: int = 256) -> None:
        """Run paho's loop once: wait up to ``timeout`` for traffic, then read what is there.

        Messages go to ``deliver`` on this thread. A lost connection is re-established
        here (with backoff); the broker then sends every unacknowledged message again.
        """
        client = self._client
        if client is None:
            return
        rc = client.loop(timeout)
        if rc == mqtt.MQTT_ERR_SUCCESS:
            # loop() reads one packet per call; keep reading while messages keep coming.
            start = self.received
            while self.received - start < max_messages:
                before = self.received
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self.received == before:
                    break
            return
        now = time.monotonic()
        if now < self._retry_at:
            time.sleep(min(timeout, self._retry_at - now))
            return
        self._backoff = min(5.0, max(0.2, self._backoff * 2))
        self._retry_at = now + self._backoff
        try:
            client.reconnect()
        except OSError as exc:
            _log.warning("ingest.reconnect_failed", error=str(exc), retry_in_s=self._backoff)

    @property
    def session(self) -> int:
        """The current connection's number; acks of messages from earlier ones are dropped."""
        return self._session

    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    def ack(self, messages: Iterable[Inbound]) -> int:
        """Acknowledge messages (in the order given) received on the current connection.

        A message from an earlier connection is skipped: the broker sends it again with
        the same packet id, and acknowledging the old copy could acknowledge a newer
        message that reused the id. Returns the number acknowledged.
        """
        client = self._client
        if client is None:
            return 0
        session = self._session
        done = 0
        for message in messages:
            if message.qos > 0 and message.session == session:
                client.ack(message.mid, message.qos)
                done += 1
        return done

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessageInfo:
        assert self._client is not None
        return self._client.publish(topic, payload, qos=qos)

    def stop(self) -> None:
        """Disconnect; the broker keeps the session and every unacknowledged message."""
        client = self._client
        if client is not None:
            client.disconnect()
            client.loop(0.01)  # let paho send the DISCONNECT it queued


class _NoTopicCallbacks:
    """Stands in for paho's topic matcher when no per-topic callback is registered."""

    def iter_match(self, _topic: str) -> Iterator[object]:
        return iter(())


def reason_failed(outcome: dict[str, ReasonCode]) -> bool:
    return "failed" in outcome
