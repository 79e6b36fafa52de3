"""Edits of the members of elements: dropped, duplicated, misspelt, mistyped, out of shape."""

from __future__ import annotations

import copy
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
from tests.ontology.differential.versions import version_of

_REQUIRED = ("name", "schema", "@type", "elementSchema", "mapKey", "mapValue", "valueSchema", "enumValues")
_PRIMITIVES = (
    "boolean",
    "date",
    "dateTime",
    "double",
    "duration",
    "float",
    "integer",
    "long",
    "string",
    "time",
    "byte",
    "bytes",
    "decimal",
    "short",
    "uuid",
    "unsignedByte",
    "unsignedInteger",
    "unsignedLong",
    "unsignedShort",
    "scaledDecimal",
    "point",
    "lineString",
    "polygon",
    "multiPoint",
)
_MISSPELT_SCHEMAS = ("Double", "dobule", "int", "datetime", "str", "number", "Boolean", "dateTime ", "uint")
_MISSPELT_TYPES = {
    "Property": ("property", "Propery", "Properties"),
    "Telemetry": ("telemetry", "Telemtry"),
    "Relationship": ("relationship", "Relation"),
    "Component": ("component", "Compnent"),
    "Command": ("command", "Commands"),
    "Enum": ("enum", "Enumeration"),
    "Map": ("map", "Dictionary"),
    "Object": ("object", "Struct"),
    "Interface": ("interface", "Interfaces"),
}
_MISSPELT_KEYS = {
    "displayName": ("displayname", "display_name", "DisplayName"),
    "description": ("Description", "desc"),
    "schema": ("Schema", "schemas", "type"),
    "contents": ("content", "Contents"),
    "extends": ("extend", "inherits"),
    "writable": ("writeable", "readOnly"),
    "name": ("Name", "id"),
    "target": ("targets", "Target"),
    "enumValues": ("values", "enumValue"),
    "comment": ("comments",),
}
_BAD_NAMES = ("1abc", "a-b", "", "_a", "a_", "ab c", "café", "a" * 65, "a" * 513, "a.b", "A" * 64)
_BAD_LANGS = ("english", "en_US", "x", "zz-ZZZZZZZZZ", "", "EN", "en-US", "i-klingon", "123")


@edit("required-dropped")
def drop_required(rng: Random, batch: Batch) -> str | None:
    """A member the element's class requires goes missing (a property without a schema)."""
    choices = [(o, k) for o in objects(batch[0]) for k in _REQUIRED if k in o]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    del obj[key]
    return f"dropped {key!r} of {obj.get('name') or obj.get('@id') or 'an element'}"


@edit("member-dropped")
def drop_member(rng: Random, batch: Batch) -> str | None:
    """Any member of any element goes missing, the top-level @id and @context included."""
    obj = pick(rng, list(objects(batch[0])))
    if not obj:
        return None
    key = rng.choice(sorted(obj))
    del obj[key]
    return f"dropped {key!r}"


@edit("name-duplicated")
def duplicate_name(rng: Random, batch: Batch) -> str | None:
    """A content is pasted twice, or a second one takes the name of the first."""
    items = [c for c in contents(batch[0]) if isinstance(c.get("name"), str)]
    first = pick(rng, items)
    if first is None:
        return None
    if rng.random() < 0.5 or len(items) < 2:
        add_content(batch[0], copy.deepcopy(first))
        return f"pasted {first['name']!r} twice"
    other = rng.choice([c for c in items if c is not first])
    other["name"] = first["name"]
    return f"renamed a content to {first['name']!r}"


@edit("name-shadows-inherited")
def shadow_inherited(rng: Random, batch: Batch) -> str | None:
    """A content takes the name of a content of an Interface the batch's first one extends."""
    names = sorted({c["name"] for doc in batch[1:] for c in contents(doc) if isinstance(c.get("name"), str)})
    name = pick(rng, names)
    if name is None or not batch[0].get("extends"):
        return None
    add_content(batch[0], {"@type": "Property", "name": name, "schema": rng.choice(("string", "double"))})
    return f"added a Property named {name!r} as an inherited content"


@edit("name-invalid")
def invalid_name(rng: Random, batch: Batch) -> str | None:
    """A name breaks the pattern or the length limit (or just reaches it)."""
    named = [o for o in objects(batch[0]) if "name" in o]
    obj = pick(rng, named)
    if obj is None:
        return None
    obj["name"] = rng.choice(_BAD_NAMES)
    return f"name set to {obj['name'][:20]!r} ({len(obj['name'])} characters)"


@edit("schema-misspelt")
def misspell_schema(rng: Random, batch: Batch) -> str | None:
    """A primitive schema is misspelt, or is one another DTDL version has."""
    holders = [o for o in objects(batch[0]) if isinstance(o.get("schema"), str) and ":" not in o["schema"]]
    holders += [o for o in objects(batch[0]) if isinstance(o.get("elementSchema"), str)]
    obj = pick(rng, holders)
    if obj is None:
        return None
    key = "schema" if "schema" in obj else "elementSchema"
    obj[key] = rng.choice(_MISSPELT_SCHEMAS + _PRIMITIVES)
    return f"{key} set to {obj[key]!r}"


