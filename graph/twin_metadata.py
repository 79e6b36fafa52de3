"""Per-property metadata of a twin: when each property was last written, and when it was observed.

Azure Digital Twins shows, beside each property of a twin, ``lastUpdateTime`` (when the
service last wrote it) and an optional ``sourceTime`` (when the value was observed in
the real world, given by the writer). kgtwin keeps the same on the twin's node as
``_metadata``, JSON text mirroring the document::

    {"temperature": {"lastUpdateTime": "2026-01-02T03:04:05.678Z", "sourceTime": "..."},
     "thermostat": {"$lastUpdateTime": "...", "setpoint": {"lastUpdateTime": "..."}}}

A Component gets ``$lastUpdateTime`` and one entry per property it holds. The rules:

- a create or a replace stamps every property it writes with the write's time;
- a patch stamps the properties its operations touch (the first step of each path, or the
  first two inside a Component); a value written without a ``sourceTime`` drops the one it
  had, since the old observation time no longer describes the new value;
- a ``sourceTime`` is set by the writer: on a create in ``$metadata.<name>.sourceTime``
  (``<component>.$metadata.<name>.sourceTime`` inside a Component), on a patch with an
  operation on ``/$metadata/<name>/sourceTime`` (``/<component>/$metadata/<name>/sourceTime``);
- entries of properties no longer in the document are dropped.

Nodes written without metadata (bulk imports, twins from before) read as if every property
was last written at the twin's ``updatedAt``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from ontology.errors import BadRequest

METADATA_COLUMN = "_metadata"
LAST_UPDATE = "lastUpdateTime"
SOURCE_TIME = "sourceTime"
COMPONENT_UPDATE = "$lastUpdateTime"
_METADATA_KEY = "$metadata"

SourceTimes = dict[str, Any]
"""Property name -> sourceTime text; Component name -> (its property name -> sourceTime text)."""


def source_times(document: Mapping[str, Any], components: Collection[str]) -> SourceTimes:
    """The ``sourceTime`` values a twin document carries in its ``$metadata`` (and its Components')."""
    found: SourceTimes = _times_of(document.get(_METADATA_KEY), "/$metadata")
    for name in components:
        value = document.get(name)
        if isinstance(value, Mapping) and _METADATA_KEY in value:
            inner = _times_of(value[_METADATA_KEY], f"/{name}/$metadata")
            if inner:
                found[name] = inner
    return found


def _times_of(metadata: object, where: str) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise BadRequest(f"{where} must be an object", details={"path": where})
    times: dict[str, Any] = {}
    for name, entry in metadata.items():
        if name.startswith("$") or not isinstance(entry, Mapping) or SOURCE_TIME not in entry:
            continue
        times[name] = _checked_time(entry[SOURCE_TIME], f"{where}/{name}/{SOURCE_TIME}")
    return times


def _checked_time(value: object, where: str) -> str:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(trim_fraction(value).replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return value
    raise BadRequest(
        f"{where} must be an RFC 3339 date-time with an offset, not {value!r}", details={"path": where}
    )


def trim_fraction(text: str) -> str:
    """RFC 3339 text with at most 6 fraction digits: ADT writes 7 (even 9), Python reads 6."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"


def without_metadata(document: Mapping[str, Any], components: Collection[str]) -> dict[str, Any]:
    """The document with every ``$`` key removed, at the top and inside its Components."""
    clean: dict[str, Any] = {}
    for name, value in document.items():
        if name.startswith("$"):
            continue
        if name in components and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if not k.startswith("$")}
        clean[name] = value
    return clean


def stamp_document(
    document: Mapping[str, Any], components: Collection[str], now: str, times: SourceTimes | None = None
) -> dict[str, Any]:
    """The metadata of a twin created (or replaced) with ``document`` at ``now``."""
    times = times or {}
    stamped: dict[str, Any] = {}
    for name, value in document.items():
        if name in components and isinstance(value, Mapping):
            inner = times.get(name)
            stamped[name] = _component(value, now, inner if isinstance(inner, Mapping) else {})
        else:
            stamped[name] = _entry(now, times.get(name))
    return stamped


def _component(value: Mapping[str, Any], now: str, times: Mapping[str, Any]) -> dict[str, Any]:
    stamped: dict[str, Any] = {COMPONENT_UPDATE: now}
    for key in value:
        stamped[key] = _entry(now, times.get(key))
    return stamped


def _entry(now: str, source: object = None) -> dict[str, str]:
    entry = {LAST_UPDATE: now}
    if isinstance(source, str):
        entry[SOURCE_TIME] = source
    return entry


def split_patch(
    patch: Sequence[Mapping[str, Any]], components: Collection[str]
) -> tuple[list[Mapping[str, Any]], list[tuple[tuple[str, ...], str | None]]]:
    """A JSON Patch split into the operations on the document and the ``sourceTime`` changes.

    A ``sourceTime`` change is ``((property,), time)`` or ``((component, property), time)``,
    the time ``None`` for a ``remove``. Any other operation on ``$metadata`` (such as
    ``/$metadata/$model``) is refused: a twin's model changes by migration, not by patch.
    """
    document_ops: list[Mapping[str, Any]] = []
    changes: list[tuple[tuple[str, ...], str | None]] = []
    for index, op in enumerate(patch):
        path = op.get("path") if isinstance(op, Mapping) else None
        steps = _steps(path) if isinstance(path, str) else []
        if _METADATA_KEY not in steps:
            document_ops.append(op)
            continue
        where = f"/{index}"
        target = _source_time_target(steps, components)
        if target is None:
            raise BadRequest(
                f"patch operation {index} ({path}): only /$metadata/<property>/sourceTime may be "
                "changed; a twin's model changes by migration (POST /models/migrations), not by patch",
                details={"path": where, "operation": dict(op)},
            )
        kind = op.get("op")
        if kind == "remove":
            changes.append((target, None))
        elif kind in ("add", "replace"):
            changes.append((target, _checked_time(op.get("value"), str(path))))
        else:
            raise BadRequest(
                f"patch operation {index}: {kind!r} cannot change a sourceTime (add, replace or remove)",
                details={"path": where},
            )
    return document_ops, changes


def _steps(pointer: str) -> list[str]:
    # RFC 6901: "~1" is "/" and "~0" is "~", in that order.
    return [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]] if pointer else []


def _source_time_target(steps: list[str], components: Collection[str]) -> tuple[str, ...] | None:
    if (
        len(steps) == 3
        and steps[0] == _METADATA_KEY
        and steps[2] == SOURCE_TIME
        and not steps[1].startswith("$")
    ):
        return (steps[1],)
    if (
        len(steps) == 4
        and steps[0] in components
        and steps[1] == _METADATA_KEY
        and steps[3] == SOURCE_TIME
        and not steps[2].startswith("$")
    ):
        return (steps[0], steps[2])
    return None


def stamp_patch(
    previous: Mapping[str, Any],
    document: Mapping[str, Any],
    components: Collection[str],
    patch: Sequence[Mapping[str, Any]],
    changes: Sequence[tuple[tuple[str, ...], str | None]],
    now: str,
) -> dict[str, Any]:
    """The metadata after ``patch`` (document operations) and ``changes`` (sourceTimes) made ``document``."""
    stamped: dict[str, Any] = json.loads(json.dumps(dict(previous)))  # a deep copy of plain JSON
    for op in patch:
        steps = _steps(str(op.get("path", "")))
        if not steps:
            continue  # the whole document replaced: every property is new
        name = steps[0]
        if name in components:
            value = document.get(name)
            if len(steps) == 1 or not isinstance(stamped.get(name), dict):
                stamped[name] = _component(value if isinstance(value, Mapping) else {}, now, {})
            else:
                stamped[name][COMPONENT_UPDATE] = now
                stamped[name][steps[1]] = _entry(now)
        else:
            stamped[name] = _entry(now)
    if any(not _steps(str(op.get("path", ""))) for op in patch):
        stamped = stamp_document(document, components, now)
    for target, time in changes:
        holder = stamped
        if len(target) == 2:
            holder = stamped.setdefault(target[0], {COMPONENT_UPDATE: now})
        entry = holder.setdefault(target[-1], _entry(now))
        if time is None:
            entry.pop(SOURCE_TIME, None)
        else:
            entry[SOURCE_TIME] = time
    return prune(stamped, document, components)


def prune(
    metadata: Mapping[str, Any], document: Mapping[str, Any], components: Collection[str]
) -> dict[str, Any]:
    """``metadata`` without entries for properties the document no longer holds."""
    kept: dict[str, Any] = {}
    for name, entry in metadata.items():
        if name not in document:
            continue
        value = document[name]
        if name in components and isinstance(value, Mapping) and isinstance(entry, Mapping):
            kept[name] = {k: v for k, v in entry.items() if k == COMPONENT_UPDATE or k in value}
        else:
            kept[name] = entry
    return kept


def metadata_of(
    stored: Mapping[str, Any], document: Mapping[str, Any], components: Collection[str], updated_at: str
) -> dict[str, Any]:
    """The metadata to show for ``document``: what is stored, ``updated_at`` where nothing is."""
    shown = prune(stored, document, components)
    for name, value in document.items():
        if name in components and isinstance(value, Mapping):
            entry = shown.setdefault(name, {COMPONENT_UPDATE: updated_at})
            entry.setdefault(COMPONENT_UPDATE, updated_at)
            for key in value:
                entry.setdefault(key, _entry(updated_at))
        else:
            shown.setdefault(name, _entry(updated_at))
    return shown


def encode_metadata(metadata: Mapping[str, Any]) -> str:
    """The node property text of ``metadata`` (compact JSON, keys sorted)."""
    return json.dumps(metadata, separators=(",", ":"), sort_keys=True)


def decode_metadata(text: object) -> dict[str, Any]:
    """The metadata stored on a node, ``{}`` when it has none (or it is not JSON of an object)."""
    if not isinstance(text, str):
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
