"""The ``Broker`` port and its one adapter: a paho-mqtt client against any MQTT broker.

Devices publish telemetry to the broker and kgtwin publishes change events to it, and
reads other processes' change events back (``api.remote_changes``). The embedded broker
(``ingest.embedded_broker``) is only a process to connect to: kgtwin talks to it through
this same client, so every code path is the one used in production. The ingest service's
own session (persistent, acknowledged by hand once points are durable) is
``ingest.subscriber``'s.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from ingest.subscriber import Inbound, MqttSubscriber, SessionOptions
from ontology.errors import BackendUnavailable

_log = structlog.get_logger("kgtwin.broker")
_POLL_S = 0.2

# MQTT v5 CONNACK "Unsupported Protocol Version" and its 3.1.1 counterpart.
_UNSUPPORTED_PROTOCOL = {132, 1}


# MQTT 3.1.1 §4.7: "/" separates levels, "+" and "#" are wildcards a topic name must not hold.
_LEVEL_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\0": "%00"})


def topic_level(name: str) -> str:
    """``name`` as one MQTT topic level: ``%``, ``/``, ``+``, ``#`` and NUL percent-escaped."""
    return name.translate(_LEVEL_ESCAPES)


class Broker(Protocol):
    """An MQTT broker kgtwin publishes to and subscribes at."""

    @property
    def backend(self) -> str:
        """A short name for logs and health checks: ``mqtt``."""
        ...

    @property
    def protocol(self) -> str:
        """The MQTT version spoken on this connection: ``5`` or ``3.1.1``."""
        ...

    def ping(self) -> None:
        """Raise ``BackendUnavailable`` unless the connection is up."""
        ...

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
        """Publish and, for QoS >= 1, wait until the broker acknowledged the message."""
        ...

    def subscribe(
        self, filters: Sequence[str], deliver: Callable[[str, bytes], None], timeout: float = 10.0
    ) -> Callable[[], None]:
        """Hand each message of a topic matching ``filters`` to ``deliver(topic, payload)``; returns the stop.

        QoS 1 on a connection of the subscription's own, without a persistent session: what
        is published while it is stopped is not kept for it. ``deliver`` runs in the
        subscription's thread; one that raises is logged and the feed goes on. Raises
        ``BackendUnavailable`` when the broker does not answer within ``timeout``.
        """
        ...

    def close(self) -> None:
        """Disconnect cleanly."""
        ...


class MqttBroker:
    """A connected paho-mqtt client; MQTT v5 where the broker speaks it, 3.1.1 otherwise."""

    backend = "mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str | None = None,
        password: str | None = None,
        tls: bool = False,
        client_id: str = "",
        prefer_v5: bool = True,
        timeout: float = 5.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """Connect; ``on_close`` runs after ``close`` disconnects (the embedded broker's stop)."""
        self.host = host
        self.port = port
        self._on_close = on_close
        # What a subscription's own connection needs (``subscribe``).
        self._session = SessionOptions(
            host=host,
            port=port,
            client_id="",
            filters=(),
            user=user,
            password=password,
            tls=tls,
            prefer_v5=prefer_v5,
            session_expiry_s=0,
        )
        v5, v311 = MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311
        versions = [v5, v311] if prefer_v5 else [v311]
        last_error = "no attempt"
        for version in versions:
            client, error = self._connect(version, user, password, tls, client_id, timeout)
            if client is not None:
                self._client = client
                self._version = version
                return
            last_error = error
            if not error.startswith("unsupported protocol"):
                break
        raise BackendUnavailable("mqtt", f"{host}:{port}: {last_error}")

    def _connect(
        self,
        version: MQTTProtocolVersion,
        user: str | None,
        password: str | None,
        tls: bool,
        client_id: str,
        timeout: float,
    ) -> tuple[mqtt.Client | None, str]:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)
        if user:
            client.username_pw_set(user, password)
        if tls:
            client.tls_set()
        answered = threading.Event()
        outcome: dict[str, ReasonCode] = {}

        def on_connect(
            _client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
        ) -> None:
            outcome["reason"] = reason
            answered.set()

        client.on_connect = on_connect
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            return None, str(exc)
        client.loop_start()
        if not answered.wait(timeout):
            client.loop_stop()
            client.disconnect()
            return None, f"no CONNACK within {timeout} s"
        reason = outcome["reason"]
        if reason.is_failure:
            client.loop_stop()
            client.disconnect()
            if reason.value in _UNSUPPORTED_PROTOCOL:
                return None, f"unsupported protocol version ({reason})"
            return None, f"connection refused: {reason}"
        return client, ""

    @property
    def protocol(self) -> str:
        return "5" if self._version == mqtt.MQTTv5 else "3.1.1"

    def ping(self) -> None:
        if not self._client.is_connected():
            raise BackendUnavailable("mqtt", f"{self.host}:{self.port}: not connected")

    def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 10.0) -> None:
        info = self._client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise BackendUnavailable("mqtt", f"publish to {topic!r} not acknowledged within {timeout} s")

    def subscribe(
        self, filters: Sequence[str], deliver: Callable[[str, bytes], None], timeout: float = 10.0
    ) -> Callable[[], None]:
        options = replace(
            self._session, client_id=f"kgtwin-sub-{uuid.uuid4().hex[:12]}", filters=tuple(filters)
        )
        subscription = _Subscription(options, deliver)
        subscription.start(timeout)
        return subscription.stop

    def close(self) -> None:
        try:
            self._client.disconnect()
            self._client.loop_stop()
        finally:
            if self._on_close is not None:
                self._on_close()


class _Subscription:
    """One ``MqttBroker.subscribe``: a session of its own, polled and acknowledged by a thread."""

    def __init__(self, options: SessionOptions, deliver: Callable[[str, bytes], None]) -> None:
        self._deliver = deliver
        self._subscriber = MqttSubscriber(options, self._received)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch: list[Inbound] = []

    def start(self, timeout: float) -> None:
        self._subscriber.start(timeout)
        self._thread = threading.Thread(target=self._follow, name="kgtwin-subscription", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._subscriber.stop()

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                self._subscriber.poll(_POLL_S)
                if self._batch:
                    self._subscriber.ack(self._batch)
                    self._batch.clear()
            except Exception:  # never let one bad turn end the feed; the next poll reconnects
                _log.exception("subscription.poll_failed")

    def _received(self, message: Inbound) -> None:
        self._batch.append(message)
        try:
            self._deliver(message.topic, message.payload)
        except Exception:  # a receiver's bug must not end the feed
            _log.exception("subscription.deliver_failed", topic=message.topic)