@edit("type-misspelt")
def misspell_type(rng: Random, batch: Batch) -> str | None:
    """A class name in ``@type`` is misspelt, or two classes are named."""
    typed = [o for o in objects(batch[0]) if any(t in _MISSPELT_TYPES for t in types_of(o))]
    obj = pick(rng, typed)
    if obj is None:
        return None
    material = next(t for t in types_of(obj) if t in _MISSPELT_TYPES)
    if rng.random() < 0.2:
        second = rng.choice([m for m in MATERIAL if m != material])
        obj["@type"] = [material, second]
        return f"@type {material} and {second}"
    wrong = rng.choice(_MISSPELT_TYPES[material])
    obj["@type"] = [wrong if t == material else t for t in types_of(obj)]
    return f"@type {material} misspelt {wrong!r}"


@edit("key-misspelt")
def misspell_key(rng: Random, batch: Batch) -> str | None:
    """A member's key is misspelt (``displayname``, ``writeable``)."""
    choices = [(o, k) for o in objects(batch[0]) for k in o if k in _MISSPELT_KEYS]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    wrong = rng.choice(_MISSPELT_KEYS[key])
    if wrong in obj:
        return None
    obj[wrong] = obj.pop(key)
    return f"{key!r} misspelt {wrong!r}"


@edit("unknown-member")
def add_unknown_member(rng: Random, batch: Batch) -> str | None:
    """A member DTDL does not define: a plain word, a DTMI, a keyword, a prefixed name."""
    obj = pick(rng, list(objects(batch[0])))
    if obj is None:
        return None
    key = rng.choice(
        ("foo", "dtmi:com:example:foo;1", "@foo", "@graph", "@language", "x:y", "unit", "nullable")
    )
    obj[key] = rng.choice((1, "bar", True, {"a": 1}, ["x"]))
    return f"added member {key!r}"


def _wrong_value(rng: Random, key: str) -> Any:
    options: dict[str, tuple[Any, ...]] = {
        "writable": ("true", 1, None, [True]),
        "name": (5, ["a"], {"en": "a"}),
        "displayName": (7, ["a", "b"], {"en": 5}, {"en": ["a"]}, ""),
        "description": ({"en": "x", "fr": 1}, 3.5),
        "minMultiplicity": ("0", 0.0, True, -1, 1, 2),
        "maxMultiplicity": (0, 1.5, "5", -2, 500, 501, 1, 2**31),
        "enumValue": (1.5, True, None, {"v": 1}),
        "comment": (["a"], 1, "c" * 513),
        "extends": (5, {}, [[]]),
        "target": (5, ["dtmi:com:example:A;1", "dtmi:com:example:B;1"]),
        "unit": (5, "Metre", "metres"),
    }
    return rng.choice(options.get(key, (None, 0, [], {}, "x")))


@edit("value-mistyped")
def mistype_value(rng: Random, batch: Batch) -> str | None:
    """A value of the wrong JSON type or range: ``"writable": "true"``, ``maxMultiplicity: 0``."""
    choices = [(o, k) for o in objects(batch[0]) for k in o if not k.startswith("@")]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    obj[key] = _wrong_value(rng, key)
    return f"{key} set to {obj[key]!r}"[:80]


@edit("empty-value")
def empty_value(rng: Random, batch: Batch) -> str | None:
    """A member left empty: null, an empty array, an empty object or an empty string."""
    choices = [(o, k) for o in objects(batch[0]) for k in o]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    obj[key] = rng.choice((None, [], {}, ""))
    return f"{key} set to {obj[key]!r}"


@edit("language-map-edited")
def edit_language_map(rng: Random, batch: Batch) -> str | None:
    """displayName or description in odd languages, or longer than the limit, or at it."""
    obj = pick(rng, [o for o in objects(batch[0]) if "name" in o or "@id" in o])
    if obj is None:
        return None
    key = rng.choice(("displayName", "description"))
    limit = 64 if key == "displayName" else 512
    how = rng.randrange(3)
    if how == 0:
        obj[key] = {"en": "Name", rng.choice(_BAD_LANGS): "Nom"}
    elif how == 1:
        obj[key] = "d" * rng.choice((limit, limit + 1, 4 * limit + 1))
    else:
        obj[key] = {"en": "d" * rng.choice((limit, limit + 1)), "de": "x"}
    return f"{key} edited ({how})"


@edit("enum-edited")
def edit_enum(rng: Random, batch: Batch) -> str | None:
    """An Enum with a repeated value or name, values of the other type, or an odd value schema."""
    enums = [o for o in objects(batch[0]) if "Enum" in types_of(o)]
    enum = pick(rng, enums)
    if enum is None:
        enum = {"@type": "Enum", "valueSchema": "string", "enumValues": [{"name": "on", "enumValue": "on"}]}
        add_content(batch[0], {"@type": "Property", "name": "mode", "schema": enum})
    if not isinstance(enum.get("enumValues"), list):
        enum["enumValues"] = []
    values: list[Any] = enum["enumValues"]
    how = rng.randrange(5)
    if how == 0 and values:
        values.append(copy.deepcopy(values[0]))
    elif how == 1 and values:
        values.append({"name": f"{values[0].get('name', 'x')}2", "enumValue": values[0].get("enumValue")})
    elif how == 2:
        enum["valueSchema"] = rng.choice(("integer", "double", "boolean", "long", "string"))
    elif how == 3:
        values.append({"name": "extra", "enumValue": rng.choice((7, "seven", 7.5))})
    else:
        enum["enumValues"] = [{"name": f"v{i}", "enumValue": f"v{i}"} for i in range(rng.choice((100, 101)))]
    return f"enum edited ({how})"


