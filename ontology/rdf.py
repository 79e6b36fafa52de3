"""The RDF bridge: DTDL Interfaces out as OWL/RDFS, RDFS/OWL ontologies in as DTDL documents.

Knowledge-graph users arrive with an ontology (their own, Brick, REC) and leave with tools
that speak OWL. ``to_turtle`` writes the registry as OWL: an Interface is an ``owl:Class``,
``extends`` is ``rdfs:subClassOf``, a Relationship an ``owl:ObjectProperty`` with domain and
range, a Property or Telemetry an ``owl:DatatypeProperty`` with an XSD range. What OWL has
no word for (the DTDL name, kind, exact schema, unit, semantic type) travels as annotations
in the ``kgt:`` vocabulary, so that ``from_rdf`` can bring an exported model back unchanged.

``from_rdf`` goes the other way and returns DTDL documents that ``ontology.parse`` accepts
as they are: names and DTMIs are made legal, and the DTDL limits are kept by shaping the
hierarchy (``ontology._rdf_shape``); everything changed or left out is listed in ``RdfImport.dropped``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SKOS

from ontology._literals import _LANGUAGE as DTDL_LANGUAGE
from ontology._rdf_shape import ClassPlan, ContentPlan, ImportNote, shape
from ontology._rdf_terms import (
    BUILTIN_NAMESPACES,
    FROM_XSD,
    INTERFACE_ID_MAX,
    KGT,
    LIMITS,
    PRIMITIVES,
    QUANTITATIVE,
    TO_XSD,
    Limits,
)
from ontology.dtmi import dtmi_problem
from ontology.errors import BadRequest
from ontology.model import (
    Command,
    Component,
    EnumSchema,
    ModelSet,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from ontology.parser import parse_partial

__all__ = ["KGT", "ImportNote", "RdfImport", "from_rdf", "legal_name", "local_name", "to_graph", "to_turtle"]


# -- export -------------------------------------------------------------------------------------


def to_graph(models: ModelSet) -> Graph:
    """The Interfaces of ``models`` as an OWL ontology (each content once, on the Interface defining it)."""
    g = Graph()
    g.bind("owl", OWL)
    g.bind("kgt", KGT)
    for term in ("name", "kind", "schema", "unit", "semanticType", "writable", "maxMultiplicity"):
        g.add((KGT[term], RDF.type, OWL.AnnotationProperty))
    for iface in models.values():
        cls = URIRef(iface.dtmi)
        g.add((cls, RDF.type, OWL.Class))
        for parent in iface.extends:
            g.add((cls, RDFS.subClassOf, URIRef(parent)))
        _add_texts(g, cls, iface.display_name, iface.description)
        for content in iface.contents.values():
            # inherited contents are stated once, on the class that defines them; a Command is
            # an operation, not a fact about the class, and OWL has no place for it
            if content.defined_in == iface.dtmi and not isinstance(content, Command):
                _add_content(g, cls, content)
    return g


def _add_content(g: Graph, cls: URIRef, content: Property | Telemetry | Relationship | Component) -> None:
    prop = URIRef(content.dtmi)
    g.add((prop, RDFS.domain, cls))
    g.add((prop, KGT.name, Literal(content.name)))
    g.add((prop, KGT.kind, Literal(type(content).__name__)))
    _add_texts(g, prop, content.display_name, content.description)
    for cotype in content.cotypes:
        g.add((prop, KGT.semanticType, Literal(cotype)))
    if isinstance(content, Property | Relationship) and content.writable:
        g.add((prop, KGT.writable, Literal(True)))
    if isinstance(content, Relationship) and content.max_multiplicity is not None:
        g.add((prop, KGT.maxMultiplicity, Literal(content.max_multiplicity)))
        if content.max_multiplicity == 1:
            g.add((prop, RDF.type, OWL.FunctionalProperty))
    if isinstance(content, Relationship | Component):
        g.add((prop, RDF.type, OWL.ObjectProperty))
        target = content.target if isinstance(content, Relationship) else content.schema
        if target:
            g.add((prop, RDFS.range, URIRef(target)))
        return
    g.add((prop, RDF.type, OWL.DatatypeProperty))
    g.add((prop, RDFS.range, _xsd(content.schema)))
    if isinstance(content.schema, PrimitiveSchema):
        g.add((prop, KGT.schema, Literal(content.schema.kind)))
    if content.unit is not None:
        g.add((prop, KGT.unit, Literal(content.unit)))


def to_turtle(models: ModelSet) -> str:
    """The Interfaces of ``models`` as OWL in Turtle (see :func:`to_graph`)."""
    return to_graph(models).serialize(format="turtle")


def _xsd(schema: Schema) -> URIRef:
    if isinstance(schema, EnumSchema):
        return TO_XSD.get(schema.value_schema, XSD.string)
    if isinstance(schema, PrimitiveSchema):
        return TO_XSD.get(schema.kind, RDF.JSON)  # geospatial schemas are GeoJSON
    return RDF.JSON  # an Array, Map or Object value: its JSON text


def _add_texts(g: Graph, node: URIRef, labels: Any, comments: Any) -> None:
    for lang, text in labels.items():
        g.add((node, RDFS.label, Literal(text, lang=lang)))
    for lang, text in comments.items():
        g.add((node, RDFS.comment, Literal(text, lang=lang)))


# -- import -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RdfImport:
    """DTDL documents made from an ontology, and what could not be carried over (and why)."""

    documents: list[dict[str, Any]]
    dropped: list[ImportNote] = field(default_factory=list)


def from_rdf(
    source: Graph | str,
    *,
    namespace: str = "dtmi:imported",
    version: int = 3,
    only: Sequence[str] = (),
) -> RdfImport:
    """DTDL Interfaces for the classes of an RDFS/OWL ontology (a graph, or Turtle text).

    Every named class becomes an Interface (a class IRI that is already a DTMI keeps it,
    others get ``{namespace}:{local name};1``), ``rdfs:subClassOf`` becomes ``extends``,
    object properties with a domain become Relationships, datatype properties Properties.
    ``only`` keeps the classes whose IRI starts with one of these prefixes.
    """
    if version not in LIMITS:
        raise BadRequest(f"DTDL version {version} is not one of 2, 3, 4")
    if dtmi_problem(f"{namespace}:x;1", version) is not None:
        raise BadRequest(f"namespace {namespace!r} is not a DTMI prefix such as 'dtmi:com:example'")
    graph = _as_graph(source)
    notes: list[ImportNote] = []
    classes = _classes(graph, only)
    ids = _dtmis(classes, namespace, version, notes)
    plans: dict[str, ClassPlan] = {
        c: ClassPlan(ids[c], _texts(graph, c, LIMITS[version], notes)) for c in classes
    }
    for c in classes:
        for parent in sorted(graph.objects(c, RDFS.subClassOf), key=str):
            if not isinstance(parent, URIRef) or parent in (c, OWL.Thing):
                continue
            if parent in ids:
                plans[c].parents.append(parent)
            else:
                notes.append(
                    ImportNote(str(c), f"superclass {parent} is not imported; the extends is dropped")
                )
    _attach_properties(graph, ids, plans, version, notes)
    documents = [
        {"@context": _context(version, quantitative=any("unit" in c for c in doc.get("contents", ()))), **doc}
        for doc in shape(plans, LIMITS[version], notes)
    ]
    return RdfImport(documents, notes)


def _as_graph(source: Graph | str) -> Graph:
    if isinstance(source, Graph):
        return source
    graph = Graph()
    try:
        graph.parse(data=source, format="turtle")
    except Exception as exc:  # rdflib raises several unrelated types for bad Turtle
        raise BadRequest(f"not valid Turtle: {exc}") from exc
    return graph


def _classes(graph: Graph, only: Sequence[str]) -> list[URIRef]:
    found: set[Any] = set(graph.subjects(RDF.type, OWL.Class)) | set(graph.subjects(RDF.type, RDFS.Class))
    for sub, sup in graph.subject_objects(RDFS.subClassOf):
        found.update((sub, sup))
    return sorted(
        (
            c
            for c in found
            if isinstance(c, URIRef)
            and not str(c).startswith(BUILTIN_NAMESPACES)
            and (not only or str(c).startswith(tuple(only)))
        ),
        key=str,
    )


def local_name(iri: str) -> str:
    """The last segment of an IRI (after ``#``, else ``/``, else ``:``)."""
    for sep in ("#", "/", ":"):
        head, _, tail = iri.rstrip(sep).rpartition(sep)
        if head and tail:
            return tail
    return iri


def legal_name(text: str, max_length: int) -> str:
    """``text`` made a legal DTDL name or DTMI segment: letters, digits, ``_``; a letter first."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text)
    if not name[:1].isalpha() or not name[:1].isascii():
        name = "x" + name
    return name[:max_length].rstrip("_") or "x"


def _dtmis(classes: list[URIRef], namespace: str, version: int, notes: list[ImportNote]) -> dict[URIRef, str]:
    out: dict[URIRef, str] = {}
    taken: set[str] = set()
    for c in classes:
        iri = str(c)
        if len(iri) <= INTERFACE_ID_MAX and dtmi_problem(iri, version) is None:
            out[c] = iri
            taken.add(iri)
    room = INTERFACE_ID_MAX - len(namespace) - len(":;1") - len("_999")
    for c in classes:
        if c in out:
            continue
        base = f"{namespace}:{legal_name(local_name(str(c)), room)}"
        dtmi, n = f"{base};1", 1
        while dtmi in taken:
            n += 1
            dtmi = f"{base}_{n};1"
        if n > 1:
            notes.append(ImportNote(str(c), f"its name clashes with another class's: it becomes {dtmi}"))
        out[c] = dtmi
        taken.add(dtmi)
    return out


def _texts(graph: Graph, node: Any, limits: Limits, notes: list[ImportNote]) -> dict[str, dict[str, str]]:
    """``displayName`` and ``description`` from labels and comments: one per language, cut to the limit."""
    out: dict[str, dict[str, str]] = {}
    for key, preds, max_len in (
        ("displayName", (RDFS.label, SKOS.prefLabel), limits.display_length),
        ("description", (RDFS.comment, SKOS.definition), 512),  # DTDL v2/v3/v4: max 512 characters
    ):
        texts: dict[str, str] = {}
        for pred in preds:
            for lit in sorted(graph.objects(node, pred), key=str):
                if not isinstance(lit, Literal):
                    continue
                lang = lit.language or "en"
                if not DTDL_LANGUAGE.match(lang):
                    notes.append(
                        ImportNote(str(node), f"{key} in language {lang!r}: not a DTDL language code")
                    )
                elif lang not in texts:
                    texts[lang] = str(lit)[:max_len]
        if texts:
            out[key] = texts
    return out


def _members(graph: Graph, node: Any) -> list[Any]:
    """The named classes a domain or range stands for (an ``owl:unionOf`` lists several)."""
    if isinstance(node, BNode):
        union = graph.value(node, OWL.unionOf)
        return list(Collection(graph, union)) if union is not None else []
    return [node]


def _attach_properties(
    graph: Graph, ids: dict[URIRef, str], plans: dict[str, ClassPlan], version: int, notes: list[ImportNote]
) -> None:
    props: set[Any] = set(graph.subjects(RDFS.domain, None))
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property):
        props.update(graph.subjects(RDF.type, kind))
    for prop in sorted((p for p in props if isinstance(p, URIRef)), key=str):
        types = set(graph.objects(prop, RDF.type))
        if OWL.AnnotationProperty in types:
            continue
        domains = [m for d in graph.objects(prop, RDFS.domain) for m in _members(graph, d)]
        ranges = [m for r in graph.objects(prop, RDFS.range) for m in _members(graph, r)]
        is_link = OWL.ObjectProperty in types or (
            OWL.DatatypeProperty not in types and any(r in ids for r in ranges)
        )
        content = _content(graph, prop, is_link, ranges, ids, version, notes)
        kept = sorted({d for d in domains if d in ids}, key=str)
        for d in domains:
            if d not in ids:
                notes.append(
                    ImportNote(str(prop), f"domain {d} is not an imported class; not attached there")
                )
        if not domains:
            notes.append(ImportNote(str(prop), "has no rdfs:domain, so no class to attach it to"))
        for d in kept:
            plans[d].contents.append(content)


def _content(
    graph: Graph,
    prop: URIRef,
    is_link: bool,
    ranges: list[Any],
    ids: dict[URIRef, str],
    version: int,
    notes: list[ImportNote],
) -> ContentPlan:
    limits = LIMITS[version]
    annotated = graph.value(prop, KGT.name)
    name = legal_name(str(annotated) if annotated is not None else local_name(str(prop)), limits.name_length)
    doc: dict[str, Any] = {"name": name, **_texts(graph, prop, limits, notes)}
    if graph.value(prop, KGT.writable) == Literal(True):
        doc["writable"] = True
    if is_link:
        doc["@type"] = "Relationship"
        targets = sorted({ids[r] for r in ranges if r in ids})
        if len(targets) == 1:
            doc["target"] = targets[0]
        elif ranges and ranges != [OWL.Thing]:
            why = "has several ranges" if targets else "has no imported class as range"
            notes.append(ImportNote(str(prop), f"{why}; the Relationship may target any Interface"))
        # OWL §Functional properties: at most one value, i.e. DTDL maxMultiplicity 1.
        most = graph.value(prop, KGT.maxMultiplicity)
        if (prop, RDF.type, OWL.FunctionalProperty) in graph:
            doc["maxMultiplicity"] = 1
        elif isinstance(most, Literal) and isinstance(most.value, int) and most.value >= 1:
            doc["maxMultiplicity"] = most.value
        return ContentPlan(str(prop), doc)
    kind = str(graph.value(prop, KGT.kind) or "")
    doc["@type"] = "Telemetry" if kind == "Telemetry" else "Property"
    exact = str(graph.value(prop, KGT.schema) or "")
    if exact in PRIMITIVES[version]:
        doc["schema"] = exact
    else:
        schemas = {FROM_XSD[r][0 if version >= 4 else 1] for r in ranges if r in FROM_XSD}
        unknown = [r for r in ranges if r not in FROM_XSD]
        doc["schema"] = next(iter(schemas)) if len(schemas) == 1 and not unknown else "string"
        if unknown or len(schemas) > 1:
            notes.append(ImportNote(str(prop), f"range {', '.join(map(str, ranges))} is read as a string"))
    semantic = sorted(str(t) for t in graph.objects(prop, KGT.semanticType))
    unit = str(graph.value(prop, KGT.unit) or "")
    if len(semantic) == 1 and unit and _unit_allowed(version, doc["@type"], semantic[0], unit, doc["schema"]):
        doc["@type"] = [doc["@type"], semantic[0]]
        doc["unit"] = unit
    elif semantic or unit:
        notes.append(
            ImportNote(str(prop), f"semantic type {semantic} and unit {unit!r} are not valid DTDL here")
        )
    return ContentPlan(str(prop), doc)


@cache
def _unit_allowed(version: int, kind: str, semantic_type: str, unit: str, schema: str) -> bool:
    """Whether DTDL ``version`` accepts this semantic type, unit and schema together (asks the parser)."""
    doc = {
        "@context": _context(version, quantitative=True),
        "@id": "dtmi:kgtwin:rdf:Probe;1",
        "@type": "Interface",
        "contents": [{"@type": [kind, semantic_type], "name": "probe", "schema": schema, "unit": unit}],
    }
    return parse_partial([doc]).valid


def _context(version: int, *, quantitative: bool) -> str | list[str]:
    # QuantitativeTypes is part of DTDL v2; v3 and v4 bring it in as a feature extension.
    if quantitative and version in QUANTITATIVE:
        return [f"dtmi:dtdl:context;{version}", QUANTITATIVE[version]]
    return f"dtmi:dtdl:context;{version}"
