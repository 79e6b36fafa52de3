"""From a batch of raw MQTT messages to telemetry points and dead letters.

Each message is decoded (``ingest.messages``), its twin resolved through the cache
(``ingest.targets``: the misses of the whole batch in one graph read), and each reading
checked against the twin's model with the ontology's compiled validator. Nothing here
does I/O except the twin lookups, so the rules can be tested without a broker.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.messages import (
    DEADLETTER_TOPIC,
    MessageDecoder,
    Reading,
    Reason,
    Rejected,
    check_reading,
    dead_letter,
    field_values,
)
from ingest.subscriber import Inbound
from ingest.targets import TwinTargets
from ontology.instances import TwinValidator, validator_for
from ontology.model import ModelSet, PrimitiveSchema, Telemetry
from telemetry.points import TelemetryPoint


class Models:
    """The registered models, loaded again (at most every ``min_reload_s``) when a twin's model is new.

    Models uploaded through another process's API are then picked up without a restart.
    """

    def __init__(self, load: Callable[[], ModelSet], *, min_reload_s: float = 5.0) -> None:
        self._load = load
        self._min_reload_s = min_reload_s
        self._lock = threading.Lock()
        self.current = load()
        self._loaded_at = time.monotonic()

    def reload(self) -> bool:
        """Load the models again unless that was done recently; whether it was done."""
        with self._lock:
            if time.monotonic() - self._loaded_at < self._min_reload_s:
                return False
            self.current = self._load()
            self._loaded_at = time.monotonic()
            return True


@dataclass
class Outcome:
    """What a batch became: points to store, and dead letters (topic, payload) to publish."""

    points: list[TelemetryPoint] = field(default_factory=list)
    letters: list[bytes] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    values: int = 0


class Pipeline:
    """Decodes, resolves and validates batches of messages."""

    def __init__(
        self,
        decoder: MessageDecoder,
        targets: TwinTargets,
        models: Models,
        *,
        deadletter_topic: str = DEADLETTER_TOPIC,
    ) -> None:
        self.decoder = decoder
        self.targets = targets
        self.models = models
        self.deadletter_topic = deadletter_topic
        self._validators: dict[str, TwinValidator] = {}
        self._validators_of: ModelSet | None = None
        self._floats: dict[str, frozenset[str]] = {}  # per model: Telemetry names of double/float

    def process(self, messages: Sequence[Inbound]) -> Outcome:
        """The points and dead letters of ``messages`` (a bad message never stops the others)."""
        out = Outcome()
        readings: list[tuple[Inbound, Reading]] = []
        for message in messages:
            for item in self.decoder.decode(message.topic, message.payload, message.received_ns):
                if isinstance(item, Rejected):
                    self._reject(out, item, message)
                else:
                    readings.append((message, item))
        if not readings:
            return out
        targets = self.targets.targets(r.twin_id for _, r in readings)
        points = out.points
        for message, reading in readings:
            target = targets.get(reading.twin_id)
            if target is None:
                self._reject(
                    out,
                    Rejected(Reason.UNKNOWN_TWIN, f"no twin {reading.twin_id!r}", twin_id=reading.twin_id),
                    message,
                )
                continue
            validator = self._validator(target.model)
            if validator is None:
                detail = f"the model {target.model!r} of twin {reading.twin_id!r} is not registered"
                self._reject(out, Rejected(Reason.UNKNOWN_TWIN, detail, twin_id=reading.twin_id), message)
                continue
            problem = check_reading(reading, validator)
            if problem is not None:
                self._reject(out, problem, message)
                continue
            ref = target.ref
            values = field_values(reading.values)
            floats = self._floats.get(target.model)
            if floats:
                # JSON has one number type: 21 for a double must be stored as 21.0, or
                # InfluxDB refuses the field's next point as a type conflict.
                for name in floats.intersection(values):
                    if type(values[name]) is int:
                        values[name] = float(values[name])
            points.append(TelemetryPoint(ref.bucket, ref.measurement, ref.tags, values, reading.time_ns))
            out.values += len(reading.values)
        return out

    def _validator(self, model: str) -> TwinValidator | None:
        models = self.models.current
        if models is not self._validators_of:
            self._validators, self._validators_of = {}, models
        found = self._validators.get(model)
        if found is not None:
            return found
        if models.get(model) is None:
            if not self.models.reload() or self.models.current.get(model) is None:
                return None
            models = self.models.current
            self._validators, self._validators_of = {}, models
        found = self._validators[model] = validator_for(models, model)
        interface = models[model]
        self._floats[model] = frozenset(
            name
            for name, content in interface.contents.items()
            if isinstance(content, Telemetry)
            and isinstance(content.schema, PrimitiveSchema)
            and content.schema.kind in ("double", "float")
        )
        return found

    def _reject(self, out: Outcome, rejected: Rejected, message: Inbound) -> None:
        out.rejected[str(rejected.reason)] += 1
        out.letters.append(dead_letter(rejected, message.topic, message.payload, message.received_ns))
