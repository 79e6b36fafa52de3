"""The flattened view of a registered model: what a client needs without chasing references.

A modeler writes ``extends`` and named schemas so as not to repeat themselves; a client
building a form or a simulation wants the opposite: every content of the Interface,
inherited ones included, each with its schema written out in full. ``ResolvedModel``
is that view, and ``to_dict`` its JSON shape (DTDL keywords, so it reads like a model).
The same schema rendering, without identifiers, is how model evolution decides whether
a property was retyped: two schemas are the same type when they render the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ontology.model import (
    AnyContent,
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    EnumSchema,
    Interface,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)


@dataclass(frozen=True)
class ResolvedModel:
    """A registered Interface with everything it inherits, its ancestors and its registry state.

    ``ancestors`` are the Interfaces it extends, transitively, nearest first;
    ``interface.contents`` already holds every content, inherited ones included.
    """

    interface: Interface
    ancestors: tuple[Interface, ...]
    decommissioned: bool

    @property
    def dtmi(self) -> str:
        return self.interface.dtmi

    def to_dict(self) -> dict[str, Any]:
        """The flattened model as JSON data: contents with inline schemas, ancestors by DTMI."""
        iface = self.interface
        data: dict[str, Any] = {
            "@id": iface.dtmi,
            "@type": ["Interface", *iface.cotypes],
            "dtdlVersion": iface.dtdl_version,
            "extends": list(iface.extends),
            "ancestors": list(iface.ancestors),
            "decommissioned": self.decommissioned,
            "contents": [content_json(c) for c in iface.contents.values()],
        }
        _texts(data, iface.display_name, iface.description)
        return data


def schema_json(schema: Schema, *, ids: bool = True) -> str | dict[str, Any]:
    """A schema written out in full; a self-referential schema (DTDL v4) refers to itself by DTMI.

    With ``ids=False`` the identifiers are left out, so that two schemas of the same
    shape defined in different model versions render equal.
    """
    return _Renderer(ids).schema(schema)


def content_json(content: AnyContent) -> dict[str, Any]:
    """One content of an Interface as JSON data, with ``definedIn`` naming where it was declared."""
    render = _Renderer(ids=True)
    kind = type(content).__name__
    data: dict[str, Any] = {
        "@id": content.dtmi,
        "@type": [kind, *content.cotypes],
        "name": content.name,
        "definedIn": content.defined_in,
    }
    _texts(data, content.display_name, content.description)
    if isinstance(content, Property | Telemetry):
        data["schema"] = render.schema(content.schema)
        if content.unit is not None:
            data["unit"] = content.unit
        if isinstance(content, Property):
            data["writable"] = content.writable
    elif isinstance(content, Relationship):
        if content.target is not None:
            data["target"] = content.target
        data["minMultiplicity"] = content.min_multiplicity
        data["writable"] = content.writable
        if content.max_multiplicity is not None:
            data["maxMultiplicity"] = content.max_multiplicity
        data["properties"] = [content_json(p) for p in content.properties]
    elif isinstance(content, Component):
        data["schema"] = content.schema
    elif isinstance(content, Command):
        for key, payload in (("request", content.request), ("response", content.response)):
            if payload is not None:
                data[key] = _payload(render, payload)
    return data


def _payload(render: _Renderer, payload: CommandPayload) -> dict[str, Any]:
    data: dict[str, Any] = {"name": payload.name, "schema": render.schema(payload.schema)}
    if payload.nullable:
        data["nullable"] = True
    return data


def _texts(data: dict[str, Any], display_name: Any, description: Any) -> None:
    if display_name:
        data["displayName"] = dict(display_name)
    if description:
        data["description"] = dict(description)


class _Renderer:
    """Renders schemas depth first, remembering the ones being rendered to stop at a cycle."""

    def __init__(self, ids: bool) -> None:
        self._ids = ids
        self._open: set[int] = set()

    def schema(self, schema: Schema) -> str | dict[str, Any]:
        if isinstance(schema, PrimitiveSchema):
            return schema.kind
        if id(schema) in self._open:
            return schema.dtmi
        self._open.add(id(schema))
        try:
            data = self._complex(schema)
        finally:
            self._open.discard(id(schema))
        if self._ids and schema.dtmi:
            data = {"@id": schema.dtmi, **data}
        return data

    def _complex(self, schema: ArraySchema | EnumSchema | MapSchema | ObjectSchema) -> dict[str, Any]:
        if isinstance(schema, ArraySchema):
            return {"@type": "Array", "elementSchema": self.schema(schema.element)}
        if isinstance(schema, EnumSchema):
            values = [{"name": v.name, "enumValue": v.value} for v in schema.values]
            return {"@type": "Enum", "valueSchema": schema.value_schema, "enumValues": values}
        if isinstance(schema, MapSchema):
            return {
                "@type": "Map",
                "mapKey": {"name": schema.key_name, "schema": "string"},
                "mapValue": {"name": schema.value_name, "schema": self.schema(schema.value)},
            }
        fields = []
        for f in schema.fields:
            field: dict[str, Any] = {"name": f.name, "schema": self.schema(f.schema)}
            if f.required:
                field["required"] = True
            fields.append(field)
        return {"@type": "Object", "fields": fields}
