"""The DTDL metamodel, read from the official SHACL shapes shipped in ``dtdl_data/``.

Every structural rule the parser enforces (which classes exist, which properties each
class has, their cardinalities, datatypes, value ranges, patterns and length limits,
the depth and count limits of ``extends`` and of nested schemas) comes from these files,
so a rule follows the specification instead of somebody's memory of it. The files are
the machine-readable metamodel published with DTDL (Azure/opendigitaltwins-dtdl,
CC BY 4.0 / MIT, notices in ``dtdl_data/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from ontology._shapes import (
    ClassDef,
    DescendantRule,
    PropertyRule,
    Resolver,
    as_list,
    descendants,
    link,
    read_shapes,
    term_of,
)

__all__ = ["ClassDef", "DescendantRule", "Metamodel", "PropertyRule", "Universe", "universe"]

DTDL_VERSIONS = (2, 3, 4)

# Extension contexts per DTDL version: context DTMI -> (context file, SHACL file, elements file).
_EXTENSIONS: dict[int, dict[str, tuple[str | None, str, str | None]]] = {
    2: {
        "dtmi:iotcentral:context;2": (
            "DTDL.v2.iotcentral.context.json",
            "DTDL.v2.PartnerExtension.iotcentral.RDF-SHACL.json",
            "DTDL.v2.PartnerExtension.iotcentral.Elements.json",
        ),
    },
    3: {
        f"dtmi:dtdl:extension:{name};1": (
            f"DTDL.FeatureExtension.{name}.v1.context.json",
            f"DTDL.FeatureExtension.{name}.v1.RDF-SHACL.json",
            "DTDL.FeatureExtension.quantitativeTypes.v1.Elements.json"
            if name == "quantitativeTypes"
            else None,
        )
        for name in ("annotation", "historization", "mqtt", "overriding", "quantitativeTypes")
    },
    4: {
        **{
            f"dtmi:dtdl:extension:{name};{ver}": (
                f"DTDL.FeatureExtension.{name}.v{ver}.context.json",
                f"DTDL.FeatureExtension.{name}.v{ver}.RDF-SHACL.json",
                "DTDL.FeatureExtension.quantitativeTypes.v2.Elements.json"
                if name == "quantitativeTypes"
                else None,
            )
            for name, ver in (
                ("annotation", 2),
                ("historization", 2),
                ("mqtt", 2),
                ("mqtt", 3),
                ("overriding", 2),
                ("quantitativeTypes", 2),
                ("requirement", 1),
            )
        },
        "dtmi:dtdl:limits:onvif;1": (None, "DTDL.LimitExtension.onvif.v1.RDF-SHACL.json", None),
    },
}


@dataclass
class Extension:
    """A feature (or partner, or limit) extension that a ``@context`` can bring in."""

    context_id: str
    terms: dict[str, str]
    classes: list[str]


@dataclass
class Metamodel:
    """The metamodel of one DTDL version, with its extensions."""

    version: int
    context_id: str
    terms: dict[str, str]
    id_pattern: str
    id_max_length: int
    reserved_prefixes: tuple[str, ...]
    partition_max_bytes: int | None
    extensions: dict[str, Extension]
    # dtmm:apocrypha: which odd terms are tolerated as cotypes / properties, always or never.
    always_allow: dict[str, frozenset[str]] = field(default_factory=dict)
    never_allow: dict[str, frozenset[str]] = field(default_factory=dict)
    # dtmm:restrictKeywords: whether unknown JSON-LD keywords (@foo) are violations (v3, v4) or not (v2).
    restrict_keywords: bool = True


@dataclass
class Universe:
    """Every class, instance and version known to the parser, across DTDL 2, 3 and 4."""

    classes: dict[str, ClassDef]
    versions: dict[int, Metamodel]
    instances: dict[str, list[dict[str, Any]]]
    instance_types: dict[str, frozenset[str]]
    property_terms: dict[str, str]
    units: dict[str, frozenset[str]]
    # Limit extension context -> the classes with that extension's limits applied (DTDL v4 §Limits).
    limited: dict[str, dict[str, ClassDef]] = field(default_factory=dict)

    def classes_for(self, limits: str | None) -> dict[str, ClassDef]:
        """The classes in force under a limit extension (or the standard limits)."""
        return self.limited.get(limits or "", self.classes)


def _load(version: int, name: str) -> Any:
    text = resources.files("ontology").joinpath(f"dtdl_data/v{version}/{name}").read_text("utf-8-sig")
    return json.loads(text)


def _context_terms(ctx: dict[str, Any]) -> dict[str, str]:
    terms: dict[str, str] = {}
    for key, value in ctx.items():
        if key.startswith("@") or ":" in key:
            continue
        if isinstance(value, dict) and isinstance(value.get("@id"), str):
            terms[key] = value["@id"]
    return terms


@cache
def universe() -> Universe:
    """Load the metamodels of every supported DTDL version once per process."""
    classes: dict[str, ClassDef] = {}
    versions: dict[int, Metamodel] = {}
    instances: dict[str, list[dict[str, Any]]] = {}
    for v in DTDL_VERSIONS:
        base_terms = _context_terms(_load(v, f"DTDL.v{v}.context.json"))
        shacl = _load(v, f"DTDL.v{v}.ModelRDF-SHACL.json")
        read_shapes(shacl["@graph"], Resolver(base_terms), v, classes)
        glob = next(n for n in shacl["@graph"] if "dtmm:Global" in as_list(n.get("@type")))
        ident = glob["dtmm:identifier"]
        reserved = [p for p in ident.get("dtmm:reservedPrefix", []) if p]
        extensions: dict[str, Extension] = {}
        all_terms = {
            ctx_id: _context_terms(_load(v, files[0])) if files[0] else {}
            for ctx_id, files in _EXTENSIONS[v].items()
        }
        for ctx_id, (_, shacl_file, elements_file) in _EXTENSIONS[v].items():
            ext_terms = all_terms[ctx_id]
            before = set(classes)
            shacl_doc = _load(v, shacl_file)
            # A SHACL file's names resolve against every context it lists (Overriding uses Annotation's).
            terms = dict(base_terms)
            for listed in as_list(shacl_doc.get("@context")):
                terms.update(all_terms.get(listed, {}))
            read_shapes(shacl_doc["@graph"], Resolver(terms), v, classes)
            # Partner extensions reserve their own prefix too (IoT Central: dtmi:iotcentral:).
            for node in shacl_doc["@graph"]:
                if "dtmm:Global" in as_list(node.get("@type")) and ":limits:" not in ctx_id:
                    reserved += [
                        p for p in (node.get("dtmm:identifier") or {}).get("dtmm:reservedPrefix", []) if p
                    ]
            extensions[ctx_id] = Extension(ctx_id, ext_terms, sorted(set(classes) - before))
            if elements_file:
                for element in as_list(_load(v, elements_file)):
                    instances[element["@id"]] = [element]
        instances[f"dtdl:v{v}"] = as_list(_load(v, f"DTDL.v{v}.ModelElements.json"))
        versions[v] = Metamodel(
            version=v,
            context_id=f"dtmi:dtdl:context;{v}",
            terms=base_terms,
            id_pattern=ident["sh:pattern"],
            id_max_length=int(ident["sh:maxLength"]),
            reserved_prefixes=tuple(dict.fromkeys(reserved)),
            partition_max_bytes=(glob.get("dtmm:partition") or {}).get("dtmm:maxBytes"),
            extensions=extensions,
            always_allow=_apocrypha(glob, "dtmm:alwaysAllow"),
            never_allow=_apocrypha(glob, "dtmm:neverAllow"),
            restrict_keywords=bool(glob.get("dtmm:restrictKeywords", True)),
        )
    _add_v2_semantic_types(classes, versions[2])
    link(classes)
    instance_types = _instance_types(classes, versions, instances)
    _share_extensions(versions)
    property_terms = {r.iri: r.term for c in classes.values() for r in c.rules.values()}
    limited = {
        ctx: _limited_classes(classes, _load(4, shacl_file)["@graph"], Resolver(versions[4].terms))
        for ctx, (ctx_file, shacl_file, _) in _EXTENSIONS[4].items()
        if ctx_file is None
    }
    return Universe(
        classes, versions, instances, instance_types, property_terms, _units(instances, versions), limited
    )


def _share_extensions(versions: dict[int, Metamodel]) -> None:
    """Every feature and partner extension is known whatever DTDL version names its context.

    A context with a definition makes a model complete (DTDL v2 §Model completeness);
    whether an extension's types apply to an element is then decided by each type's
    ``sh:or``, which names exact class versions: Historization v1 in a v2 Interface is a
    known context whose ``Historized`` fits no v2 Property, and the IoT Central schemas
    serve v3 and v4 Properties too. Microsoft's DTDLParser reads contexts the same way.
    Limit contexts stay with DTDL v4, the only version that has limits.
    """
    shared: dict[str, Extension] = {}
    for mm in versions.values():
        shared.update({k: v for k, v in mm.extensions.items() if ":limits:" not in k})
    for mm in versions.values():
        mm.extensions.update({k: v for k, v in shared.items() if k not in mm.extensions})


def _limited_classes(
    classes: dict[str, ClassDef], graph: list[dict[str, Any]], res: Resolver
) -> dict[str, ClassDef]:
    """Copy of ``classes`` with a limit extension's identifier, length and depth limits applied."""
    out = {
        iri: replace(c, rules=dict(c.rules), descendants=list(c.descendants)) for iri, c in classes.items()
    }
    for node in graph:
        if "rdfs:Class" in as_list(node.get("@type")) or node["@id"] not in classes:
            continue
        base = res(node["@id"])
        subclasses = [c for c in out.values() if base in c.supers]
        ident = (node.get("dtmm:identifier") or {}).get("sh:maxLength")
        lengths = {
            term_of(res(p["sh:path"])): p["sh:maxLength"]
            for p in as_list(node.get("sh:property"))
            if "sh:maxLength" in p
        }
        new_desc = descendants(node.get("dtmm:descendants"), res)
        for cls in subclasses:
            if ident is not None:
                cls.id_max_length = ident
            for iri, r in list(cls.rules.items()):
                if r.term in lengths:
                    cls.rules[iri] = replace(r, max_length=lengths[r.term])
            for d in new_desc:
                cls.descendants = [
                    replace(old, max_depth=d.max_depth, max_count=d.max_count)
                    if set(old.properties) == set(d.properties)
                    else old
                    for old in cls.descendants
                ]
    return out


