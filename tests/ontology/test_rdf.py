"""The RDF bridge: DTDL out as OWL and back, RDFS/OWL and Brick in as DTDL that parses."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef

from ontology import BadRequest, ModelSet, parse
from ontology.brick import brick_graph, brick_interfaces, brick_versions
from ontology.rdf import KGT, RdfImport, from_rdf, to_graph, to_turtle
from tests.ontology.conftest import interface

EX = Namespace("http://example.org/building#")
# A plain Namespace: rdflib's closed XSD namespace warns when pytest probes module globals.
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
QUANTITATIVE = {3: "dtmi:dtdl:extension:quantitativeTypes;1", 4: "dtmi:dtdl:extension:quantitativeTypes;2"}


def _model(version: int = 3) -> ModelSet:
    """A small building: Space <- Room <- MeetingRoom (which also extends Bookable), Sensor."""
    quantitative = {
        3: "dtmi:dtdl:extension:quantitativeTypes;1",
        4: "dtmi:dtdl:extension:quantitativeTypes;2",
    }
    context: Any = [f"dtmi:dtdl:context;{version}", quantitative[version]] if version > 2 else None
    space = interface(
        "dtmi:com:example:Space;1",
        {"@type": "Property", "name": "label", "schema": "string", "writable": True},
        {"@type": ["Property", "Area"], "name": "area", "schema": "double", "unit": "squareMetre"},
        version=version,
        displayName={"en": "Space", "fr": "Espace"},
    )
    if context is not None:
        space["@context"] = context
    room = interface(
        "dtmi:com:example:Room;1",
        {"@type": "Relationship", "name": "hasSensor", "target": "dtmi:com:example:Sensor;1"},
        {"@type": "Relationship", "name": "adjacentTo", "maxMultiplicity": 6},
        {
            "@type": "Relationship",
            "name": "inFloor",
            "target": "dtmi:com:example:Space;1",
            "maxMultiplicity": 1,
        },
        {"@type": "Property", "name": "capacity", "schema": "integer"},
        {"@type": "Property", "name": "opened", "schema": "date"},
        version=version,
        extends="dtmi:com:example:Space;1",
    )
    bookable = interface(
        "dtmi:com:example:Bookable;1",
        {"@type": "Property", "name": "bookedUntil", "schema": "dateTime"},
        version=version,
    )
    meeting = interface(
        "dtmi:com:example:MeetingRoom;1",
        {"@type": "Property", "name": "hasScreen", "schema": "boolean"},
        version=version,
        extends=["dtmi:com:example:Room;1", "dtmi:com:example:Bookable;1"],
    )
    sensor = interface(
        "dtmi:com:example:Sensor;1",
        {"@type": "Telemetry", "name": "reading", "schema": "float"},
        {"@type": "Property", "name": "serial", "schema": "long"},
        version=version,
        description={"en": "A device that measures."},
    )
    return parse([space, room, bookable, meeting, sensor])


def _shape_of(models: ModelSet) -> dict[str, Any]:
    """What the round trip must keep: classes, extends, relationship targets, property schemas."""
    return {
        dtmi: (
            set(iface.extends),
            {n: (r.target, r.max_multiplicity) for n, r in iface.relationships.items()},
            {n: p.schema.kind for n, p in iface.properties.items()},
            {n: t.schema.kind for n, t in iface.telemetries.items()},
        )
        for dtmi, iface in models.items()
    }


def _parsed(result: RdfImport) -> ModelSet:
    return parse(result.documents)  # raises ModelError on any violation


# -- DTDL -> Turtle -> DTDL --------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 3, 4])
def test_dtdl_to_turtle_to_dtdl_keeps_classes_edges_targets_and_schemas(version: int) -> None:
    models = _model(version)
    back = _parsed(from_rdf(to_turtle(models), version=version))
    assert _shape_of(back) == _shape_of(models)


def test_round_trip_keeps_units_display_names_and_writability() -> None:
    result = from_rdf(to_turtle(_model()))
    back = _parsed(result)
    area = back["dtmi:com:example:Space;1"].properties["area"]
    assert (area.unit, area.cotypes) == ("squareMetre", ("Area",))
    assert back["dtmi:com:example:Space;1"].properties["label"].writable
    assert dict(back["dtmi:com:example:Space;1"].display_name) == {"en": "Space", "fr": "Espace"}
    assert result.dropped == []


def test_export_is_owl_with_domains_ranges_xsd_types_and_unit_annotations() -> None:
    g = to_graph(_model())
    room, sensor = URIRef("dtmi:com:example:Room;1"), URIRef("dtmi:com:example:Sensor;1")
    assert (room, RDF.type, OWL.Class) in g
    assert (room, RDFS.subClassOf, URIRef("dtmi:com:example:Space;1")) in g
    has_sensor = g.value(predicate=KGT.name, object=Literal("hasSensor"))
    assert (has_sensor, RDF.type, OWL.ObjectProperty) in g
    assert (has_sensor, RDFS.domain, room) in g
    assert (has_sensor, RDFS.range, sensor) in g
    serial = g.value(predicate=KGT.name, object=Literal("serial"))
    assert (serial, RDF.type, OWL.DatatypeProperty) in g
    assert (serial, RDFS.range, XSD.long) in g
    area = g.value(predicate=KGT.name, object=Literal("area"))
    assert (area, KGT.unit, Literal("squareMetre")) in g
    # inherited contents are stated once, on the class that defines them
    assert len(list(g.subjects(KGT.name, Literal("capacity")))) == 1


def test_exported_turtle_reads_back_as_the_same_graph() -> None:
    models = _model()
    reread = Graph().parse(data=to_turtle(models), format="turtle")
    assert len(reread) == len(to_graph(models))


# -- RDF -> DTDL -> Turtle ---------------------------------------------------------------------

ONTOLOGY = """
@prefix ex: <http://example.org/building#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:Asset a owl:Class ; rdfs:label "Asset"@en ; rdfs:comment "Anything we maintain."@en .
ex:Equipment a owl:Class ; rdfs:subClassOf ex:Asset, owl:Thing .
ex:Pump a owl:Class ; rdfs:subClassOf ex:Equipment .
ex:Meter a rdfs:Class ; rdfs:subClassOf ex:Equipment .
ex:Heat-Meter rdfs:subClassOf ex:Meter, ex:Asset .
ex:Site a owl:Class .

