"""The embedded MQTT broker: amqtt running in a thread of the kgtwin process.

An edge box then needs no Mosquitto. amqtt speaks MQTT 3.1.1 only (it refuses a v5
CONNECT), which ``MqttBroker`` handles by falling back to 3.1.1.

Its acknowledgements mean durable for ingest's topics: each connection's protocol
handler hands an incoming PUBLISH to the broker's :class:`~ingest.intake.Intake` and
awaits it before amqtt stores the message and sends PUBACK (PUBREC for QoS 2). This
reaches into amqtt's internals (``Broker._handle_client_session``, the handler's
``_handle_message_flow``), so amqtt is pinned below its next minor version and
``tests/ingest/test_edge_durability.py`` proves the behaviour with a SIGKILL.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog
from amqtt.broker import Broker as AmqttBroker
from amqtt.session import INCOMING

from ingest.broker import MqttBroker
from ingest.intake import Intake
from ontology.errors import BackendUnavailable, KgtwinError

_log = structlog.get_logger(__name__)

# The embedded brokers of this process by (host, port): ``embedded`` means in-process, so
# the ingest built for an ``embedded://`` URL finds its broker's intake here.
_RUNNING: dict[tuple[str, int], EmbeddedBroker] = {}
_HOLD_S = 30.0


def _hand_over_first(handler: Any, intake: Intake) -> None:
    """Make one connection's protocol handler hand each incoming message to ``intake`` first.

    amqtt's handler stores an incoming PUBLISH and acknowledges it in
    ``_handle_message_flow``; the wrapper awaits the intake before that. An attribute of
    this handler only: outgoing messages (to subscribers) pass untouched.
    """
    flow = handler._handle_message_flow

    async def handing_over(app_message: Any) -> None:
        if app_message.direction == INCOMING and app_message.topic:
            await intake.hand_over(app_message.topic, bytes(app_message.data or b""), app_message.qos)
        await flow(app_message)

    handler._handle_message_flow = handing_over


class _Broker(AmqttBroker):  # type: ignore[misc]
    """amqtt's broker, each client connection's handler handing its messages over first."""

    intake: Intake

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Any, handler: Any, server: Any, listener_name: str
    ) -> None:
        _hand_over_first(handler, self.intake)
        await super()._handle_client_session(reader, writer, client_session, handler, server, listener_name)


def running_at(host: str, port: int) -> EmbeddedBroker | None:
    """The embedded broker this process runs on host:port, if any."""
    return _RUNNING.get((host, port))


class EmbeddedBroker:
    """An amqtt broker listening on host:port until ``stop``.

    ``hold_s`` > 0: QoS >= 1 messages wait for an ingest to claim the intake, however long,
    and a wait past ``hold_s`` is logged; 0: they pass until an ingest claims it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, hold_s: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.intake = Intake(hold_s=hold_s)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-mqtt", daemon=True)
        self._broker: Any = None

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        try:
            future.result(timeout)
        except Exception as exc:  # amqtt wraps bind failures in its own BrokerError
            self._halt_loop()
            cause = str(exc) or type(exc).__name__
            raise BackendUnavailable(
                "embedded broker", f"cannot listen on {self.host}:{self.port}: {cause}"
            ) from exc

    async def _start(self) -> None:
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = _Broker(config)
        broker.intake = self.intake
        self.intake.bind(asyncio.get_running_loop(), broker.internal_message_broadcast)
        self._broker = broker
        await broker.start()
        _RUNNING[(self.host, self.port)] = self

    def stop(self, timeout: float = 10.0) -> None:
        if _RUNNING.get((self.host, self.port)) is self:
            del _RUNNING[(self.host, self.port)]
        if self._broker is not None and self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception as exc:  # shutting down: report it, the process is leaving anyway
                _log.warning("embedded_broker.shutdown_failed", error=str(exc) or type(exc).__name__)
        self._halt_loop()

    def _halt_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


def start_embedded(host: str = "127.0.0.1", port: int = 1883) -> MqttBroker:
    """Start the embedded broker and connect kgtwin's client to it; closing the client stops it.

    amqtt speaks 3.1.1 only: no v5 CONNECT is wasted on it. The broker holds QoS >= 1
    messages for the ingest of this process (built next); a process without one releases
    them (``Intake.release``).
    """
    embedded = EmbeddedBroker(host, port, hold_s=_HOLD_S)
    embedded.start()
    try:
        return MqttBroker(host, port, prefer_v5=False, client_id="kgtwin-core", on_close=embedded.stop)
    except KgtwinError:
        embedded.stop()
        raise
