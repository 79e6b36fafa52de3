"""SHACL shapes of the DTDL metamodel: classes, their property rules and descendant limits.

Reads the ``sh:NodeShape`` nodes of a ``*.RDF-SHACL.json`` file into :class:`ClassDef`
objects and links them (``rdfs:subClassOf``), so that each class carries the merged
rules of its ancestors. Names inside a SHACL file are expanded with :class:`Resolver`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PropertyRule:
    """One ``sh:property`` shape: what a class allows for one of its properties."""

    iri: str
    term: str
    min_count: int = 0
    max_count: int | None = None
    literal: bool = False
    iri_only: bool = False
    datatype: str | None = None
    classes: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_desc: str | None = None
    max_length: int | None = None
    min_inclusive: int | None = None
    max_inclusive: int | None = None
    unique_lang: bool = False
    unique_properties: tuple[str, ...] = ()
    type_inferable: bool = False
    child_of: str | None = None
    unique_value: bool = False


@dataclass(frozen=True)
class DescendantRule:
    """A ``dtmm:descendants`` restriction: depth, count or excluded type along some properties."""

    properties: tuple[str, ...]
    narrow: bool = False
    max_depth: int | None = None
    max_count: int | None = None
    allow_self: bool = False
    exclude_type: str | None = None
    import_properties: tuple[str, ...] = ()
    datatype_property: str | None = None


@dataclass
class ClassDef:
    """A metamodel class (``Interface``, ``Property``, a semantic type, ...)."""

    iri: str
    term: str
    version: int
    abstract: bool = False
    material: bool = False
    partition: bool = False
    extensible: bool = False
    direct_supers: list[str] = field(default_factory=list)
    supers: frozenset[str] = frozenset()
    own_rules: list[PropertyRule] = field(default_factory=list)
    rules: dict[str, PropertyRule] = field(default_factory=dict)
    cotype_of: tuple[str, ...] = ()
    requires_cotypes: tuple[str, ...] = ()
    # sh:not on an adjunct type: cotypes it cannot be combined with (NormalResult with Required).
    excludes_cotypes: tuple[str, ...] = ()
    # sh:inversePath shapes: (property, class the parent must have, only one such child per parent).
    inverse: tuple[tuple[str, str, bool], ...] = ()
    id_max_length: int | None = None
    descendants: list[DescendantRule] = field(default_factory=list)
    siblings: list[dict[str, Any]] = field(default_factory=list)
    instance: dict[str, Any] = field(default_factory=dict)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def term_of(iri: str) -> str:
    tail = iri.rsplit(":", 1)[-1]
    return tail.split(";", 1)[0]


class Resolver:
    """Expands the short names used inside a SHACL file against that file's own context."""

    def __init__(self, terms: dict[str, str]) -> None:
        self.terms = terms

    def __call__(self, name: str) -> str:
        if name.startswith(("dtmi:", "http", "sh:", "xsd:", "rdf:", "rdfs:", "dtmm:")):
            return name
        return self.terms.get(name, name)


def _classes_of(spec: Any, res: Resolver) -> tuple[str, ...]:
    out: list[str] = []
    if isinstance(spec, dict):
        if "sh:class" in spec:
            out.append(res(spec["sh:class"]))
        for alt in as_list(spec.get("sh:or")):
            out.extend(_classes_of(alt, res))
    return tuple(out)


def _rule(shape: dict[str, Any], res: Resolver) -> PropertyRule:
    path = res(shape["sh:path"])
    desc = shape.get("dtmm:patternDesc")
    node_kind = shape.get("sh:nodeKind")
    return PropertyRule(
        iri=path,
        term=term_of(path),
        min_count=int(shape.get("sh:minCount", 0)),
        max_count=shape.get("sh:maxCount"),
        literal=node_kind == "sh:Literal" or "sh:datatype" in shape,
        iri_only=node_kind == "sh:IRI",
        datatype=shape.get("sh:datatype"),
        classes=_classes_of(shape, res),
        allowed=tuple(res(v) for v in as_list(shape.get("sh:in"))),
        pattern=shape.get("sh:pattern"),
        pattern_desc=desc.get("en-US") if isinstance(desc, dict) else None,
        max_length=shape.get("sh:maxLength"),
        min_inclusive=shape.get("sh:minInclusive"),
        max_inclusive=shape.get("sh:maxInclusive"),
        unique_lang=bool(shape.get("sh:uniqueLang", False)),
        unique_properties=tuple(term_of(res(p)) for p in as_list(shape.get("dtmm:uniqueProperties"))),
        type_inferable=bool(shape.get("dtmm:typeInferable", False)),
        child_of=res(shape["dtmm:childOf"]) if "dtmm:childOf" in shape else None,
        unique_value=bool(shape.get("dtmm:uniqueValue", False)),
    )


