"""Relay one QoS 1 message between two independent paho-mqtt clients: the broker smoke test."""

from __future__ import annotations

import queue
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def relay_qos1(host: str, port: int, protocol: MQTTProtocolVersion, payload: bytes) -> tuple[bytes, int]:
    """Subscribe with one client, publish with another; return what arrived and at which QoS."""
    topic = f"kgtwin/test/{uuid.uuid4()}"
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()

    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{uuid.uuid4()}", protocol=protocol)
    subscriber.on_message = lambda _c, _u, message: received.put(message)
    subscriber.on_subscribe = lambda *_args: subscribed.put(True)
    subscriber.connect(host, port)
    subscriber.loop_start()
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4()}", protocol=protocol)
    publisher.connect(host, port)
    publisher.loop_start()
    try:
        subscriber.subscribe(topic, qos=1)
        subscribed.get(timeout=10)
        info = publisher.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), "the broker did not acknowledge the QoS 1 publish"
        message = received.get(timeout=10)
        return message.payload, message.qos
    finally:
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()
