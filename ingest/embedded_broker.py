"""The embedded MQTT broker: amqtt running in a thread of the kgtwin process.

An edge box then needs no Mosquitto. amqtt speaks MQTT 3.1.1 only (it refuses a v5
CONNECT), which ``MqttBroker`` handles by falling back to 3.1.1.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog
from amqtt.broker import Broker as AmqttBroker

from ingest.broker import MqttBroker
from ontology.errors import BackendUnavailable, KgtwinError

_log = structlog.get_logger(__name__)


class EmbeddedBroker:
    """An amqtt broker listening on host:port until ``stop``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
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
        self._broker = AmqttBroker(config)
        await self._broker.start()

    def stop(self, timeout: float = 10.0) -> None:
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

    amqtt speaks 3.1.1 only: no v5 CONNECT is wasted on it.
    """
    embedded = EmbeddedBroker(host, port)
    embedded.start()
    try:
        return MqttBroker(host, port, prefer_v5=False, client_id="kgtwin-core", on_close=embedded.stop)
    except KgtwinError:
        embedded.stop()
        raise
