"""Telemetry references: where a twin's time series live, carried by the twin's node.

The graph never holds raw points. Each twin node carries a ``TelemetryRef`` naming the
series in the time-series store: a bucket, a measurement, a tag set (always ``twin_id``)
and the fields (the Telemetry names of the twin's model). The default reference is
derived from the model; a twin may override it to point at series that another system
already writes (an existing InfluxDB measurement with its own tags). The API and the
simulations read telemetry only through this reference.

The value types of telemetry (``TelemetryPoint``, ``Sample``, ``Aggregate``) live here too,
below both the ingest path that writes points and the simulations that read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from graph.store import GraphStore
from ontology import ModelSet, Telemetry
from ontology.dtmi import short_name

DEFAULT_BUCKET = "telemetry"
TWIN_TAG = "twin_id"


@dataclass(frozen=True)
class TelemetryRef:
    """One twin's series: ``measurement`` in ``bucket``, selected by ``tags``, holding ``fields``."""

    bucket: str
    measurement: str
    tags: Mapping[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()

    @property
    def twin_id(self) -> str:
        """The twin whose series these are (the ``twin_id`` tag)."""
        return self.tags[TWIN_TAG]

    def to_dict(self) -> dict[str, Any]:
        """The reference as JSON (API responses, bulk files)."""
        return {
            "bucket": self.bucket,
            "measurement": self.measurement,
            "tags": dict(sorted(self.tags.items())),
            "fields": list(self.fields),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TelemetryRef:
        """The reference from its JSON form; the caller has checked the shape."""
        return cls(
            bucket=str(data["bucket"]),
            measurement=str(data["measurement"]),
            tags={str(k): str(v) for k, v in dict(data.get("tags") or {}).items()},
            fields=tuple(str(f) for f in data.get("fields") or ()),
        )


def telemetry_fields(models: ModelSet, model: str) -> tuple[str, ...]:
    """The Telemetry names of ``model`` (inherited ones included), sorted."""
    interface = models.get(model)
    if interface is None:
        return ()
    return tuple(sorted(n for n, c in interface.contents.items() if isinstance(c, Telemetry)))


def default_ref(models: ModelSet, model: str, twin_id: str, *, bucket: str = DEFAULT_BUCKET) -> TelemetryRef:
    """The reference a twin of ``model`` gets unless it names its own.

    The measurement is the model's short name (``Room`` for ``dtmi:kgtwin:space:Room;1``),
    so that one measurement holds the series of one kind of asset and a query for all
    rooms of a floor stays within it.
    """
    return TelemetryRef(
        bucket=bucket,
        measurement=short_name(model),
        tags={TWIN_TAG: twin_id},
        fields=telemetry_fields(models, model),
    )


FieldValue = float | int | bool | str


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """Values of several fields of one series observed at one instant.

    ``time_ns`` is nanoseconds since the Unix epoch (UTC). ``tags`` must include
    ``twin_id``; its items are the series key together with ``bucket`` and ``measurement``.
    """

    bucket: str
    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ns: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one field at one time (a stored point, or a window's aggregate)."""

    time: datetime
    value: FieldValue


class Aggregate(StrEnum):
    """How a window's points become one value."""

    MEAN = "mean"
    MIN = "min"
    MAX = "max"
    LAST = "last"
    COUNT = "count"


# --- How a reference is stored on a twin node (docs/graph-model.md) ---------------------
# DTDL names start with a letter, so keys starting with "_" never meet a DTDL property.
PREFIX = "_telemetry."
BUCKET_KEY = PREFIX + "bucket"
MEASUREMENT_KEY = PREFIX + "measurement"
FIELDS_KEY = PREFIX + "fields"
TAG_PREFIX = PREFIX + "tags."
TELEMETRY_COLUMN = "_telemetry"
"""The reference as JSON text: the copy kgtwin reads back (as ``_document`` is for the
properties). The keys above are for analysts' filters; reading them back would need the
node's key list, which costs a 10,000-twin walk more than the walk itself."""


def telemetry_column(var: str) -> str:
    """The Cypher expression of node ``var``'s reference (JSON text, or null on old nodes)."""
    return f"{var}.`{TELEMETRY_COLUMN}`"


def ref_properties(ref: TelemetryRef) -> dict[str, Any]:
    """The node properties of ``ref``: bucket, measurement, fields (a list) and one key per tag."""
    props: dict[str, Any] = {
        BUCKET_KEY: ref.bucket,
        MEASUREMENT_KEY: ref.measurement,
        FIELDS_KEY: list(ref.fields),
    }
    props.update({TAG_PREFIX + key: value for key, value in ref.tags.items()})
    # orjson: the same text as ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``
    # for these strings and lists, several times faster (an import writes one per twin).
    props[TELEMETRY_COLUMN] = orjson.dumps(ref.to_dict()).decode()
    return props


class DefaultRefs:
    """Node properties of default references, twin after twin, as ``ref_properties(default_ref(...))``.

    A bulk import gives most twins their model's default reference; building a
    ``TelemetryRef`` and its JSON text for each cost a tenth of the import. Per model the
    properties are made once, with the JSON text cut around the twin id, which is then
    the only part written per twin.
    """

    _MARK = "\x00"  # in no bucket, measurement or DTDL name

    def __init__(self, models: ModelSet) -> None:
        self._models = models
        self._templates: dict[str, tuple[dict[str, Any], str, str]] = {}

    def properties(self, model: str, twin_id: str) -> dict[str, Any]:
        template = self._templates.get(model)
        if template is None:
            template = self._templates[model] = self._template(model)
        base, head, tail = template
        props = dict(base)
        props[_TWIN_KEY] = twin_id
        props[TELEMETRY_COLUMN] = head + orjson.dumps(twin_id).decode() + tail
        return props

    def _template(self, model: str) -> tuple[dict[str, Any], str, str]:
        props = ref_properties(default_ref(self._models, model, self._MARK))
        head, _, tail = props[TELEMETRY_COLUMN].partition(orjson.dumps(self._MARK).decode())
        return props, head, tail


_TWIN_KEY = TAG_PREFIX + TWIN_TAG


def ref_from_node(
    props: Mapping[str, Any], model: str, twin_id: str, models: ModelSet | None = None
) -> TelemetryRef:
    """The reference stored on a node (read from its ``_telemetry`` JSON text).

    A node written before references existed carries none: it reads as the default, with
    the model's fields when ``models`` is given and none otherwise.
    """
    text = props.get(TELEMETRY_COLUMN)
    if isinstance(text, str):
        return TelemetryRef.from_dict(orjson.loads(text))
    if models is not None:
        return default_ref(models, model, twin_id)
    return TelemetryRef(DEFAULT_BUCKET, short_name(model), {TWIN_TAG: twin_id})


def ref_problems(ref: TelemetryRef, twin_id: str) -> list[tuple[str, str]]:
    """What makes ``ref`` unusable as twin ``twin_id``'s reference: ``(JSON Pointer, message)`` pairs.

    The ``twin_id`` tag must name the twin: the ingest path and the readers find a twin's
    series by it. A tag key must be non-empty and free of backticks (FalkorDB's client
    cannot send a backtick in a property key).
    """
    problems: list[tuple[str, str]] = []
    for name in ("bucket", "measurement"):
        value = getattr(ref, name)
        if not isinstance(value, str) or not value:
            problems.append((f"/{name}", f"{name} must be a non-empty string, not {value!r}"))
    # Callers may build a ref from unchecked JSON: check the types the annotations promise.
    tags: list[tuple[object, object]] = [*ref.tags.items()]
    for key, value in tags:
        if not isinstance(key, str) or not key or "`" in key:
            problems.append(("/tags", f"tag key {key!r} must be a non-empty string without a backtick"))
        elif not isinstance(value, str):
            problems.append((f"/tags/{key}", f"tag {key!r} must be a string, not {value!r}"))
    if ref.tags.get(TWIN_TAG) != twin_id:
        found = ref.tags.get(TWIN_TAG)
        problems.append(
            (f"/tags/{TWIN_TAG}", f"the {TWIN_TAG} tag must be the twin id {twin_id!r}, not {found!r}")
        )
    fields: tuple[object, ...] = tuple(ref.fields)
    if any(not isinstance(f, str) or not f for f in fields) or len(set(ref.fields)) != len(ref.fields):
        problems.append(("/fields", f"fields must be distinct non-empty strings, not {list(ref.fields)!r}"))
    return problems


@dataclass(frozen=True)
class TwinTarget:
    """Where the telemetry of one twin goes: its model (to validate points) and its reference."""

    model: str
    ref: TelemetryRef


_TARGETS = f"UNWIND $ids AS id MATCH (t:Twin {{id: id}}) RETURN t.id, t.model, {telemetry_column('t')}"


def telemetry_targets(store: GraphStore, twin_ids: Sequence[str]) -> dict[str, TwinTarget]:
    """The model and reference of each twin of ``twin_ids`` that exists, in one read.

    For the ingest path, which resolves a batch of incoming messages at once; ids with no
    twin are absent from the answer.
    """
    ids = list(dict.fromkeys(twin_ids))
    if not ids:
        return {}
    targets: dict[str, TwinTarget] = {}
    for twin_id, model, text in store.query_rows(_TARGETS, {"ids": ids}):
        targets[str(twin_id)] = TwinTarget(
            str(model), ref_from_node({TELEMETRY_COLUMN: text}, str(model), str(twin_id))
        )
    return targets
