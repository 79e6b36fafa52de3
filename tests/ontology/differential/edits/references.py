"""Edits of identities and references: DTMIs broken, extends cycles and depth, Components nested,
Relationships retargeted, dependencies missing or uploaded twice."""

from __future__ import annotations

import copy
from random import Random
from typing import Any

from tests.ontology.differential.edits._base import (
    Batch,
    add_content,
    contents,
    edit,
    fresh_dtmi,
    interface,
    objects,
    of_type,
    pick,
    types_of,
)
from tests.ontology.differential.versions import version_of


def broken_dtmi(rng: Random, dtmi: str) -> str:
    """``dtmi`` broken the ways people break identifiers."""
    body, _, ver = dtmi.partition(";")
    options = (
        body,
        f"{body};0",
        f"{body};1.0",
        f"{body};1.2",
        f"{body};{ver}.{ver}.1",
        f"{body};1234567890",
        body.replace(":", "-", 2),
        f"{body}:;{ver}",
        f"{body}_;{ver}",
        f"{body}__x;{ver}",
        "DTMI" + dtmi[4:],
        f"{body}:1a;{ver}",
        f"{body}:{'x' * 2100};{ver}",
        f"{body}:{'x' * 120};{ver}",
        f"dtmi:dtdl:{body[5:]};{ver}",
        f"dtmi:standard:{body[5:]};{ver}",
        f"urn:{body[5:]};{ver}",
        f"{body} ;{ver}",
        f"{body}:café;{ver}",
    )
    return rng.choice(options)


@edit("dtmi-broken")
def break_dtmi(rng: Random, batch: Batch) -> str | None:
    """The ``@id`` of the Interface (or of an element in it) is broken."""
    ids = [o for o in objects(batch[0]) if isinstance(o.get("@id"), str)]
    obj = pick(rng, ids)
    if obj is None:
        return None
    obj["@id"] = broken_dtmi(rng, obj["@id"])
    return f"@id broken to {obj['@id'][:60]!r}"


def _references(doc: dict[str, Any]) -> list[tuple[dict[str, Any], str, int | None]]:
    """(object, key, index in a list) of every DTMI value in ``doc`` other than an ``@id``."""
    out: list[tuple[dict[str, Any], str, int | None]] = []
    for obj in objects(doc):
        for key, value in obj.items():
            if key.startswith("@"):
                continue
            if isinstance(value, str) and value.startswith("dtmi:"):
                out.append((obj, key, None))
            elif isinstance(value, list):
                out += [
                    (obj, key, i) for i, v in enumerate(value) if isinstance(v, str) and v.startswith("dtmi:")
                ]
    return out


@edit("reference-broken")
def break_reference(rng: Random, batch: Batch) -> str | None:
    """A reference (extends, a schema, a target) names a DTMI that is broken or nowhere."""
    choice = pick(rng, _references(batch[0]))
    if choice is None:
        return None
    obj, key, index = choice
    old = obj[key] if index is None else obj[key][index]
    new = broken_dtmi(rng, old) if rng.random() < 0.5 else fresh_dtmi(batch, "Missing")
    if index is None:
        obj[key] = new
    else:
        obj[key][index] = new
    return f"{key} {old} became {new[:60]}"


@edit("dependency-missing")
def drop_dependency(rng: Random, batch: Batch) -> str | None:
    """One of the Interfaces the first one needs is left out of the upload."""
    if len(batch) < 2:
        return None
    gone = batch.pop(rng.randrange(1, len(batch)))
    return f"left out {gone.get('@id')}"


@edit("dependency-uploaded-twice")
def duplicate_dependency(rng: Random, batch: Batch) -> str | None:
    """An Interface is in the batch twice (the same file added twice), or two define one DTMI."""
    doc = rng.choice(batch)
    twin = copy.deepcopy(doc)
    if rng.random() < 0.5:
        twin["displayName"] = "another definition"
    batch.append(twin)
    return f"{doc.get('@id')} twice"


@edit("extends-cycle")
def make_cycle(rng: Random, batch: Batch) -> str | None:
    """An Interface ends up extending itself, directly or through others."""
    first = batch[0]
    if not isinstance(first.get("@id"), str):
        return None
    extended = [d for d in batch[1:] if d.get("@id") in _extends(first)] or batch[1:]
    target = pick(rng, extended)
    if target is None or rng.random() < 0.3:
        first["extends"] = [*_extends(first), first["@id"]]
        return "extends itself"
    target["extends"] = [*_extends(target), first["@id"]]
    return f"{target.get('@id')} extends {first['@id']}"


