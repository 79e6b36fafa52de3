"""Telemetry: devices publish over MQTT, points go to a time-series store.

Public surface: the ``TelemetryStore`` and ``Broker`` ports; the ingest service
(``IngestService``, its ``IngestConfig``), the topic mappings devices are described by
(``TopicMapping``) and the last-value cache the API reads (``LatestValues``). Backends
live in their own modules (``ingest.duckdb``, ``ingest.influx``, ``ingest.broker``,
``ingest.embedded_broker``) and are chosen by URL in the composition root. See
docs/ingest.md.
"""

from ingest.broker import Broker
from ingest.latest import LatestValue, LatestValues
from ingest.messages import TopicMapping
from ingest.service import IngestConfig, IngestService
from ingest.store import TelemetryStore

__all__ = [
    "Broker",
    "IngestConfig",
    "IngestService",
    "LatestValue",
    "LatestValues",
    "TelemetryStore",
    "TopicMapping",
]
