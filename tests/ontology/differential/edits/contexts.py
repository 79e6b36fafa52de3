"""Edits of contexts, co-types and units, and of sizes around the limits."""

from __future__ import annotations

from random import Random
from typing import Any

from tests.ontology.differential.edits._base import (
    MATERIAL,
    Batch,
    add_content,
    contents,
    edit,
    objects,
    of_type,
    pick,
    types_of,
)
from tests.ontology.differential.versions import DTDL_CONTEXT, version_of

_EXTENSIONS = (
    "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:dtdl:extension:quantitativeTypes;2",
    "dtmi:dtdl:extension:historization;1",
    "dtmi:dtdl:extension:historization;2",
    "dtmi:dtdl:extension:annotation;1",
    "dtmi:dtdl:extension:overriding;1",
    "dtmi:dtdl:extension:mqtt;1",
    "dtmi:dtdl:extension:mqtt;3",
    "dtmi:dtdl:extension:requirement;1",
    "dtmi:iotcentral:context;2",
    "dtmi:com:example:extension;1",
    "dtmi:com:example:extension;2",
    "dtmi:dtdl:extension:quantitativeTypes;9",
    "dtmi:com:example:extension",
)
# Semantic types and units of the QuantitativeTypes chart (DTDL v2 has them in its own context).
_UNITS = {
    "Temperature": ("degreeCelsius", "kelvin"),
    "Length": ("metre", "centimetre", "foot"),
    "Power": ("watt", "kilowatt"),
    "Voltage": ("volt",),
    "DataSize": ("byte", "kilobyte", "bit", "mebibyte"),
    "TimeSpan": ("second", "hour"),
    "Density": ("gramPerCubicMetre",),
    "RelativeHumidity": ("percent", "unity"),
}
_ALL_UNITS = (*(u for units in _UNITS.values() for u in units), "metres", "celsius", "kilo", "litre")
_OTHER_COTYPES = (
    "Historized",
    "ValueAnnotation",
    "Required",
    "Indexed",
    "Override",
    "Foo",
    "dtmi:com:example:Tag;1",
)


def _entries(doc: dict[str, Any]) -> list[Any]:
    raw = doc.get("@context")
    return list(raw) if isinstance(raw, list) else [raw]


@edit("context-changed")
def change_context(rng: Random, batch: Batch) -> str | None:
    """An extension context added (known, unknown, or of the other DTDL version), or the DTDL one mangled."""
    doc = rng.choice(batch)
    entries = _entries(doc)
    how = rng.randrange(8)
    if how <= 3:
        entries.append(rng.choice(_EXTENSIONS))
    elif how == 4:
        entries.insert(0, rng.choice(_EXTENSIONS))
    elif how == 5:
        entries.append(entries[0])
    elif how == 6:
        entries = [rng.choice(("dtmi:dtdl:context;1", "dtmi:dtdl:context;5", "dtmi:dtdl:context", "dtdl"))]
    else:
        entries = [e for e in entries if not (isinstance(e, str) and e.startswith("dtmi:dtdl:extension:"))]
    doc["@context"] = entries if len(entries) != 1 or rng.random() < 0.5 else entries[0]
    return f"@context of {doc.get('@id')} set to {doc['@context']}"


@edit("context-limits")
def limit_context(rng: Random, batch: Batch) -> str | None:
    """DTDL v4's limit contexts, in the right and the wrong places."""
    doc = batch[0]
    entries = [e for e in _entries(doc) if not (isinstance(e, str) and DTDL_CONTEXT.match(e))]
    ver = version_of(doc)
    head = rng.choice(
        (
            [f"dtmi:dtdl:context;{ver}#limitless", "dtmi:dtdl:limits:onvif;1"],
            [f"dtmi:dtdl:context;{ver}#limitless", f"dtmi:dtdl:context;{ver}#limits"],
            [f"dtmi:dtdl:context;{ver}#limitless"],
            [f"dtmi:dtdl:context;{ver}", "dtmi:dtdl:limits:onvif;1"],
        )
    )
    doc["@context"] = [*head, *entries]
    return f"@context {doc['@context']}"


@edit("element-context-added")
def nest_context(rng: Random, batch: Batch) -> str | None:
    """A content brings its own ``@context``: an extension, or another DTDL version."""
    item = pick(rng, contents(batch[0]))
    if item is None:
        return None
    ver = version_of(batch[0])
    item["@context"] = rng.choice(
        (
            rng.choice(_EXTENSIONS),
            f"dtmi:dtdl:context;{ver}",
            f"dtmi:dtdl:context;{5 - ver if ver > 2 else 3}",
            [f"dtmi:dtdl:context;{ver}", rng.choice(_EXTENSIONS)],
        )
    )
    return f"content {item.get('name')!r} has @context {item['@context']}"


def _with_quantitative_types(batch: Batch) -> None:
    """QuantitativeTypes in the first document's context, when its DTDL version needs it."""
    ver = version_of(batch[0])
    if ver == 2:
        return
    entries = _entries(batch[0])
    extension = f"dtmi:dtdl:extension:quantitativeTypes;{ver - 2}"
    if extension not in entries:
        batch[0]["@context"] = [*entries, extension]


