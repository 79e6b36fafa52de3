"""The graph's versions: tokens that change whenever twins, relationships or models change.

Caches of derived reads (the containment tree, ``graph.queries``) must notice changes made
by any writer, including ``TwinGraph``\\ s and imports in other processes, which this
process's ``EventBus`` never hears of. So every twin or relationship write, once its
statement returned and before the call returns, stores a fresh random token on one
bookkeeping node, ``(:KgtwinMeta {id: 'graph'})``; a cached read first reads the token (one
index seek) and rebuilds when it differs. A random token, not a counter: wiping the
graph (which deletes the node) and writing again can never bring back an old value.

Models have a token of their own, ``(:KgtwinMeta {id: 'models'})``, renewed by every
upload, decommission and delete (``graph.model_store``): an API replica that holds the
registry in memory reloads it when the token moves (``api.context``).
"""

from __future__ import annotations

import uuid

from graph.store import GraphStore

META_LABEL = "KgtwinMeta"
_BUMP = f"MERGE (m:{META_LABEL} {{id: 'graph'}}) SET m.version = $version"
_READ = f"MATCH (m:{META_LABEL} {{id: 'graph'}}) RETURN m.version"
_BUMP_MODELS = (
    f"MERGE (m:{META_LABEL} {{id: 'models'}}) WITH m, m.version AS before SET m.version = $version "
    "RETURN before"
)
_READ_MODELS = f"MATCH (m:{META_LABEL} {{id: 'models'}}) RETURN m.version"


def bump(store: GraphStore) -> None:
    """Record that the twins or their relationships changed (call after the change returned)."""
    store.write(_BUMP, {"version": uuid.uuid4().hex})


def current(store: GraphStore) -> str | None:
    """The graph's version token; None when nothing was written since the graph was created or wiped."""
    rows = store.query_rows(_READ)
    return "|".join(sorted(str(row[0]) for row in rows)) if rows else None


def bump_models(store: GraphStore) -> tuple[str | None, str]:
    """Record that the registered models changed (call after the change returned).

    Returns the token replaced and the new one, so the writer can tell its own renewals
    from another process's (``GraphModelStore.changed_since``).
    """
    version = uuid.uuid4().hex
    rows = store.write(_BUMP_MODELS, {"version": version}).rows
    before = rows[0][0] if rows else None
    return (None if before is None else str(before)), version


def models_version(store: GraphStore) -> str | None:
    """The models' version token; None when no model changed since the graph was created or wiped."""
    rows = store.query_rows(_READ_MODELS)
    return str(rows[0][0]) if rows else None
