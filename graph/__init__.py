"""The twin graph: assets and their spatial and functional relationships.

Public surface: the ``GraphStore`` port and its result types. Backends live in their own
modules (``graph.falkordb``, ``graph.neo4j``) and are chosen by URL in the composition root.
"""

from graph.store import CypherResult, GraphStore

__all__ = ["CypherResult", "GraphStore"]
