"""The graph's version: a token that changes whenever a twin or relationship changes.

Caches of derived reads (the containment tree, ``graph.queries``) must notice changes made
by any writer, including ``TwinGraph``\\ s and imports in other processes, which this
process's ``EventBus`` never hears of. So every twin or relationship write, once its
statement returned and before the call returns, stores a fresh random token on one
bookkeeping node, ``(:KgtwinMeta {id: 'graph'})``; a cached read first reads the token (one
index seek) and rebuilds when it differs. A random token, not a counter: wiping the
graph (which deletes the node) and writing again can never bring back an old value.
"""

from __future__ import annotations

import uuid

from graph.store import GraphStore

META_LABEL = "KgtwinMeta"
_BUMP = f"MERGE (m:{META_LABEL} {{id: 'graph'}}) SET m.version = $version"
_READ = f"MATCH (m:{META_LABEL} {{id: 'graph'}}) RETURN m.version"


def bump(store: GraphStore) -> None:
    """Record that the twins or their relationships changed (call after the change returned)."""
    store.write(_BUMP, {"version": uuid.uuid4().hex})


def current(store: GraphStore) -> str | None:
    """The graph's version token; None when nothing was written since the graph was created or wiped."""
    rows = store.query_rows(_READ)
    return "|".join(sorted(str(row[0]) for row in rows)) if rows else None