def _extends(doc: dict[str, Any]) -> list[str]:
    raw = doc.get("extends")
    if isinstance(raw, str):
        return [raw]
    return [r for r in raw if isinstance(r, str)] if isinstance(raw, list) else []


@edit("extends-deep")
def deepen_extends(rng: Random, batch: Batch) -> str | None:
    """A chain of Interfaces above the first one, near and past the depth limit (10; v4: 12)."""
    depth = rng.randrange(8, 15)
    ver = version_of(batch[0])
    above = _extends(batch[0])
    for _ in range(depth):
        dtmi = fresh_dtmi(batch, "Level")
        batch.append(interface(dtmi, ver, extends=above) if above else interface(dtmi, ver))
        above = [dtmi]
    batch[0]["extends"] = above
    return f"{depth} more levels of extends"


@edit("extends-wide")
def widen_extends(rng: Random, batch: Batch) -> str | None:
    """The first Interface extends several more (v2 allows two)."""
    count = rng.choice((1, 2, 3, 5))
    ver = version_of(batch[0])
    added = []
    for i in range(count):
        dtmi = fresh_dtmi(batch, "Mixin")
        batch.append(
            interface(dtmi, ver, contents=[{"@type": "Property", "name": f"m{i}", "schema": "string"}])
        )
        added.append(dtmi)
    batch[0]["extends"] = [*_extends(batch[0]), *added]
    return f"extends {count} more"


@edit("extends-odd")
def odd_extends(rng: Random, batch: Batch) -> str | None:
    """extends names a schema, a primitive, or holds an Interface written inline."""
    ver = version_of(batch[0])
    how = rng.randrange(4)
    if how == 0:
        batch[0]["extends"] = rng.choice(("string", "dtmi:dtdl:instance:Schema:string;2"))
    elif how == 1:
        enum = {"@id": fresh_dtmi(batch, "Kind"), "@type": "Enum", "valueSchema": "string", "enumValues": []}
        batch[0]["schemas"] = [enum]
        batch[0]["extends"] = enum["@id"]
    elif how == 2:
        inline = {"@id": fresh_dtmi(batch, "Inline"), "@type": "Interface"}
        if ver > 2 and rng.random() < 0.5:
            inline["@context"] = f"dtmi:dtdl:context;{ver}"
        batch[0]["extends"] = [*_extends(batch[0]), inline]
    else:
        batch[0]["extends"] = [*_extends(batch[0]), {"@type": "Interface"}]
    return f"odd extends ({how})"


@edit("component-nested")
def nest_component(rng: Random, batch: Batch) -> str | None:
    """A Component's schema has a Component itself, directly or through what it extends."""
    ver = version_of(batch[0])
    inner = fresh_dtmi(batch, "Inner")
    batch.append(interface(inner, ver))
    middle = fresh_dtmi(batch, "Middle")
    component = {"@type": "Component", "name": "part", "schema": inner}
    how = rng.randrange(3)
    if how == 0:
        batch.append(interface(middle, ver, contents=[component]))
    else:
        base = fresh_dtmi(batch, "Base")
        batch.append(interface(base, ver, contents=[component]))
        batch.append(interface(middle, ver, extends=base))
        if how == 2:  # and the Interface holding the Component is extended twice over
            top = fresh_dtmi(batch, "Top")
            batch[-1]["extends"] = top
            batch.append(interface(top, ver, extends=base))
    add_content(batch[0], {"@type": "Component", "name": "assembly", "schema": middle})
    return f"Component nested ({how})"


@edit("component-edited")
def edit_component(rng: Random, batch: Batch) -> str | None:
    """A Component whose schema is the Interface itself, a dependency, written inline, or a primitive."""
    ver = version_of(batch[0])
    options: list[Any] = [
        batch[0].get("@id"),
        "double",
        {"@type": "Interface", "@id": fresh_dtmi(batch, "Part")},
    ]
    options += [d.get("@id") for d in batch[1:]]
    options.append(
        {"@type": "Interface", "contents": [{"@type": "Property", "name": "p", "schema": "string"}]}
    )
    schema = rng.choice(options)
    if isinstance(schema, dict) and rng.random() < 0.4:
        schema["@context"] = f"dtmi:dtdl:context;{ver}"
    add_content(batch[0], {"@type": "Component", "name": "module", "schema": schema})
    return f"Component with schema {str(schema)[:50]}"


