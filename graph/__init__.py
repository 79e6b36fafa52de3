"""The twin graph: assets and their spatial and functional relationships.

Public surface: the ``GraphStore`` port, its capabilities and result types; the twin
operations (``TwinGraph``); walking, searching and counting the graph (``neighbours``,
``neighbours_of_each``, ``relationships_of_each``, ``containment_tree``, ``find_twins``,
``count_twins``, ``count_by_model``); subgraph selection for simulations (``SubgraphSpec``,
``select_subgraph``, ``subgraph_from_cypher``); the models as graph nodes
(``GraphModelStore``), their upload with relabelling (``upload_models``) and the migration
of twins between model versions (``migrate_twins``); change events (``EventBus``,
``ChangeEvent``); API keys (``ApiKeyStore``); bulk NDJSON import and export
(``import_bulk``, ``export_bulk``); how telemetry references and latest values are stored
on twins (``telemetry_targets``, ``write_latest``; the references themselves are
``telemetry.TelemetryRef``); the one form of times and cursors (``utc_text``,
``encode_cursor``); and the graph errors. Backends live in their own modules
(``graph.falkordb``, ``graph.neo4j``) and are chosen by URL in the composition root.
"""

from graph._traversal import MAX_DEPTH, Direction
from graph.api_keys import ApiKey, ApiKeyStore, IssuedKey
from graph.bulk import BulkIssue
from graph.counting import count_by_model, count_twins
from graph.cursors import decode_cursor, encode_cursor
from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, MAX_ROWS, MAX_TIMEOUT_S
from graph.errors import CypherWriteRefused, LimitExceeded, QueryTimeout
from graph.events import ChangeEvent, ChangeKind, EventBus, EventStream
from graph.exporter import export_bulk
from graph.importer import ImportReport, import_bulk
from graph.latest import write_latest
from graph.migration import MigrationReport, migrate_twins
from graph.model_store import GraphModelStore
from graph.queries import (
    CONTAINMENT,
    ContainmentNode,
    Neighbour,
    containment_tree,
    neighbours,
    neighbours_of_each,
    relationships_of_each,
)
from graph.relabel import Relabelled, relabel_twins, upload_models
from graph.search import AllOf, AnyOf, Condition, Filter, Operator, TwinPage, find_twins
from graph.store import CypherResult, GraphCapabilities, GraphStore
from graph.subgraph import (
    SubgraphSpec,
    select_subgraph,
    subgraph_from_cypher,
    subgraph_relationships,
    subgraph_twins,
)
from graph.telemetry import TwinTarget, targets_version, telemetry_targets
from graph.times import parse_utc, utc_now, utc_text
from graph.twin import Twin, TwinRelationship
from graph.twins import TwinGraph

__all__ = [
    "CONTAINMENT",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT_S",
    "MAX_DEPTH",
    "MAX_ROWS",
    "MAX_TIMEOUT_S",
    "AllOf",
    "AnyOf",
    "ApiKey",
    "ApiKeyStore",
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
    "GraphCapabilities",
    "GraphModelStore",
    "GraphStore",
    "ImportReport",
    "IssuedKey",
    "LimitExceeded",
    "MigrationReport",
    "Neighbour",
    "Operator",
    "QueryTimeout",
    "Relabelled",
    "SubgraphSpec",
    "Twin",
    "TwinGraph",
    "TwinPage",
    "TwinRelationship",
    "TwinTarget",
    "containment_tree",
    "count_by_model",
    "count_twins",
    "decode_cursor",
    "encode_cursor",
    "export_bulk",
    "find_twins",
    "import_bulk",
    "migrate_twins",
    "neighbours",
    "neighbours_of_each",
    "parse_utc",
    "relabel_twins",
    "relationships_of_each",
    "select_subgraph",
    "subgraph_from_cypher",
    "subgraph_relationships",
    "subgraph_twins",
    "targets_version",
    "telemetry_targets",
    "upload_models",
    "utc_now",
    "utc_text",
    "write_latest",
]
