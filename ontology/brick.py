"""The Brick schema as DTDL Interfaces, so that Brick users start from the vocabulary they know.

The ``brickschema`` package ships each Brick release as ``ontologies/<version>/Brick.ttl``;
it is read from the installed package, never fetched. The package itself is not imported
(that would load its reasoners): only its files are located.

Brick states where its relationships apply in SHACL shapes, not with ``rdfs:domain``, so
``brick_interfaces`` places every ``brick:Relationship`` that is an ``owl:ObjectProperty``
(``hasPoint``, ``feeds``, ``hasLocation``, ...) on ``brick:Entity``, untargeted: every
Brick Interface then has them, as in Brick, where any entity may have them.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from rdflib import OWL, RDF, RDFS, Graph, Namespace
from rdflib.graph import ReadOnlyGraphAggregate

from ontology.errors import BadRequest
from ontology.rdf import RdfImport, from_rdf

BRICK = Namespace("https://brickschema.org/schema/Brick#")


def _ontologies() -> Path:
    spec = find_spec("brickschema")
    if spec is None or not spec.submodule_search_locations:
        raise BadRequest("the brickschema package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "ontologies"


def brick_versions() -> list[str]:
    """The Brick releases the installed ``brickschema`` package ships, oldest first."""
    found = [p.parent.name for p in _ontologies().glob("*/Brick.ttl")]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".") if x.isdigit()))


def brick_graph(brick_version: str | None = None) -> Graph:
    """The Brick ontology of ``brick_version`` (default: the newest shipped), read offline."""
    versions = brick_versions()
    if not versions:
        raise BadRequest("the brickschema package ships no Brick.ttl")
    chosen = brick_version or versions[-1]
    if chosen not in versions:
        raise BadRequest(
            f"Brick {chosen} is not shipped; the installed brickschema has {', '.join(versions)}"
        )
    graph = Graph()
    graph.parse(_ontologies() / chosen / "Brick.ttl", format="turtle")
    return graph


def brick_interfaces(
    brick: Graph | None = None,
    *,
    version: int = 3,
    brick_version: str | None = None,
    namespace: str = "dtmi:org:brickschema",
) -> RdfImport:
    """Every Brick class as a DTDL Interface: ``brick:AHU`` becomes ``{namespace}:AHU;1``.

    ``brick`` is a Brick ontology already loaded (say, with your extensions), else the one
    of ``brick_version`` is read. Only classes in the Brick namespace are kept; their
    superclasses elsewhere (REC, SOSA) are reported in ``dropped``. ``brick`` is not changed.
    """
    graph = brick if brick is not None else brick_graph(brick_version)
    domains = Graph()
    for rel in set(graph.subjects(RDF.type, BRICK.Relationship)):
        if (rel, RDF.type, OWL.ObjectProperty) in graph and graph.value(rel, RDFS.domain) is None:
            domains.add((rel, RDFS.domain, BRICK.Entity))
    view = ReadOnlyGraphAggregate([graph, domains])
    return from_rdf(view, namespace=namespace, version=version, only=(str(BRICK),))