def _add_v2_semantic_types(classes: dict[str, ClassDef], mm: Metamodel) -> dict[str, frozenset[str]]:
    """DTDL v2 §Semantic Type: the semantic types and units live in the v2 context only.

    The v2 chart of semantic types, unit types and units is the one QuantitativeTypes v1
    publishes as metamodel (checked name by name), so each ``dtmi:standard:class:*;2``
    semantic type becomes a cotype allowed where ``SemanticType;2`` is, requiring a
    ``unit`` of its unit type and a numeric schema. Returns unit DTMI -> unit types.
    The SHACL shape of ``SemanticType;2`` also lists Relationship, but the chart's types
    "can be applied to Properties and Telemetries" (v2 §Semantic Type), and only there.
    """
    semantic = classes["dtmi:dtdl:class:SemanticType;2"]
    qt1 = {c.term: c for c in classes.values() if ":quantitativeTypes:v1:class:" in c.iri}
    for term, iri in mm.terms.items():
        if not iri.startswith("dtmi:standard:class:") or iri in classes:
            continue
        is_unit = term.endswith(("Unit", "Prefix"))
        unit_type = (
            next((r.child_of for r in qt1[term].own_rules if r.child_of), None) if term in qt1 else None
        )
        rules = [
            PropertyRule(
                iri="dtmi:dtdl:property:unit;2",
                term="unit",
                min_count=1,
                max_count=1,
                child_of=f"v2:{term_of(unit_type or term)}",
            ),
            PropertyRule(
                iri="dtmi:dtdl:property:schema;2", term="schema", classes=("dtmi:dtdl:class:NumericSchema;2",)
            ),
        ]
        classes[iri] = ClassDef(
            iri=iri,
            term=term,
            version=2,
            abstract=is_unit,
            direct_supers=[] if is_unit else [semantic.iri],
            own_rules=[] if is_unit else rules,
            cotype_of=("dtmi:dtdl:class:Property;2", "dtmi:dtdl:class:Telemetry;2"),
        )
    return {}


