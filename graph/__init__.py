"""The twin graph: assets and their spatial and functional relationships.

Public surface: the ``GraphStore`` port and its result types, the twin operations
(``TwinGraph``), walking and searching the graph (``neighbours``, ``containment_tree``,
``find_twins``), subgraph selection for simulations (``SubgraphSpec``, ``select_subgraph``,
``subgraph_from_cypher``), the models as graph nodes (``GraphModelStore``), change
events (``EventBus``, ``ChangeEvent``), bulk NDJSON import and export (``import_bulk``,
``export_bulk``), telemetry references (``TelemetryRef``, ``telemetry_targets``) and the
graph errors. Backends live in their own modules
(``graph.falkordb``, ``graph.neo4j``) and are chosen by URL in the composition root.
"""

from graph._traversal import MAX_DEPTH, Direction
from graph.bulk import BulkIssue
from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, MAX_ROWS, MAX_TIMEOUT_S
from graph.errors import CypherWriteRefused, LimitExceeded, QueryTimeout
from graph.events import ChangeEvent, ChangeKind, EventBus, EventStream
from graph.exporter import export_bulk
from graph.importer import ImportReport, import_bulk
from graph.model_store import GraphModelStore
from graph.queries import CONTAINMENT, ContainmentNode, Neighbour, containment_tree, neighbours
from graph.relabel import Relabelled, relabel_twins
from graph.search import AllOf, AnyOf, Condition, Filter, Operator, TwinPage, find_twins
from graph.store import CypherResult, GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph, subgraph_from_cypher
from graph.telemetry import (
    Aggregate,
    Sample,
    TelemetryPoint,
    TelemetryRef,
    TwinTarget,
    default_ref,
    telemetry_targets,
)
from graph.twin import Twin, TwinRelationship
from graph.twins import TwinGraph

__all__ = [
    "CONTAINMENT",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT_S",
    "MAX_DEPTH",
    "MAX_ROWS",
    "MAX_TIMEOUT_S",
    "Aggregate",
    "AllOf",
    "AnyOf",
    "BulkIssue",
    "ChangeEvent",
    "ChangeKind",
    "Condition",
    "ContainmentNode",
    "CypherResult",
    "CypherWriteRefused",
    "Direction",
    "EventBus",
    "EventStream",
    "Filter",
    "GraphModelStore",
    "GraphStore",
    "ImportReport",
    "LimitExceeded",
    "Neighbour",
    "Operator",
    "QueryTimeout",
    "Relabelled",
    "Sample",
    "SubgraphSpec",
    "TelemetryPoint",
    "TelemetryRef",
    "Twin",
    "TwinGraph",
    "TwinPage",
    "TwinRelationship",
    "TwinTarget",
    "containment_tree",
    "default_ref",
    "export_bulk",
    "find_twins",
    "import_bulk",
    "neighbours",
    "relabel_twins",
    "select_subgraph",
    "subgraph_from_cypher",
    "telemetry_targets",
]
