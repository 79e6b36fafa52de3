"""Telemetry posted over HTTP (ADT's ``sendTelemetry``): checked like MQTT telemetry, stored at once.

Devices publish over MQTT (``ingest.service``); an application that speaks the Azure
Digital Twins API sends telemetry on behalf of a twin with one HTTP request instead. The
message is validated against the twin's model exactly as the ingest path validates a
reading (``TwinValidator.validate_telemetry``), and a refused message is an error to the
caller, not a dead letter. A valid one is written to the time-series store before the
call returns, and its values become the twin's latest ones (in the ingest's cache when
ingest runs in this process, else on the twin's node).

Telemetry of a Component is validated against the Component's Interface and stored in
the twin's series as fields ``<component>.<name>``, the way Component properties are
flattened on the node. A ``Message-Id`` seen again for the same twin within the last
``DEDUPLICATION_S`` is accepted and not stored twice.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from graph.latest import Latest
from graph.twin import Twin
from ingest.messages import field_values
from ontology.errors import NotFound, ValidationFailed
from ontology.instances import validator_for
from ontology.model import ModelSet, PrimitiveSchema, Telemetry
from telemetry import FieldValue, LatestValues, TelemetryPoint, TelemetryStore

DEDUPLICATION_S = 600.0
MAX_REMEMBERED = 100_000

WriteLatest = Callable[[Latest], int]


class PostedTelemetry:
    """Takes telemetry messages sent for a twin (or one of its Components) and stores them."""

    def __init__(
        self,
        store: TelemetryStore,
        *,
        latest: LatestValues | None = None,
        write_latest: WriteLatest | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.latest = latest
        self.write_latest = write_latest
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def send(
        self,
        models: ModelSet,
        twin: Twin,
        message: Mapping[str, Any],
        *,
        message_id: str,
        time_ns: int,
        component: str | None = None,
    ) -> TelemetryPoint | None:
        """Validate and store one message; the point written, or None for a duplicate ``message_id``.

        Raises ``NotFound`` for a Component the twin's model lacks and ``ValidationFailed``
        listing every value that does not follow the model.
        """
        interface = models[twin.model]
        prefix = ""
        if component is not None:
            declared = interface.components.get(component)
            if declared is None:
                raise NotFound(
                    f"model {twin.model} of twin {twin.id!r} has no component {component!r}",
                    details={"twinId": twin.id, "component": component},
                )
            interface = models[declared.schema]
            prefix = component + "."
        issues = validator_for(models, interface.dtmi).validate_telemetry(message)
        if not message:
            raise ValidationFailed(
                "a telemetry message holds at least one value", details={"twinId": twin.id}
            )
        if issues:
            raise ValidationFailed(
                f"telemetry of twin {twin.id!r}: {issues[0].path}: {issues[0].message}"
                + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""),
                details={"twinId": twin.id, "dtmi": interface.dtmi, "errors": [i.to_dict() for i in issues]},
            )
        if self._seen_recently(twin.id, message_id):
            return None
        values: dict[str, FieldValue] = {}
        floats = _floats(interface.contents)
        for name, value in field_values(dict(message)).items():
            values[prefix + name] = float(value) if name in floats and type(value) is int else value
        ref = twin.telemetry
        point = TelemetryPoint(ref.bucket, ref.measurement, ref.tags, values, time_ns)
        self.store.write([point])
        self._remember(twin.id, message_id)  # only once stored: a failed write may be sent again
        if self.latest is not None:
            self.latest.update([point])
        elif self.write_latest is not None:
            self.write_latest({twin.id: (values, dict.fromkeys(values, time_ns))})
        return point

    def _seen_recently(self, twin_id: str, message_id: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - DEDUPLICATION_S:
                self._seen.popitem(last=False)
            return (twin_id, message_id) in self._seen

    def _remember(self, twin_id: str, message_id: str) -> None:
        with self._lock:
            self._seen[(twin_id, message_id)] = self._clock()
            if len(self._seen) > MAX_REMEMBERED:
                self._seen.popitem(last=False)


def _floats(contents: Mapping[str, object]) -> frozenset[str]:
    """Telemetry names declared double or float: JSON's 21 must be stored as 21.0 (InfluxDB types fields)."""
    return frozenset(
        name
        for name, content in contents.items()
        if isinstance(content, Telemetry)
        and isinstance(content.schema, PrimitiveSchema)
        and content.schema.kind in ("double", "float")
    )
