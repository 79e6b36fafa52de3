"""Telemetry messages: which twin a topic or payload names, and the readings a payload holds.

Devices publish to ``kgtwin/twins/<twinId>/telemetry`` a JSON object of Telemetry names to
values, with an optional ``ts`` (RFC 3339 text or epoch milliseconds; the server's clock
when absent), or a JSON array of such objects. Devices that cannot change their topics
are described by a :class:`TopicMapping`: a topic filter with MQTT wildcards, where the
twin id is (a topic level or a payload key) and how payload keys map to Telemetry names.

Nothing here touches the network: the ingest service feeds raw messages in and gets
:class:`Reading` values or a :class:`Rejected` naming what was wrong, which becomes a
dead letter (``ingest.dead_letters``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.dead_letters import Reason, Rejected, pointer_step
from ontology.instances import InstanceIssue, TwinValidator

DEFAULT_TOPIC = "kgtwin/twins/+/telemetry"
TS_KEY = "ts"
# A message bigger than this is refused before it is parsed (a device gone wrong).
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
# Twin ids longer than this are refused at the door: every id taken is a cache key.
DEFAULT_MAX_TWIN_ID_LENGTH = 256
# How far ahead of the server's clock a device's ``ts`` may be (its clock runs fast).
DEFAULT_MAX_FUTURE_SKEW_S = 600.0
_NS_PER_MS = 1_000_000
_NS_PER_S = 1_000_000_000
# The topics' mappings are remembered up to this many bytes of topic text.
_TOPIC_CACHE_BYTES = 8 * 1024 * 1024


class TopicMapping(BaseModel):
    """How messages on ``topic`` (an MQTT filter: ``+`` one level, ``#`` the rest) become readings.

    The twin id is the topic level at ``twin_id_segment`` (0-based) or the payload key
    ``twin_id_key``; ``fields`` renames payload keys to Telemetry names (other keys are kept
    as they are unless ``drop_unmapped``); ``ts_key`` names the timestamp key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(description="MQTT topic filter, e.g. factory/+/line/+/sensors.")
    twin_id_segment: int | None = Field(default=None, ge=0, description="Topic level holding the twin id.")
    twin_id_key: str | None = Field(default=None, description="Payload key holding the twin id.")
    fields: dict[str, str] = Field(default_factory=dict, description="Payload key -> Telemetry name.")
    drop_unmapped: bool = Field(default=False, description="Ignore payload keys not in fields.")
    ts_key: str = Field(default=TS_KEY, description="Payload key of the timestamp.")

    @model_validator(mode="after")
    def _one_twin_source(self) -> TopicMapping:
        if (self.twin_id_segment is None) == (self.twin_id_key is None):
            raise ValueError(f"mapping {self.topic!r}: give exactly one of twin_id_segment, twin_id_key")
        levels = self.topic.split("/")
        if any(("#" in level and level != "#") or ("+" in level and level != "+") for level in levels):
            raise ValueError(f"mapping {self.topic!r}: a wildcard must fill a whole topic level")
        if "#" in levels[:-1]:
            raise ValueError(f"mapping {self.topic!r}: '#' may only be the last level")
        if self.twin_id_segment is not None and "#" not in levels and self.twin_id_segment >= len(levels):
            raise ValueError(f"mapping {self.topic!r}: twin_id_segment beyond the topic's levels")
        return self

    def matches(self, levels: Sequence[str]) -> bool:
        """Whether a topic (split on ``/``) matches this mapping's filter (MQTT 3.1.1 §4.7)."""
        pattern = self.topic.split("/")
        for i, want in enumerate(pattern):
            if want == "#":
                return True
            if i >= len(levels) or (want != "+" and want != levels[i]):
                return False
        return len(levels) == len(pattern)


DEFAULT_MAPPING = TopicMapping(topic=DEFAULT_TOPIC, twin_id_segment=2)


@dataclass(frozen=True, slots=True)
class PayloadKeys:
    """Where a reading's parts are in its payload, so a dead letter can point at them.

    ``twin_id`` is the payload key of the twin id (None when a topic level names it) and
    ``names`` maps each Telemetry name a mapping renamed in this payload back to its key.
    """

    twin_id: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)


