"""Telemetry: devices publish over MQTT, points go to a time-series store.

Public surface: the ``TelemetryStore`` and ``Broker`` ports. Backends live in their own
modules (``ingest.duckdb``, ``ingest.influx``, ``ingest.broker``, ``ingest.embedded_broker``)
and are chosen by URL in the composition root.
"""

from ingest.broker import Broker
from ingest.store import TelemetryStore

__all__ = ["Broker", "TelemetryStore"]
