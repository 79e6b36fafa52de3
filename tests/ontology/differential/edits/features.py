"""Edits that use the feature extensions, and that mix DTDL versions within one batch."""

from __future__ import annotations

from random import Random
from typing import Any

from tests.ontology.differential.edits._base import (
    Batch,
    add_content,
    contents,
    edit,
    objects,
    of_type,
    pick,
    types_of,
)
from tests.ontology.differential.versions import move, version_of


def _with_context(doc: dict[str, Any], extension: str, rng: Random) -> None:
    """The extension's context (the version a DTDL version takes), or now and then none at all."""
    if rng.random() < 0.15:
        return
    version = {"quantitativeTypes": 2, "historization": 2, "annotation": 2, "overriding": 2, "mqtt": 2}
    number = 1 if version_of(doc) == 3 else version.get(extension, 1)
    raw = doc.get("@context")
    entries = list(raw) if isinstance(raw, list) else [raw]
    doc["@context"] = [*entries, f"dtmi:dtdl:extension:{extension};{number}"]


@edit("annotation-added")
def annotate(rng: Random, batch: Batch) -> str | None:
    """A ValueAnnotation of a sibling, an Override of its unit, or one naming nothing."""
    doc = batch[0]
    sibling = pick(rng, of_type(doc, "Property", "Telemetry", "Relationship"))
    if sibling is None:
        return None
    _with_context(doc, "annotation", rng)
    annotation: dict[str, Any] = {
        "@type": ["Property", "ValueAnnotation"],
        "name": f"{sibling.get('name', 'x')}Accuracy",
        "annotates": rng.choice((sibling.get("name"), "nothingHere", 5)),
        "schema": "double",
    }
    if rng.random() < 0.4:
        _with_context(doc, "overriding", rng)
        annotation["@type"] = [*annotation["@type"], "Override"]
        annotation["overrides"] = rng.choice(("unit", "schema", "dtmi:com:example:prop;1"))
        annotation["schema"] = rng.choice(("TemperatureUnit", "LengthUnit", "double", "string"))
    add_content(doc, annotation)
    return f"{annotation['@type']} of {annotation['annotates']!r}"


@edit("historized-added")
def historize(rng: Random, batch: Batch) -> str | None:
    """Historized on a Property or Telemetry (fine), or on what it does not fit."""
    item = pick(rng, contents(batch[0]))
    if item is None:
        return None
    _with_context(batch[0], "historization", rng)
    item["@type"] = [*types_of(item), "Historized"]
    return f"{item.get('name')!r} historized"


@edit("mqtt-added")
def use_mqtt(rng: Random, batch: Batch) -> str | None:
    """The Interface co-typed Mqtt with its topics, and indexes on Telemetry, right and wrong."""
    doc = batch[0]
    _with_context(doc, "mqtt", rng)
    doc["@type"] = [*types_of(doc), "Mqtt"]
    doc["payloadFormat"] = rng.choice(("Json/ecma/404", "Avro/1.11.0", "", None))
    if doc["payloadFormat"] is None:
        del doc["payloadFormat"]
    doc["telemetryTopic"] = rng.choice(("sample/{senderId}/telemetry", "a/+/b", "x//y", "{modelId}/{name}"))
    if rng.random() < 0.5:
        doc["commandTopic"] = rng.choice(("rpc/{executorId}/{commandName}", "rpc/#"))
    for position, telemetry in enumerate(of_type(doc, "Telemetry")):
        telemetry["@type"] = [*types_of(telemetry), "Indexed"]
        telemetry["index"] = rng.choice((position + 1, 1, 0))
    return "Mqtt added"


@edit("required-field-added")
def require_field(rng: Random, batch: Batch) -> str | None:
    """A field of an Object co-typed Required (DTDL v4's Requirement extension)."""
    holder = pick(rng, of_type(batch[0], "Property", "Telemetry"))
    if holder is None:
        return None
    _with_context(batch[0], "requirement", rng)
    fields = [{"@type": ["Field", "Required"], "name": "id", "schema": "string"}]
    fields.append({"name": "id" if rng.random() < 0.2 else "value", "schema": "double"})
    holder["schema"] = {"@type": "Object", "fields": fields}
    return f"Object with a Required field on {holder.get('name')!r}"


@edit("dependency-version-moved")
def move_dependencies(rng: Random, batch: Batch) -> str | None:
    """The Interfaces the first one needs are written in another DTDL version than it."""
    if len(batch) < 2:
        return None
    current = version_of(batch[0])
    target = rng.choice([v for v in (2, 3, 4) if v != current])
    batch[1:] = move(batch[1:], target, migrate=rng.random() < 0.7)
    return f"dependencies moved to v{target}"


@edit("value-object-written")
def write_value_object(rng: Random, batch: Batch) -> str | None:
    """Literals written as JSON-LD value objects, right (``{"@value": true}``) and wrong."""
    choices = [
        (o, k) for o in objects(batch[0]) for k in ("writable", "name", "displayName", "comment") if k in o
    ]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    value = obj[key]
    obj[key] = rng.choice(
        (
            {"@value": value},
            {"@value": value, "@type": "xsd:boolean" if isinstance(value, bool) else "xsd:string"},
            {"@value": value, "@language": "en"},
            [{"@value": value if isinstance(value, str) else "x", "@language": "en"}],
            {"@value": value, "@type": "xsd:integer"},
        )
    )
    return f"{key} written as {obj[key]!r}"[:80]