def _apocrypha(glob: dict[str, Any], key: str) -> dict[str, frozenset[str]]:
    spec = (glob.get("dtmm:apocrypha") or {}).get(key) or {}
    return {
        where: frozenset(v.removeprefix("dtmm:") for v in as_list(spec.get(f"dtmm:{where}")))
        for where in ("asCotype", "asProperty")
    }


def _units(
    instances: dict[str, list[dict[str, Any]]], versions: dict[int, Metamodel]
) -> dict[str, frozenset[str]]:
    """Unit (and prefix) DTMI -> the unit enums it belongs to (QuantitativeTypes §Units)."""
    parents: dict[str, set[str]] = {}
    for key, elements in instances.items():
        if key.startswith("dtdl:v"):
            continue
        for enum in elements:
            for value in as_list(enum.get("enumValues")):
                parents.setdefault(value["@id"], set()).add(enum["@id"])
    # DTDL v2 declares its units in the context only (dtmi:standard:unit:*;2); their unit
    # types are those of the same units in QuantitativeTypes v1 (see _add_v2_semantic_types).
    by_name: dict[str, set[str]] = {}
    for iri, enums in parents.items():
        if ":quantitativeTypes:v1:unit" in iri:
            by_name.setdefault(term_of(iri), set()).update(f"v2:{term_of(e)}" for e in enums)
    for term, iri in versions[2].terms.items():
        if iri.startswith(("dtmi:standard:unit:", "dtmi:standard:unitprefix:")):
            parents.setdefault(iri, set()).update(by_name.get(term, set()))
    return {k: frozenset(v) for k, v in parents.items()}


