"""Ingest: devices publish over MQTT, points go out to a time-series store.

Public surface: the ``Broker`` port; the ingest service (``IngestService``, its
``IngestConfig``) and the topic mappings devices are described by (``TopicMapping``). The
store the points go to and the last-value cache the service fills are the ``telemetry``
package's. The MQTT adapter lives in ``ingest.broker``, the embedded broker in
``ingest.embedded_broker``; both are chosen by URL in the composition root. See
docs/ingest.md.
"""

from ingest.broker import Broker
from ingest.messages import TopicMapping
from ingest.service import IngestConfig, IngestService

__all__ = [
    "Broker",
    "IngestConfig",
    "IngestService",
    "TopicMapping",
]