@edit("semantic-type-added")
def add_semantic_type(rng: Random, batch: Batch) -> str | None:
    """A semantic type with a unit on a content: fitting, of another quantity, or on a Relationship."""
    kinds = ("Property", "Telemetry", "Relationship", "Component", "Command")
    items = [c for c in contents(batch[0]) if set(types_of(c)) & set(kinds)]
    # and now and then a Field of an Object, or a Command payload (no @type of their own)
    items += [o for o in objects(batch[0]) if "name" in o and "schema" in o and "@type" not in o][:3]
    item = pick(rng, items)
    if item is None:
        return None
    semantic = rng.choice(sorted(_UNITS))
    item["@type"] = [*(types_of(item) or [rng.choice(("Field", "CommandRequest"))]), semantic]
    item["unit"] = rng.choice(_UNITS[semantic] if rng.random() < 0.6 else _ALL_UNITS)
    if rng.random() < 0.8:
        _with_quantitative_types(batch)
    if "Relationship" not in types_of(item) and rng.random() < 0.5:
        item["schema"] = rng.choice(("double", "integer", "string", "byte", "float"))
    return f"{item.get('name')!r} made {semantic} in {item['unit']}"


@edit("semantic-type-removed")
def remove_semantic_type(rng: Random, batch: Batch) -> str | None:
    """The semantic type of a content goes, its unit stays (or the other way round)."""
    item = pick(rng, [c for c in contents(batch[0]) if "unit" in c])
    if item is None:
        return None
    if rng.random() < 0.6:
        item["@type"] = next((t for t in types_of(item) if t in MATERIAL), "Property")
        return f"semantic type of {item.get('name')!r} removed"
    del item["unit"]
    return f"unit of {item.get('name')!r} removed"


@edit("unit-changed")
def change_unit(rng: Random, batch: Batch) -> str | None:
    """A unit of another quantity, a misspelt unit, or a unit where a schema is expected."""
    item = pick(rng, [o for o in objects(batch[0]) if "unit" in o])
    if item is None:
        return None
    how = rng.randrange(3)
    if how == 0:
        item["unit"] = rng.choice(_ALL_UNITS)
    elif how == 1:
        item["schema"] = rng.choice(("byte", "bit", "percent", "second", "metre"))
    else:
        item["unit"] = rng.choice(("dtmi:standard:unit:metre;2", "dtmi:com:example:unit;1", "kilo", ""))
    return f"unit edited ({how})"


@edit("datasize-schema")
def data_size_schema(rng: Random, batch: Batch) -> str | None:
    """Where a unit term and a schema term share a spelling (``byte``): as schema, and as unit."""
    _with_quantitative_types(batch)
    if rng.random() < 0.5:
        add_content(
            batch[0], {"@type": "Property", "name": "counter", "schema": rng.choice(("byte", "bytes"))}
        )
        return "Property with schema byte"
    add_content(
        batch[0],
        {
            "@type": ["Property", "DataSize"],
            "name": "memory",
            "schema": "double",
            "unit": rng.choice(("byte", "bit")),
        },
    )
    return "DataSize Property in byte"


@edit("cotype-changed")
def change_cotype(rng: Random, batch: Batch) -> str | None:
    """A co-type from an extension (with or without its context), an undefined one, or a DTMI."""
    item = pick(rng, [o for o in objects(batch[0]) if types_of(o)])
    if item is None:
        return None
    cotype = rng.choice(_OTHER_COTYPES)
    item["@type"] = [*types_of(item), cotype]
    if rng.random() < 0.5 and version_of(batch[0]) > 2:
        extension = {
            "Historized": "historization",
            "ValueAnnotation": "annotation",
            "Override": "overriding",
            "Indexed": "mqtt",
        }.get(cotype)
        if extension:
            ver = 1 if version_of(batch[0]) == 3 else 2
            batch[0]["@context"] = [*_entries(batch[0]), f"dtmi:dtdl:extension:{extension};{ver}"]
    return f"{cotype} added to {item.get('name') or item.get('@id')}"


@edit("limits-reached")
def reach_limits(rng: Random, batch: Batch) -> str | None:
    """Counts at and past the limits: contents (v2: 300), extends, enum values, fields, text lengths."""
    doc = batch[0]
    how = rng.randrange(4)
    if how == 0:
        n = rng.choice((299, 300, 301, 1001))
        doc["contents"] = [
            *contents(doc),
            *({"@type": "Property", "name": f"p{i}", "schema": "double"} for i in range(n)),
        ]
        return f"{n} more contents"
    if how == 1:
        doc["comment"] = "c" * rng.choice((512, 513))
        return "long comment"
    if how == 2:
        doc["@id"] = f"dtmi:com:{'a' * rng.choice((100, 118, 119, 120, 2030, 2050))};1"
        return f"@id {len(doc['@id'])} characters"
    rel = pick(rng, of_type(doc, "Relationship"))
    if rel is None:
        return None
    rel["name"] = "r" * rng.choice((64, 65, 512, 513))
    return "long Relationship name"
