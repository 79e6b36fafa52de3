"""Third pass: turn the checked element graph into the public model (``model.py``)."""

from __future__ import annotations

from typing import Any

from ontology._nodes import Literal, Node, Ref
from ontology._semantics import Checker
from ontology.dtmi import short_name
from ontology.model import (
    AnyContent,
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)


def _lang(node: Node, term: str) -> dict[str, str]:
    return {
        v.lang or "en": v.value for v in node.values(term) if isinstance(v, Literal) and v.lang is not None
    }


def _display(name: Any) -> dict[str, str]:
    """A metamodel element's ``displayName``: a plain string (English) or a language map."""
    if isinstance(name, str):
        return {"en": name}
    return dict(name) if isinstance(name, dict) else {}


class Builder:
    """Builds :class:`Interface` objects from nodes that passed the checks."""

    def __init__(self, checker: Checker) -> None:
        self.c = checker
        self._schemas: dict[int, Schema] = {}
        # Inherited contents are shared by every Interface below them: build each once.
        self._contents: dict[int, AnyContent | None] = {}

    def cotypes(self, node: Node) -> tuple[str, ...]:
        return tuple(short_name(c) for c in node.cotypes)

    def schema(self, value: Node | Ref | Literal | None) -> Schema:
        target = self.c.target_of(value) if value is not None else None
        if target is None:
            return PrimitiveSchema("unknown", "")
        node = target.node
        if node is None:
            return self._builtin(target.iri)
        cached = self._schemas.get(id(node))
        if cached is not None:
            return cached
        kind = short_name(node.material or "")
        if kind == "Array":
            arr = ArraySchema(node.id)
            self._schemas[id(node)] = arr
            arr.element = self.schema(_first(node, "elementSchema"))
            return arr
        if kind == "Enum":
            vs = _first(node, "valueSchema")
            values = tuple(
                EnumValue(v.name() or "", v.literal("enumValue"), v.id, _lang(v, "displayName"))
                for v in self.c.children(node, "enumValues")
            )
            enum = EnumSchema(node.id, short_name(vs.target) if isinstance(vs, Ref) else "string", values)
            self._schemas[id(node)] = enum
            return enum
        if kind == "Map":
            mp = MapSchema(node.id)
            self._schemas[id(node)] = mp
            key = next(self.c.children(node, "mapKey"), None)
            val = next(self.c.children(node, "mapValue"), None)
            mp.key_name = key.name() or "" if key else ""
            mp.value_name = val.name() or "" if val else ""
            mp.value = self.schema(_first(val, "schema")) if val else PrimitiveSchema("unknown", "")
            return mp
        if kind == "Object":
            obj = ObjectSchema(node.id)
            self._schemas[id(node)] = obj
            obj.fields = tuple(
                Field(
                    f.name() or "",
                    self.schema(_first(f, "schema")),
                    f.id,
                    any(short_name(c) == "Required" for c in f.cotypes),
                    _lang(f, "displayName"),
                )
                for f in self.c.children(node, "fields")
            )
            return obj
        return PrimitiveSchema(kind, node.id)

    def _builtin(self, iri: str) -> Schema:
        """A schema the metamodel defines: a primitive, or an extension's Enum (a unit type)."""
        element = next(iter(self.c.u.instances.get(iri, ())), None)
        if element is None or element.get("@type") != "Enum":
            return PrimitiveSchema(short_name(iri), iri)
        values = tuple(
            EnumValue(v["name"], v["enumValue"], v["@id"], _display(v.get("displayName")))
            for v in element.get("enumValues", ())
        )
        return EnumSchema(iri, element.get("valueSchema", "string"), values)

    def content(self, node: Node) -> AnyContent | None:
        if id(node) not in self._contents:
            self._contents[id(node)] = self._content(node)
        return self._contents[id(node)]

    def _content(self, node: Node) -> AnyContent | None:
        kind = short_name(node.material or "")
        owner = node.parent.id if node.parent is not None else node.id
        common: dict[str, Any] = {
            "name": node.name() or "",
            "dtmi": node.id,
            "defined_in": owner,
            "display_name": _lang(node, "displayName"),
            "description": _lang(node, "description"),
            "cotypes": self.cotypes(node),
        }
        unit = _first(node, "unit")
        unit_name = short_name(unit.target) if isinstance(unit, Ref) else None
        if kind == "Property":
            return Property(
                **common,
                schema=self.schema(_first(node, "schema")),
                writable=node.literal("writable") is True,
                unit=unit_name,
            )
        if kind == "Telemetry":
            return Telemetry(**common, schema=self.schema(_first(node, "schema")), unit=unit_name)
        if kind == "Relationship":
            target = _first(node, "target")
            return Relationship(
                **common,
                target=target.target if isinstance(target, Ref) else None,
                min_multiplicity=_int(node.literal("minMultiplicity"), 0) or 0,
                max_multiplicity=_int(node.literal("maxMultiplicity"), None),
                writable=node.literal("writable") is True,
                properties=tuple(
                    p
                    for p in map(self.content, self.c.children(node, "properties"))
                    if isinstance(p, Property)
                ),
            )
        if kind == "Component":
            schema = next(self.c.children(node, "schema"), None)
            ref = _first(node, "schema")
            dtmi = schema.id if schema is not None else (ref.target if isinstance(ref, Ref) else "")
            return Component(**common, schema=dtmi)
        if kind == "Command":
            return Command(
                **common, request=self.payload(node, "request"), response=self.payload(node, "response")
            )
        return None

    def payload(self, node: Node, term: str) -> CommandPayload | None:
        p = next(self.c.children(node, term), None)
        if p is None:
            return None
        return CommandPayload(p.name() or "", self.schema(_first(p, "schema")), p.literal("nullable") is True)

    def interface(self, node: Node) -> Interface:
        contents: dict[str, AnyContent] = {}
        for content_node in self.c.all_contents(node):
            content = self.content(content_node)
            if content is not None and content.name not in contents:
                contents[content.name] = content
        ancestors = [a.id for a in self.c.ancestors(node)]
        comment = node.literal("comment")
        return Interface(
            dtmi=node.id,
            dtdl_version=node.version,
            extends=tuple(p.id for p in self.c.children(node, "extends")),
            ancestors=tuple(ancestors),
            contents=contents,
            schemas=tuple(self.schema(v) for v in node.values("schemas")),
            display_name=_lang(node, "displayName"),
            description=_lang(node, "description"),
            comment=comment if isinstance(comment, str) else None,
            cotypes=self.cotypes(node),
        )


def _first(node: Node | None, term: str) -> Node | Ref | Literal | None:
    if node is None:
        return None
    values = node.values(term)
    return values[0] if values else None


def _int(value: object, default: int | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
