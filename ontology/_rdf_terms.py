"""The words the RDF bridge translates: DTDL schemas and XSD datatypes, our annotations, DTDL limits.

Kept apart from ``rdf`` so that the mapping tables, which a reader checks against the
specifications line by line, are in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import OWL, RDF, RDFS, XSD, Namespace, URIRef


@dataclass(frozen=True)
class Limits:
    """The DTDL limits of one version that an import must respect."""

    depth: int  # longest chain of extends
    direct: int | None  # values of one extends (v2)
    hierarchy: int | None  # Interfaces an Interface inherits from (v3, v4)
    contents: int  # contents including inherited ones
    name_length: int
    display_length: int


# Our annotation vocabulary; a DTMI namespace is one kgtwin can own without a web domain.
KGT = Namespace("dtmi:kgtwin:rdf:")

# DTDL primitive schema -> XSD datatype (DTDL v3 §Primitive schema, v4 adds the sized integers).
TO_XSD: dict[str, URIRef] = {
    "boolean": XSD.boolean,
    "date": XSD.date,
    "dateTime": XSD.dateTime,
    "double": XSD.double,
    "duration": XSD.duration,
    "float": XSD.float,
    "integer": XSD.int,  # DTDL integer is signed 32-bit
    "long": XSD.long,
    "string": XSD.string,
    "time": XSD.time,
    "byte": XSD.byte,
    "bytes": XSD.base64Binary,
    "decimal": XSD.decimal,
    "short": XSD.short,
    "uuid": XSD.string,
    "unsignedByte": XSD.unsignedByte,
    "unsignedInteger": XSD.unsignedInt,
    "unsignedLong": XSD.unsignedLong,
    "unsignedShort": XSD.unsignedShort,
}
GEO = ("point", "multiPoint", "lineString", "multiLineString", "polygon", "multiPolygon")
PRIMITIVES_V3 = frozenset(
    ["boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time", *GEO]
)
PRIMITIVES = {
    2: PRIMITIVES_V3,
    3: PRIMITIVES_V3,
    4: PRIMITIVES_V3
    | {"byte", "bytes", "decimal", "short", "uuid", "unsignedByte", "unsignedInteger", "unsignedLong"}
    | {"unsignedShort"},
}
# XSD datatype -> DTDL schema, with the v2/v3 fallback where v4 has the exact type.
FROM_XSD: dict[URIRef, tuple[str, str]] = {
    **{x: (d, d) for d, x in TO_XSD.items() if d in PRIMITIVES_V3},
    XSD.integer: ("long", "long"),  # unbounded in XSD: the widest DTDL integer
    XSD.nonNegativeInteger: ("long", "long"),
    XSD.positiveInteger: ("long", "long"),
    XSD.negativeInteger: ("long", "long"),
    XSD.nonPositiveInteger: ("long", "long"),
    XSD.short: ("short", "integer"),
    XSD.byte: ("byte", "integer"),
    XSD.unsignedByte: ("unsignedByte", "integer"),
    XSD.unsignedShort: ("unsignedShort", "integer"),
    XSD.unsignedInt: ("unsignedInteger", "long"),
    XSD.unsignedLong: ("unsignedLong", "long"),
    XSD.decimal: ("decimal", "double"),
    XSD.base64Binary: ("bytes", "string"),
    XSD.dateTimeStamp: ("dateTime", "dateTime"),
    XSD.dayTimeDuration: ("duration", "duration"),
    XSD.yearMonthDuration: ("duration", "duration"),
    **dict.fromkeys((XSD.normalizedString, XSD.token, XSD.anyURI, XSD.language), ("string", "string")),
    RDF.langString: ("string", "string"),
    RDFS.Literal: ("string", "string"),
}
BUILTIN_NAMESPACES = (str(OWL), str(RDF), str(RDFS), str(XSD))

# DTDL v2 §Interface: extends max 2 in set, depth 10, 300 contents including inherited.
# DTDL v3 §Interface: max 1024 Interfaces in hierarchy, depth 10, 100,000 elements; v4: depth 12.
LIMITS = {
    2: Limits(depth=10, direct=2, hierarchy=None, contents=300, name_length=64, display_length=64),
    3: Limits(depth=10, direct=None, hierarchy=1024, contents=100_000, name_length=512, display_length=512),
    4: Limits(depth=12, direct=None, hierarchy=1024, contents=100_000, name_length=512, display_length=512),
}
QUANTITATIVE = {3: "dtmi:dtdl:extension:quantitativeTypes;1", 4: "dtmi:dtdl:extension:quantitativeTypes;2"}
INTERFACE_ID_MAX = 128  # DTDL v3 §Digital Twin Model Identifier: an Interface's DTMI