@edit("complex-schema-edited")
def edit_complex_schema(rng: Random, batch: Batch) -> str | None:
    """Map keys that are not strings, Objects with no or repeated fields, Arrays where v2 forbids them."""
    holder = pick(rng, of_type(batch[0], "Property", "Telemetry"))
    if holder is None:
        return None
    schemas: list[Any] = [
        {
            "@type": "Map",
            "mapKey": {"name": "k", "schema": "integer"},
            "mapValue": {"name": "v", "schema": "string"},
        },
        {
            "@type": "Map",
            "mapKey": {"name": "k", "schema": "string"},
            "mapValue": {"name": "k", "schema": "string"},
        },
        {"@type": "Map", "mapKey": {"name": "k", "schema": "string"}},
        {"@type": "Object", "fields": []},
        {"@type": "Object", "fields": [{"name": "a", "schema": "double"}, {"name": "a", "schema": "string"}]},
        {
            "@type": "Object",
            "fields": [{"name": f"f{i}", "schema": "double"} for i in range(rng.choice((30, 31)))],
        },
        {"@type": "Array", "elementSchema": "double"},
        {"@type": "Array", "elementSchema": {"@type": "Array", "elementSchema": "string"}},
        {"@type": "Object", "fields": [{"name": "p", "schema": "point"}]},
    ]
    index = rng.randrange(len(schemas))
    holder["schema"] = schemas[index]
    return f"schema of {holder.get('name')!r} set to complex schema {index}"


@edit("schema-nested-deep")
def nest_schema(rng: Random, batch: Batch) -> str | None:
    """A schema wrapped in Objects, Maps and Arrays, up to and past the depth limit."""
    holder = pick(rng, of_type(batch[0], "Property", "Telemetry"))
    if holder is None:
        return None
    depth = rng.randrange(3, 11)
    schema: Any = holder.get("schema", "double")
    for level in range(depth):
        kind = rng.choice(("Object", "Map", "Array") if version_of(batch[0]) > 2 else ("Object", "Map"))
        if kind == "Object":
            schema = {"@type": "Object", "fields": [{"name": f"f{level}", "schema": schema}]}
        elif kind == "Map":
            schema = {
                "@type": "Map",
                "mapKey": {"name": "k", "schema": "string"},
                "mapValue": {"name": f"v{level}", "schema": schema},
            }
        else:
            schema = {"@type": "Array", "elementSchema": schema}
    holder["schema"] = schema
    return f"schema nested {depth} deep"


@edit("command-added")
def add_command(rng: Random, batch: Batch) -> str | None:
    """A Command with request and response, some of them written the v2 way or wrongly."""
    request: dict[str, Any] = {"name": "delay", "schema": rng.choice(("integer", "duration", "dobule"))}
    response: dict[str, Any] = {"name": rng.choice(("result", "delay")), "schema": "boolean"}
    command: dict[str, Any] = {"@type": "Command", "name": rng.choice(("reset", "reset-now", "calibrate"))}
    how = rng.randrange(6)
    if how == 1:
        command["commandType"] = "synchronous"
    elif how == 2:
        request["nullable"] = True
    elif how == 3:
        request["@type"] = "CommandPayload"
    elif how == 4:
        response["@type"] = "CommandResponse"
    elif how == 5:
        del request["schema"]
    command["request"] = request
    if rng.random() < 0.7:
        command["response"] = response
    add_content(batch[0], command)
    return f"added Command ({how})"


@edit("telemetry-added")
def add_telemetry(rng: Random, batch: Batch) -> str | None:
    """A Telemetry beside the Properties, now and then with what only a Property may have."""
    telemetry: dict[str, Any] = {"@type": "Telemetry", "name": rng.choice(("reading", "level", "temp"))}
    telemetry["schema"] = rng.choice(
        ("double", "float", "string", {"@type": "Array", "elementSchema": "double"})
    )
    if rng.random() < 0.3:
        telemetry["writable"] = True
    add_content(batch[0], telemetry)
    return "added Telemetry"


@edit("value-wrapped-in-array")
def wrap_value(rng: Random, batch: Batch) -> str | None:
    """A value put in an array, or in an array in an array (lists pasted together)."""
    choices = [(o, k) for o in objects(batch[0]) for k in o if k != "@context"]
    choice = pick(rng, choices)
    if choice is None:
        return None
    obj, key = choice
    obj[key] = [obj[key]] if rng.random() < 0.5 else [[obj[key]]]
    return f"{key} wrapped in an array"