@edit("relationship-retargeted")
def retarget(rng: Random, batch: Batch) -> str | None:
    """A Relationship's target moves: another Interface, a missing one, a schema, an element."""
    rels = of_type(batch[0], "Relationship")
    rel = pick(rng, rels)
    if rel is None:
        rel = {"@type": "Relationship", "name": "feeds"}
        add_content(batch[0], rel)
    nested_ids = [o["@id"] for o in objects(batch[0]) if o is not batch[0] and isinstance(o.get("@id"), str)]
    options: list[Any] = [d.get("@id") for d in batch] + nested_ids
    options += [
        "string",
        fresh_dtmi(batch, "Elsewhere"),
        {"@type": "Interface", "@id": fresh_dtmi(batch, "In")},
    ]
    rel["target"] = rng.choice(options)
    return f"target of {rel.get('name')!r} set to {str(rel['target'])[:50]}"


@edit("relationship-edited")
def edit_relationship(rng: Random, batch: Batch) -> str | None:
    """Multiplicities, writable and properties of a Relationship, right and wrong."""
    rel = pick(rng, of_type(batch[0], "Relationship"))
    if rel is None:
        rel = {"@type": "Relationship", "name": "serves"}
        add_content(batch[0], rel)
    how = rng.randrange(6)
    if how == 0:
        rel["minMultiplicity"], rel["maxMultiplicity"] = rng.choice(
            ((0, 1), (1, 1), (0, 0), (2, 1), (0, 500))
        )
    elif how == 1:
        rel["writable"] = True
    elif how == 2:
        rel["properties"] = [{"@type": "Property", "name": "since", "schema": "dateTime"}]
    elif how == 3:
        rel["properties"] = [{"@type": "Telemetry", "name": "flow", "schema": "double"}]
    elif how == 4:
        rel["properties"] = [
            {"@type": "Property", "name": "w", "schema": "double"},
            {"@type": "Property", "name": rng.choice(("w", "name", "target")), "schema": "string"},
        ]
    else:
        rel["properties"] = [{"@type": "Property", "name": "w", "schema": "double", "writable": "yes"}]
    return f"Relationship {rel.get('name')!r} edited ({how})"


@edit("element-id-added")
def add_element_id(rng: Random, batch: Batch) -> str | None:
    """A content gets its own ``@id``: fitting, taken by another element, or of an Interface."""
    items = contents(batch[0])
    item = pick(rng, items)
    base = batch[0].get("@id")
    if item is None or not isinstance(base, str):
        return None
    stem, _, ver = base.partition(";")
    options: list[Any] = [f"{stem}:{item.get('name', 'x')};{ver}", f"{stem}:shared;{ver}", base]
    options += [d.get("@id") for d in batch[1:]]
    item["@id"] = rng.choice(options)
    if rng.random() < 0.4 and len(items) > 1:
        other = rng.choice([i for i in items if i is not item])
        other["@id"] = item["@id"]
    return f"content {item.get('name')!r} given @id {item['@id']}"


@edit("schemas-added")
def add_schemas(rng: Random, batch: Batch) -> str | None:
    """Reusable schemas in ``schemas`` and Properties that use them, here or from another Interface."""
    dtmi = fresh_dtmi(batch, "Level")
    enum: dict[str, Any] = {
        "@id": dtmi,
        "@type": "Enum",
        "valueSchema": "integer",
        "enumValues": [{"name": "low", "enumValue": 1}, {"name": "high", "enumValue": 2}],
    }
    how = rng.randrange(4)
    if how == 1:
        del enum["@id"]
    elif how == 2:
        enum["@id"] = batch[-1].get("@id")
    owner = batch[0] if how != 3 or len(batch) < 2 else batch[1]
    schemas = owner.get("schemas")
    owner["schemas"] = [*(schemas if isinstance(schemas, list) else []), enum]
    add_content(batch[0], {"@type": "Property", "name": "level", "schema": dtmi})
    return f"schemas added ({how})"


@edit("type-of-top-changed")
def change_top_type(rng: Random, batch: Batch) -> str | None:
    """The top-level element is not an Interface, or an Interface has co-types."""
    doc = rng.choice(batch)
    doc["@type"] = rng.choice((["Interface", "Property"], "Property", ["Interface", "Foo"], "Enum", []))
    if "Interface" not in types_of(doc) and rng.random() < 0.5:
        doc["name"], doc["schema"] = "top", "string"
    return f"@type of {doc.get('@id')} set to {doc['@type']}"