ex:feeds a owl:ObjectProperty, owl:FunctionalProperty ; rdfs:domain ex:Equipment ; rdfs:range ex:Equipment .
ex:locatedAt a owl:ObjectProperty ; rdfs:domain [ owl:unionOf ( ex:Pump ex:Meter ) ] ; rdfs:range ex:Site .
ex:flowRate a owl:DatatypeProperty ; rdfs:domain ex:Pump ; rdfs:range xsd:decimal .
ex:serialNumber a owl:DatatypeProperty ; rdfs:domain ex:Asset ; rdfs:range xsd:string .
ex:installed a owl:DatatypeProperty ; rdfs:domain ex:Asset ; rdfs:range xsd:dateTime .
ex:note rdfs:domain ex:Asset ; rdfs:range rdfs:Literal .
ex:orphan a owl:DatatypeProperty ; rdfs:range xsd:int .
"""


def _edges(g: Graph) -> set[tuple[str, str]]:
    return {(str(s), str(o)) for s, o in g.subject_objects(RDFS.subClassOf) if o != OWL.Thing}


@pytest.mark.parametrize("version", [2, 3, 4])
def test_rdf_to_dtdl_to_turtle_keeps_the_class_hierarchy(version: int) -> None:
    source = Graph().parse(data=ONTOLOGY, format="turtle")
    models = _parsed(from_rdf(source, namespace="dtmi:org:example", version=version))
    dtmi = {
        str(EX[n]): f"dtmi:org:example:{n.replace('-', '_')};1"
        for n in ("Asset", "Equipment", "Pump", "Meter", "Heat-Meter", "Site")
    }
    assert set(models) == set(dtmi.values())
    assert _edges(to_graph(models)) == {(dtmi[s], dtmi[o]) for s, o in _edges(source)}


def test_rdf_properties_become_relationships_and_typed_properties() -> None:
    result = from_rdf(ONTOLOGY, namespace="dtmi:org:example", version=4)
    models = _parsed(result)
    pump = models["dtmi:org:example:Pump;1"]
    assert pump.relationships["feeds"].target == "dtmi:org:example:Equipment;1"
    assert pump.relationships["feeds"].max_multiplicity == 1
    assert pump.relationships["locatedAt"].target == "dtmi:org:example:Site;1"
    assert pump.properties["flowRate"].schema.kind == "decimal"
    assert pump.properties["serialNumber"].schema.kind == "string"
    assert pump.properties["installed"].schema.kind == "dateTime"
    assert pump.properties["note"].schema.kind == "string"
    assert dict(models["dtmi:org:example:Asset;1"].description) == {"en": "Anything we maintain."}
    assert "locatedAt" in models["dtmi:org:example:Meter;1"].relationships
    assert any("orphan" in n.subject and "rdfs:domain" in n.message for n in result.dropped)


def test_xsd_decimal_is_a_double_before_dtdl_v4() -> None:
    models = _parsed(from_rdf(ONTOLOGY, version=3))
    assert models["dtmi:imported:Pump;1"].properties["flowRate"].schema.kind == "double"


def test_illegal_characters_in_names_and_iris_are_replaced() -> None:
    turtle = """
    @prefix owl: <http://www.w3.org/2002/07/owl#> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    <urn:x:3D-Printer> a owl:Class .
    <http://example.org/Größe/Maschine_> a owl:Class ; rdfs:subClassOf <urn:x:3D-Printer> .
    <http://example.org/has--part_> a owl:DatatypeProperty ; rdfs:domain <urn:x:3D-Printer> .
    """
    models = _parsed(from_rdf(turtle))
    assert set(models) == {"dtmi:imported:x3D_Printer;1", "dtmi:imported:Maschine;1"}
    assert set(models["dtmi:imported:Maschine;1"].properties) == {"has_part"}


def test_classes_whose_names_collide_get_distinct_dtmis() -> None:
    turtle = "<http://a.org/Pump> a <http://www.w3.org/2002/07/owl#Class> .\n" + (
        "<http://b.org/Pump> a <http://www.w3.org/2002/07/owl#Class> ."
    )
    result = from_rdf(turtle)
    assert set(_parsed(result)) == {"dtmi:imported:Pump;1", "dtmi:imported:Pump_2;1"}
    assert [n.subject for n in result.dropped] == ["http://b.org/Pump"]


# -- DTDL limits -------------------------------------------------------------------------------


def _chain(length: int) -> Graph:
    g = Graph()
    for i in range(length):
        g.add((EX[f"C{i}"], RDF.type, OWL.Class))
        if i:
            g.add((EX[f"C{i}"], RDFS.subClassOf, EX[f"C{i - 1}"]))
        g.add((EX[f"p{i}"], RDF.type, OWL.DatatypeProperty))
        g.add((EX[f"p{i}"], RDFS.domain, EX[f"C{i}"]))
    return g


@pytest.mark.parametrize(("version", "depth"), [(2, 10), (3, 10), (4, 12)])
def test_a_hierarchy_deeper_than_the_limit_skips_levels_but_keeps_is_a(version: int, depth: int) -> None:
    result = from_rdf(_chain(20), version=version)
    models = _parsed(result)
    deepest = models["dtmi:imported:C19;1"]
    assert "dtmi:imported:C0;1" in deepest.ancestors
    assert {"p0", "p19"} <= set(deepest.properties)
    assert max(len(i.ancestors) for i in models.values()) == depth
    assert any("depth limit" in n.message for n in result.dropped)


def test_a_subclass_cycle_is_broken_and_reported() -> None:
    g = _chain(3)
    g.add((EX.C0, RDFS.subClassOf, EX.C2))
    result = from_rdf(g)
    models = _parsed(result)
    assert len(models) == 3
    assert [n.message for n in result.dropped if "cycle" in n.message]


def test_dtdl_v2_keeps_two_superclasses_and_three_hundred_contents() -> None:
    g = Graph()
    for parent in ("A", "B", "C"):
        g.add((EX.Child, RDFS.subClassOf, EX[parent]))
    for i in range(305):
        g.add((EX[f"p{i}"], RDFS.domain, EX.Child))
    result = from_rdf(g, version=2)
    child = _parsed(result)["dtmi:imported:Child;1"]
    assert len(child.extends) == 2
    assert len(child.contents) == 300
    assert sum("contents limit" in n.message for n in result.dropped) == 5


def test_same_name_from_two_superclasses_drops_one_extends() -> None:
    turtle = """
    @prefix a: <http://a.org/> . @prefix b: <http://b.org/> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    a:Left rdfs:subClassOf a:Top . a:Right rdfs:subClassOf a:Top .
    a:Both rdfs:subClassOf a:Left, a:Right .
    a:size rdfs:domain a:Left . b:size rdfs:domain a:Right .
    a:name rdfs:domain a:Top .
    """
    result = from_rdf(turtle)
    both = _parsed(result)["dtmi:imported:Both;1"]
    assert both.extends == ("dtmi:imported:Left;1",)
    assert any("size" in n.message for n in result.dropped)


def test_an_own_property_named_like_an_inherited_one_is_renamed() -> None:
    turtle = """
    @prefix a: <http://a.org/> . @prefix b: <http://b.org/> .
    @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
    a:Sub rdfs:subClassOf a:Super .
    a:size rdfs:domain a:Super . b:size rdfs:domain a:Sub .
    """
    models = _parsed(from_rdf(turtle))
    assert set(models["dtmi:imported:Sub;1"].properties) == {"size", "size_2"}


def test_bad_input_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="Turtle"):
        from_rdf("this is not turtle <")
    with pytest.raises(BadRequest, match="namespace"):
        from_rdf(ONTOLOGY, namespace="http://example.org")
    with pytest.raises(BadRequest, match="version"):
        from_rdf(ONTOLOGY, version=5)


local_names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=70)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(local_names, min_size=1, max_size=25),
    edges=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=60),
    props=st.lists(st.tuples(local_names, st.integers(0, 24), st.booleans()), max_size=40),
    langs=st.lists(st.sampled_from(["en", "fr-CA", "x-klingon", "de-1996", "zh-Hant-TW"]), max_size=25),
    version=st.sampled_from([2, 3, 4]),
)
def test_any_class_graph_imports_as_dtdl_that_parses(
    names: list[str],
    edges: list[tuple[int, int]],
    props: list[tuple[str, int, bool]],
    langs: list[str],
    version: int,
) -> None:
    g = Graph()
    classes = [URIRef(f"http://example.org/{i}/{quote(n)}") for i, n in enumerate(names)]
    for c, lang in zip(classes, langs + ["en"] * len(classes), strict=False):
        g.add((c, RDF.type, OWL.Class))
        g.add((c, RDFS.label, Literal(str(c)[-80:], lang=lang)))
    for sub, sup in edges:
        g.add((classes[sub % len(classes)], RDFS.subClassOf, classes[sup % len(classes)]))
    for i, (name, domain, is_link) in enumerate(props):
        prop = URIRef(f"http://example.org/p{i}/{quote(name)}")
        g.add((prop, RDF.type, OWL.ObjectProperty if is_link else OWL.DatatypeProperty))
        g.add((prop, RDFS.domain, classes[domain % len(classes)]))
        g.add((prop, RDFS.range, classes[0] if is_link else XSD.integer))
    assert len(_parsed(from_rdf(g, version=version))) == len(classes)


# -- Brick -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def brick_14() -> Graph:
    return brick_graph("1.4")


def test_the_whole_brick_class_hierarchy_parses_as_dtdl_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the Brick import tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.perf_counter()
    models = parse(brick_interfaces().documents)  # the newest Brick the package ships
    seconds = time.perf_counter() - start
    assert len(models) > 1000
    ahu = models["dtmi:org:brickschema:Air_Handling_Unit;1"]
    assert "dtmi:org:brickschema:Equipment;1" in ahu.ancestors
    assert dict(ahu.display_name) == {"en": "Air Handling Unit"}
    assert {"hasPoint", "feeds", "hasLocation", "hasPart"} <= set(ahu.relationships)
    assert seconds < 10, f"importing Brick took {seconds:.1f} s"


def test_brick_is_read_from_the_installed_package() -> None:
    assert "1.4" in brick_versions()
    with pytest.raises(BadRequest, match="not shipped"):
        brick_interfaces(brick_version="0.1")


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_loaded_brick_graph_imports_in_every_dtdl_version_and_is_left_unchanged(
    brick_14: Graph, version: int
) -> None:
    size = len(brick_14)
    models = parse(brick_interfaces(brick_14, version=version).documents)
    assert "dtmi:org:brickschema:Point;1" in models["dtmi:org:brickschema:Air_Temperature_Sensor;1"].ancestors
    assert len(brick_14) == size