_AS_SENT = PayloadKeys()


class Reading(NamedTuple):
    """Values of one twin's telemetry at one instant, decoded but not yet checked against its model.

    ``path`` is the JSON Pointer of the reading's object in its message: ``""`` for a
    message of one object, ``"/2"`` for the third object of a batch. With ``keys`` it lets
    every dead letter of the reading point into the message as the device sent it.
    """

    twin_id: str
    values: dict[str, Any]
    time_ns: int
    has_ts: bool
    path: str = ""
    keys: PayloadKeys = _AS_SENT

    def twin_path(self) -> str:
        """Where the twin id is in the message: its payload key, else the whole object."""
        if self.keys.twin_id is None:
            return self.path
        return f"{self.path}/{pointer_step(self.keys.twin_id)}"

    def in_message(self, path: str) -> str:
        """``path``, a JSON Pointer into ``values`` (Telemetry names), as a pointer into the message."""
        names = self.keys.names
        if names and path:
            step, slash, rest = path[1:].partition("/")
            key = names.get(_unescape(step))
            if key is not None:
                path = f"/{pointer_step(key)}{slash}{rest}"
        return self.path + path


def _unescape(step: str) -> str:
    return step.replace("~1", "/").replace("~0", "~")


class MessageDecoder:
    """Turns (topic, payload) into readings through the first mapping whose filter matches."""

    def __init__(
        self,
        mappings: Sequence[TopicMapping] = (DEFAULT_MAPPING,),
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        max_twin_id_length: int = DEFAULT_MAX_TWIN_ID_LENGTH,
        max_future_skew_s: float = DEFAULT_MAX_FUTURE_SKEW_S,
    ) -> None:
        self.mappings = tuple(mappings)
        self._keys = {id(m): PayloadKeys(m.twin_id_key) for m in self.mappings}
        self.max_payload_bytes = max_payload_bytes
        self.rules = _Rules(max_twin_id_length, round(max_future_skew_s * _NS_PER_S), max_future_skew_s)
        # Devices keep publishing to the same topics: remember which mapping each one takes,
        # up to a budget of topic text (a device cycling through made-up topics must not
        # grow the process).
        self._by_topic: dict[str, TopicMapping | None] = {}
        self._topic_bytes = 0

    @property
    def filters(self) -> list[str]:
        """The topic filters to subscribe to."""
        return list(dict.fromkeys(m.topic for m in self.mappings))

    def mapping_for(self, topic: str) -> TopicMapping | None:
        found = self._by_topic.get(topic, self)
        if found is self:
            levels = topic.split("/")
            found = next((m for m in self.mappings if m.matches(levels)), None)
            self._topic_bytes += len(topic)
            if self._topic_bytes > _TOPIC_CACHE_BYTES:
                self._by_topic.clear()
                self._topic_bytes = len(topic)
            self._by_topic[topic] = found
        return found  # type: ignore[return-value]

    def decode(self, topic: str, payload: bytes, received_ns: int) -> list[Reading | Rejected]:
        """The readings of one message; each object of a batch succeeds or fails on its own.

        A failure of the whole message (no mapping, oversized, not JSON, wrong shape) is one
        ``Rejected``; ``received_ns`` is the time of readings without a timestamp.
        """
        mapping = self.mapping_for(topic)
        if mapping is None:
            return [Rejected(Reason.NO_MAPPING, f"no mapping matches topic {topic!r}")]
        if len(payload) > self.max_payload_bytes:
            return [Rejected(Reason.OVERSIZED, f"{len(payload)} bytes, more than {self.max_payload_bytes}")]
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return [Rejected(Reason.BAD_JSON, str(exc))]
        segment_id = None
        if mapping.twin_id_segment is not None:
            levels = topic.split("/")
            if mapping.twin_id_segment < len(levels) and levels[mapping.twin_id_segment]:
                segment_id = levels[mapping.twin_id_segment]
            else:
                return [
                    Rejected(Reason.NO_TWIN_ID, f"topic {topic!r} has no level {mapping.twin_id_segment}")
                ]
        if segment_id is not None:
            problem = self.rules.twin_id_problem(segment_id)
            if problem is not None:
                return [problem]
        rules, keys = self.rules, self._keys[id(mapping)]
        if isinstance(document, dict):
            return [_reading(mapping, keys, rules, document, segment_id, received_ns, "")]
        if isinstance(document, list) and document:
            # Each object's dead letters name its index: "/1/ts" (docs/ingest.md, Dead letters).
            return [
                _reading(mapping, keys, rules, item, segment_id, received_ns, f"/{i}")
                if isinstance(item, dict)
                else Rejected(Reason.BAD_SHAPE, "expected a JSON object", path=f"/{i}")
                for i, item in enumerate(document)
            ]
        return [Rejected(Reason.BAD_SHAPE, "expected a JSON object or a non-empty array of objects")]


