"""Telemetry: where twins' time series are kept and how they are read.

Public surface: the ``TelemetryStore`` port; the references a twin names its series by
(``TelemetryRef``, ``default_ref``); the values written and read (``TelemetryPoint``,
``Sample``, ``Aggregate``, ``FieldValue``); the checks every store runs
(``telemetry.checks``); the last-value cache and the rule for which value is current
(``LatestValues``, ``freshest``); and the in-memory store (``MemoryTelemetryStore``).
Backends live in their own modules (``telemetry.duckdb``, ``telemetry.influx``,
``telemetry.memory``) and are chosen by URL in the composition root. How a reference and
the latest values are stored on a twin's node is the graph's (``graph.telemetry``,
``graph.latest``); how points arrive over MQTT is ingest's.
"""

from telemetry.checks import check_field, check_query, check_series, check_value
from telemetry.latest_values import LatestValue, LatestValues, LatestWatcher, freshest
from telemetry.memory import MemoryTelemetryStore
from telemetry.points import Aggregate, FieldValue, Sample, TelemetryPoint
from telemetry.refs import DEFAULT_BUCKET, TWIN_TAG, TelemetryRef, bare_ref, default_ref, telemetry_fields
from telemetry.store import TelemetryStore

__all__ = [
    "DEFAULT_BUCKET",
    "TWIN_TAG",
    "Aggregate",
    "FieldValue",
    "LatestValue",
    "LatestValues",
    "LatestWatcher",
    "MemoryTelemetryStore",
    "Sample",
    "TelemetryPoint",
    "TelemetryRef",
    "TelemetryStore",
    "bare_ref",
    "check_field",
    "check_query",
    "check_series",
    "check_value",
    "default_ref",
    "freshest",
    "telemetry_fields",
]
