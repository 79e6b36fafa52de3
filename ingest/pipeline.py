"""From a batch of raw MQTT messages to telemetry points and dead letters.

Each message is decoded (``ingest.messages``), its twin resolved through the cache
(``ingest.targets``: the misses of the whole batch in one graph read), and each reading
checked against the twin's model with the ontology's compiled validator. Nothing here
does I/O except the twin lookups, so the rules can be tested without a broker.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from graph.errors import QueryTimeout
from ingest.dead_letters import DEADLETTER_TOPIC, Reason, Rejected, dead_letter
from ingest.messages import MessageDecoder, Reading, check_reading, field_values
from ingest.subscriber import Inbound
from ingest.targets import TwinTargets
from ontology.errors import BackendUnavailable
from ontology.instances import TwinValidator, validator_for
from ontology.model import ModelSet, PrimitiveSchema, Telemetry
from telemetry.points import TelemetryPoint

_log = structlog.get_logger("kgtwin.ingest")

# Errors that say "not now" (the graph is down or slow), not "never": the batch waits.
_TRANSIENT = (BackendUnavailable, QueryTimeout, OSError, TimeoutError)


class Models:
    """The registered models, read again when the models' version token moved.

    Checked on a miss only (a twin whose model is not held, or a telemetry name its model
    lacks), at most once per batch: the token read is one index seek, and the models are
    loaded again only when it moved. A model uploaded through any process is then usable
    by the very next message of a twin of it. Without ``version`` (tests), a miss loads
    the models again.
    """

    def __init__(
        self, load: Callable[[], ModelSet], *, version: Callable[[], str | None] | None = None
    ) -> None:
        self._load = load
        self._version = version
        self._lock = threading.Lock()
        self._token = version() if version is not None else None  # before loading: nothing slips between
        self.current = load()
        self.reloads = 0

    def refresh(self) -> bool:
        """Load the models again if they changed since they were loaded; whether they were."""
        with self._lock:
            token = None
            if self._version is not None:
                token = self._version()
                if token == self._token:
                    return False
            self.current = self._load()
            self._token = token
            self.reloads += 1
            return True


@dataclass
class Outcome:
    """What a batch became: points to store, and dead letters (topic, payload) to publish.

    ``sources[i]`` is the index (in the batch) of the message ``points[i]`` came from and
    ``paths[i]`` the JSON Pointer of its object in that message (``"/2"`` in a batch), so a
    point the store refuses can still become a dead letter naming its object.
    """

    points: list[TelemetryPoint] = field(default_factory=list)
    letters: list[bytes] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    values: int = 0
    sources: list[int] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def extend(self, other: Outcome, offset: int) -> None:
        """Append ``other``, the outcome of messages starting at index ``offset`` of this batch."""
        self.points.extend(other.points)
        self.sources.extend(i + offset for i in other.sources)
        self.paths.extend(other.paths)
        self.letters.extend(other.letters)
        self.rejected.update(other.rejected)
        self.values += other.values


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
        self._refreshed = False  # the models were refreshed for the batch being processed

    def process(self, messages: Sequence[Inbound]) -> Outcome:
        """The points and dead letters of ``messages`` (a bad message never stops the others)."""
        out = Outcome()
        readings: list[tuple[int, Inbound, Reading]] = []
        for index, message in enumerate(messages):
            for item in self.decoder.decode(message.topic, message.payload, message.received_ns):
                if isinstance(item, Rejected):
                    self._reject(out, item, message)
                else:
                    readings.append((index, message, item))
        if not readings:
            return out
        targets = self.targets.targets(r.twin_id for _, _, r in readings)
        points, sources, paths = out.points, out.sources, out.paths
        self._refreshed = False
        for index, message, reading in readings:
            target = targets.get(reading.twin_id)
            if target is None:
                unknown = Rejected(
                    Reason.UNKNOWN_TWIN,
                    f"no twin {reading.twin_id!r}",
                    twin_id=reading.twin_id,
                    path=reading.twin_path(),
                )
                self._reject(out, unknown, message)
                continue
            problem = self._check(reading, target.model)
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
            sources.append(index)
            paths.append(reading.path)
            out.values += len(reading.values)
        return out

    def process_isolated(self, messages: Sequence[Inbound]) -> Outcome | None:
        """The pipeline's outcome; a batch that fails is taken apart so one message cannot stop it.

        A failure that says "not now" (the graph unavailable or slow) returns None: the
        batch waits. Any other failure is retried message by message, and a message that
        fails on its own becomes an ``UNPROCESSABLE`` dead letter naming the error: it is
        acknowledged, as every bad message is, so it is never sent again to fail again.
        """
        try:
            return self.process(messages)
        except _TRANSIENT as exc:
            _log.warning(
                "ingest.batch_deferred", error=str(exc) or type(exc).__name__, messages=len(messages)
            )
            return None
        except Exception as exc:
            _log.warning("ingest.batch_failed", error=str(exc) or type(exc).__name__, messages=len(messages))
        whole = Outcome()
        for index, message in enumerate(messages):
            try:
                alone = self.process([message])
            except _TRANSIENT as exc:
                _log.warning("ingest.batch_deferred", error=str(exc) or type(exc).__name__)
                return None
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                _log.exception("ingest.message_failed", topic=message.topic[:200], error=error)
                alone = Outcome()
                reject(alone, Rejected(Reason.UNPROCESSABLE, error), message)
            whole.extend(alone, index)
        return whole

    def _check(self, reading: Reading, model: str) -> Rejected | None:
        """What is wrong with ``reading`` for a twin of ``model``, asking for fresh models on a miss.

        A model not held, or a telemetry name it lacks, may be a model uploaded (or
        replaced) a moment ago through another process: the models are refreshed once per
        batch before the reading is refused.
        """
        validator = self._validator(model)
        if validator is not None:
            problem = check_reading(reading, validator)
            if problem is None or problem.reason != Reason.UNKNOWN_FIELD:
                return problem
        if not self._refreshed:
            self._refreshed = True
            if self.models.refresh():
                return self._check(reading, model)
        if validator is None:
            detail = f"the model {model!r} of twin {reading.twin_id!r} is not registered"
            return Rejected(Reason.UNKNOWN_TWIN, detail, twin_id=reading.twin_id, path=reading.twin_path())
        return problem

    def _validator(self, model: str) -> TwinValidator | None:
        models = self.models.current
        if models is not self._validators_of:
            self._validators, self._validators_of = {}, models
        found = self._validators.get(model)
        if found is not None:
            return found
        if models.get(model) is None:
            return None
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
        reject(out, rejected, message)


def reject(out: Outcome, rejected: Rejected, message: Inbound) -> None:
    """Count ``rejected`` and add its dead letter to ``out``."""
    out.rejected[str(rejected.reason)] += 1
    out.letters.append(dead_letter(rejected, message.topic, message.payload, message.received_ns))
