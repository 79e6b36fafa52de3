"""The ``Source`` of the ingest service: where its messages come from and where their acknowledgements go.

Two kinds, with the same methods, driven by the service's loop thread:

- ``ingest.subscriber.MqttSubscriber``: a persistent QoS 1 MQTT session with any broker;
  acknowledging a message sends its PUBACK to the broker, which then forgets it.
- ``ingest.intake.IntakeSource``: the embedded broker of the same process hands messages
  over before it acknowledges them; acknowledging lets it send the publisher's PUBACK.

Either way a message is acknowledged only once its points are durable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from ingest.subscriber import Inbound


class Delivery(Protocol):
    """A published dead letter: paho's ``MQTTMessageInfo``, or the intake's ``Delivered``."""

    def is_published(self) -> bool:
        """Whether the broker has taken it."""
        ...


class Source(Protocol):
    """Messages in, acknowledgements and dead letters out, all on the calling thread."""

    @property
    def protocol(self) -> str:
        """``5``, ``3.1.1`` or ``in-process``, for logs."""
        ...

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters taken."""
        ...

    def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe (``BackendUnavailable`` if the broker refuses)."""
        ...

    def poll(self, timeout: float, max_messages: int = 256) -> None:
        """Wait up to ``timeout`` for messages and hand each to the service's ``deliver``."""
        ...

    def ack(self, messages: Iterable[Inbound]) -> int:
        """Acknowledge durable messages, in order; the number acknowledged."""
        ...

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> Delivery:
        """Publish a dead letter."""
        ...

    def is_connected(self) -> bool:
        """Whether messages can arrive now (the deployment report and readiness say so)."""
        ...

    def stop(self) -> None:
        """Leave; what is not acknowledged stays with the broker or its publisher."""
        ...


SourceFactory = Callable[[Callable[[Inbound], None]], Source]
"""Makes a source delivering to the given callable (the service's ``deliver``)."""