class _Rules:
    """What a message must be besides well-formed: a twin id kgtwin can key on, a time it can keep."""

    def __init__(self, max_twin_id_length: int, max_skew_ns: int, max_skew_s: float) -> None:
        self.max_twin_id_length = max_twin_id_length
        self.max_skew_ns = max_skew_ns
        self.max_skew_s = max_skew_s

    def twin_id_problem(self, twin_id: str, path: str = "") -> Rejected | None:
        """``BAD_TWIN_ID`` for an id too long or holding a control character, else None.

        Control characters (C0, DEL, C1) have no place in an identifier; U+0000 in
        particular cannot be stored by FalkorDB at all. A refused id is named in the dead
        letter only when short: the letter must not carry a 30 KB id back.
        """
        if len(twin_id) > self.max_twin_id_length:
            return Rejected(
                Reason.BAD_TWIN_ID,
                f"the twin id has {len(twin_id)} characters, more than {self.max_twin_id_length}",
                path=path,
            )
        if _CONTROL.search(twin_id) is not None:
            bad = _CONTROL.findall(twin_id)
            named = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(bad))
            return Rejected(
                Reason.BAD_TWIN_ID,
                f"the twin id holds control characters ({named})",
                twin_id=twin_id,
                path=path,
            )
        return None

    def time_problem(self, time_ns: int, received_ns: int) -> str | None:
        """Why a device's time cannot be taken, else None: before 1970, or too far ahead of the server."""
        if time_ns < 0:
            return "is before 1970-01-01T00:00:00Z (the Unix epoch)"
        ahead_ns = time_ns - received_ns
        if ahead_ns > self.max_skew_ns:
            ahead = f"{ahead_ns / _NS_PER_S:.0f} s" if ahead_ns < 10**9 * _NS_PER_S else "far"
            return (
                f"is {ahead} ahead of the server's clock; at most {self.max_skew_s:g} s are allowed "
                "(KGTWIN_INGEST_MAX_FUTURE_SKEW_S)"
            )
        return None


