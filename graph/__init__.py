"""The twin graph: assets and their spatial and functional relationships.

Public surface: the ``GraphStore`` port and its result types, the twin operations
(``TwinGraph``) and the graph errors. Backends live in their own modules
(``graph.falkordb``, ``graph.neo4j``) and are chosen by URL in the composition root.
"""

from graph.cypher import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, MAX_ROWS, MAX_TIMEOUT_S
from graph.errors import CypherWriteRefused, LimitExceeded, QueryTimeout
from graph.store import CypherResult, GraphStore
from graph.twins import Twin, TwinGraph, TwinRelationship

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT_S",
    "MAX_ROWS",
    "MAX_TIMEOUT_S",
    "CypherResult",
    "CypherWriteRefused",
    "GraphStore",
    "LimitExceeded",
    "QueryTimeout",
    "Twin",
    "TwinGraph",
    "TwinRelationship",
]