def _instance_types(
    classes: dict[str, ClassDef], versions: dict[int, Metamodel], instances: dict[str, list[dict[str, Any]]]
) -> dict[str, frozenset[str]]:
    """The classes of every built-in schema (``boolean``, ``string``, ..., geospatial, IoT Central)."""
    out: dict[str, frozenset[str]] = {}
    for v, mm in versions.items():
        for element in instances[f"dtdl:v{v}"]:
            types = [mm.terms.get(t, t) for t in as_list(element.get("@type")) if t != "Alias"]
            out[element["@id"]] = frozenset(s for t in types for s in classes[t].supers)
        # The geospatial schemas (GeoJSON objects) and v4 scaledDecimal are standard Objects
        # named by the context only (DTDL v3 §Geospatial schemas, v4 §Scaled Decimal Schema).
        for iri in mm.terms.values():
            if iri.startswith("dtmi:standard:schema:"):
                out[iri] = classes[f"dtmi:dtdl:class:Object;{v}"].supers
    for key, elements in instances.items():
        for element in elements:
            if key.startswith("dtmi:iotcentral:"):
                out[key] = classes[f"dtmi:dtdl:class:{element['@type']};2"].supers
            elif element.get("@type") == "Enum":
                # QuantitativeTypes §Unit types: a unit type (TemperatureUnit) is an Enum that a
                # Property may take as its schema (Overriding §Override examples). Extensions are
                # shared by DTDL 3 and 4, so the Enum is a schema of either.
                out[key] = classes["dtmi:dtdl:class:Enum;3"].supers | classes["dtmi:dtdl:class:Enum;4"].supers
    return out