def _merge_rule(base: PropertyRule, over: PropertyRule) -> PropertyRule:
    """A subclass shape narrows the inherited one (``sh:path`` given again with more facets)."""
    changes: dict[str, Any] = {}
    for name in PropertyRule.__dataclass_fields__:
        value = getattr(over, name)
        default = PropertyRule.__dataclass_fields__[name].default
        if name in ("iri", "term") or value == default:
            continue
        changes[name] = value
    return PropertyRule(**{**base.__dict__, **changes})


def descendants(spec: Any, res: Resolver) -> list[DescendantRule]:
    out = []
    for d in as_list(spec):
        out.append(
            DescendantRule(
                properties=tuple(term_of(res(p)) for p in as_list(d.get("dtmm:properties"))),
                narrow=bool(d.get("dtmm:narrow", False)),
                max_depth=d.get("dtmm:maxDepth"),
                max_count=d.get("dtmm:maxCount"),
                allow_self=bool(d.get("dtmm:allowSelf", False)),
                exclude_type=term_of(res(d["dtmm:excludeType"])) if "dtmm:excludeType" in d else None,
                import_properties=tuple(term_of(res(p)) for p in as_list(d.get("dtmm:importProperties"))),
                datatype_property=term_of(res(d["dtmm:datatypeProperty"]))
                if "dtmm:datatypeProperty" in d
                else None,
            )
        )
    return out


def read_shapes(
    graph: list[dict[str, Any]], res: Resolver, version: int, classes: dict[str, ClassDef]
) -> None:
    for node in graph:
        types = as_list(node.get("@type"))
        iri = res(node["@id"])
        if "rdfs:Class" not in types:
            continue  # limit extensions restate existing classes: see _limited_classes
        cls = ClassDef(
            iri=iri,
            term=term_of(iri),
            version=int(node.get("dtmm:dtdlVersion", version)),
            abstract="dtmm:Abstract" in types,
            material="dtmm:Material" in types,
            partition="dtmm:Partition" in types,
            extensible="dtmm:Extensible" in types,
            direct_supers=[res(s) for s in as_list(node.get("rdfs:subClassOf"))],
            own_rules=[
                _rule(s, res) for s in as_list(node.get("sh:property")) if isinstance(s.get("sh:path"), str)
            ],
            cotype_of=_classes_of({"sh:or": node.get("sh:or", [])}, res),
            requires_cotypes=tuple(c for a in as_list(node.get("sh:and")) for c in _classes_of(a, res)),
            excludes_cotypes=tuple(c for a in as_list(node.get("sh:not")) for c in _classes_of(a, res)),
            inverse=tuple(
                (
                    term_of(res(s["sh:path"]["sh:inversePath"])),
                    res(s["sh:class"]),
                    bool(s.get("dtmm:onlyOne")),
                )
                for s in as_list(node.get("sh:property"))
                if isinstance(s.get("sh:path"), dict) and "sh:inversePath" in s["sh:path"] and "sh:class" in s
            ),
            id_max_length=(node.get("dtmm:identifier") or {}).get("sh:maxLength"),
            descendants=descendants(node.get("dtmm:descendants"), res),
            siblings=as_list(node.get("dtmm:siblings")),
            instance=node.get("dtmm:instance") or {},
        )
        classes[iri] = cls


def link(classes: dict[str, ClassDef]) -> None:
    def supers(iri: str, seen: frozenset[str]) -> frozenset[str]:
        cls = classes.get(iri)
        if cls is None or iri in seen:
            return frozenset({iri})
        out = {iri}
        for s in cls.direct_supers:
            out |= supers(s, seen | {iri})
        return frozenset(out)

    for cls in classes.values():
        cls.supers = supers(cls.iri, frozenset())
    for cls in classes.values():
        chain = sorted(cls.supers, key=lambda s: len(supers(s, frozenset())))
        rules: dict[str, PropertyRule] = {}
        for s in chain:
            for r in classes[s].own_rules if s in classes else []:
                rules[r.iri] = _merge_rule(rules[r.iri], r) if r.iri in rules else r
        cls.rules = rules
        if not cls.cotype_of:
            for s in chain:
                if s in classes and classes[s].cotype_of:
                    cls.cotype_of = classes[s].cotype_of
        if not cls.descendants:
            for s in chain:
                if s in classes and classes[s].descendants:
                    cls.descendants = classes[s].descendants
        if cls.id_max_length is None:
            for s in chain:
                if s in classes and classes[s].id_max_length:
                    cls.id_max_length = classes[s].id_max_length
