"""How a twin's telemetry reference is stored on its node, and read back.

The reference itself (``telemetry.TelemetryRef``: bucket, measurement, tags, fields) is
the telemetry package's; the graph keeps it on the twin's node as JSON text beside one
key per part for analysts' Cypher (docs/graph-model.md). ``telemetry_targets`` reads the
references of many twins at once for the ingest path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from graph._version import current
from graph.store import GraphStore
from ontology import ModelSet
from telemetry.refs import TWIN_TAG, TelemetryRef, bare_ref, default_ref

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
    return bare_ref(model, twin_id)


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
    return _targets(store.query_rows(_TARGETS, {"ids": ids}))


_SOME_TARGETS = f"MATCH (t:Twin) RETURN t.id, t.model, {telemetry_column('t')} LIMIT $limit"


def some_telemetry_targets(store: GraphStore, limit: int) -> dict[str, TwinTarget]:
    """The targets of up to ``limit`` twins, whichever the engine lists first, in one read.

    For the ingest path's cache at start (``ingest.targets``): the first messages of a fleet
    then find their twins cached instead of each batch reading its own, all at once.
    """
    return _targets(store.query_rows(_SOME_TARGETS, {"limit": limit}))


def _targets(rows: list[list[Any]]) -> dict[str, TwinTarget]:
    """Rows of (id, model, reference text) as targets by twin id."""
    return {
        str(twin_id): TwinTarget(
            str(model), ref_from_node({TELEMETRY_COLUMN: text}, str(model), str(twin_id))
        )
        for twin_id, model, text in rows
    }


def targets_version(store: GraphStore) -> str | None:
    """A token that changes whenever a twin is written, by any process, before the write returns.

    The ingest path reads it once per batch: unchanged, its cached targets still hold;
    changed, it reads the batch's twins again (``ingest.targets``). It is the graph's
    version (``graph._version``), which relationship writes renew as well.
    """
    return current(store)