# C0 controls, DEL and C1 controls (Unicode general category Cc).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _reading(
    mapping: TopicMapping,
    keys: PayloadKeys,
    rules: _Rules,
    document: dict[str, Any],
    twin_id: str | None,
    received_ns: int,
    path: str,
) -> Reading | Rejected:
    values = dict(document)
    if twin_id is None:
        found = values.pop(mapping.twin_id_key or "", None)
        if not isinstance(found, str) or not found:
            return Rejected(Reason.NO_TWIN_ID, f"no string key {mapping.twin_id_key!r}", path=path)
        problem = rules.twin_id_problem(found, f"{path}/{pointer_step(mapping.twin_id_key or '')}")
        if problem is not None:
            return problem
        twin_id = found
    has_ts = mapping.ts_key in values
    if has_ts:
        ts_path = f"{path}/{pointer_step(mapping.ts_key)}"
        ts = values.pop(mapping.ts_key)
        try:
            time_ns = parse_ts(ts)
        except ValueError as exc:
            return Rejected(Reason.BAD_TIMESTAMP, str(exc), twin_id=twin_id, path=ts_path)
        late = rules.time_problem(time_ns, received_ns)
        if late is not None:
            return Rejected(Reason.BAD_TIMESTAMP, f"ts {ts!r} {late}", twin_id=twin_id, path=ts_path)
    else:
        time_ns = received_ns
    if mapping.fields:
        renamed: dict[str, Any] = {}
        names: dict[str, str] = {}  # the Telemetry names renamed in this payload -> their keys
        for key, value in values.items():
            name = mapping.fields.get(key)
            if name is not None:
                renamed[name] = value
                names[name] = key
            elif not mapping.drop_unmapped:
                renamed[key] = value
                names.pop(key, None)  # a key kept as sent, after one renamed to its name: it wins
        values = renamed
        if names:
            keys = PayloadKeys(keys.twin_id, names)
    if not values:
        return Rejected(Reason.BAD_SHAPE, "no telemetry values", twin_id=twin_id, path=path)
    return Reading(twin_id, values, time_ns, has_ts, path, keys)


def parse_ts(value: Any) -> int:
    """Nanoseconds since the epoch of an RFC 3339 string or a number of epoch milliseconds."""
    if isinstance(value, bool):
        raise ValueError(f"ts must be RFC 3339 text or epoch milliseconds, got {value!r}")
    if isinstance(value, int):
        return value * _NS_PER_MS
    if isinstance(value, float):
        return round(value * _NS_PER_MS)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"ts {value!r} is not RFC 3339") from None
        if moment.tzinfo is None:
            raise ValueError(f"ts {value!r} has no UTC offset (RFC 3339 requires one)")
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    raise ValueError(f"ts must be RFC 3339 text or epoch milliseconds, got {value!r}")


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def check_reading(reading: Reading, validator: TwinValidator) -> Rejected | None:
    """``Rejected`` naming the first issue of ``reading`` against the twin's model, else None.

    Its ``path`` points into the message as sent: the object's index in a batch, the
    payload key a mapping renamed.

    Text values may not hold U+0000: the graph engines disagree on it (FalkorDB cannot
    store one, so the value could never be copied onto the twin's node), and a device
    sending one is broken. Such a reading is refused whole, as ``WRONG_TYPE``.
    """
    for name, value in reading.values.items():
        if type(value) is str and "\x00" in value:
            return Rejected(
                Reason.WRONG_TYPE,
                "text may not hold U+0000 (NUL)",
                twin_id=reading.twin_id,
                path=reading.in_message(f"/{pointer_step(name)}"),
            )
    issues = validator.validate_telemetry(reading.values)
    if not issues:
        return None
    first: InstanceIssue = issues[0]
    reason = Reason.UNKNOWN_FIELD if first.code == "TELEMETRY_UNKNOWN" else Reason.WRONG_TYPE
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return Rejected(
        reason, first.message + more, twin_id=reading.twin_id, path=reading.in_message(first.path)
    )


_SCALAR_TYPES = frozenset({float, int, bool, str})


def field_values(values: dict[str, Any]) -> dict[str, float | int | bool | str]:
    """Values as a store takes them: scalars as they are, Objects and arrays as JSON text.

    ``values`` is returned itself when it holds scalars only (the usual case, no copy).
    """
    scalars = _SCALAR_TYPES
    if all(type(v) in scalars for v in values.values()):
        return values  # a fresh dict from the JSON parser: the caller may change it
    return {
        k: v if type(v) in scalars else json.dumps(v, separators=(",", ":"), sort_keys=True)
        for k, v in values.items()
    }
