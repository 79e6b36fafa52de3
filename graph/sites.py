"""Sites: the subtrees of the twin graph that edge instances own (``docs/edge-cloud.md``).

An edge instance (``kgtwin serve --site <id>``) owns its site twin and everything the
site contains (the containment moves of ``graph.queries.CONTAINMENT``). It forwards the
subtree's changes to the cloud, and now and then a snapshot of the whole subtree, which
the cloud reconciles (``graph.site_sync``).

In the cloud each site has one bookkeeping node, ``(:KgtwinMeta {id: 'site:<id>'})``,
holding the highest message sequence applied for the site (the receiver's deduplication
mark, stored in the graph so it survives the receiver and is shared by its replicas).
A registered site's subtree is read-only through the cloud's own API
(:class:`SiteOwnership`), so the cloud's copy can only change through its site.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graph._traversal import Direction, Move, walk, walk_roots
from graph._version import META_LABEL
from graph.bulk import relationship_line, twin_line
from graph.model_store import GraphModelStore
from graph.queries import CONTAINMENT
from graph.store import GraphStore
from graph.twin import Twin, TwinRelationship
from ontology.errors import ErrorCode, KgtwinError, NotFound
from ontology.model import ModelSet

MAX_SITE_DEPTH = 10
MAX_SITE_TWINS = 100_000

# Up the containment: the reverse of each move of ``CONTAINMENT``.
_UP = tuple(
    Move(move.names, Direction.IN if move.direction is Direction.OUT else Direction.OUT)
    for move in CONTAINMENT
)
_PREFIX = "site:"
_READ_MARK = f"MATCH (m:{META_LABEL} {{id: $key}}) RETURN m.highWater"
_ADVANCE = f"MERGE (m:{META_LABEL} {{id: $key}}) SET m.highWater = $seq, m.site = $site"
_SITES = f"MATCH (m:{META_LABEL}) WHERE m.site IS NOT NULL RETURN m.site ORDER BY m.site"
_RELATIONSHIPS_OF = """
UNWIND $ids AS id
MATCH (s:Twin {id: id})-[r]->(t:Twin)
RETURN s.id, type(r), t.id, properties(r) ORDER BY s.id, r.id
"""


class SiteOwned(KgtwinError):
    """Raised when the cloud's API is asked to change a twin an edge site owns.

    The edge is the one writer of its site's twins; a change made in the cloud would be
    undone by the next resync, so it is refused (``FORBIDDEN``) naming the owning site.
    """

    code = ErrorCode.FORBIDDEN


def site_twin_ids(store: GraphStore, site: str) -> set[str]:
    """The ids of ``site`` and every twin it contains; empty when the site twin does not exist."""
    try:
        found = walk(
            store, [site], CONTAINMENT, MAX_SITE_DEPTH, edges=False, max_twins=MAX_SITE_TWINS, telemetry=False
        )
    except NotFound:
        return set()
    return set(found.nodes)


def site_twins(store: GraphStore, models: ModelSet, site: str) -> list[Twin]:
    """``site`` and every twin it contains, by id; empty when the site twin does not exist."""
    try:
        found = walk(store, [site], CONTAINMENT, MAX_SITE_DEPTH, edges=False, max_twins=MAX_SITE_TWINS)
    except NotFound:
        return []
    return sorted((Twin.from_node(node, models) for node in found.nodes.values()), key=lambda t: t.id)


def twins_by_id(store: GraphStore, models: ModelSet, twin_ids: Iterable[str]) -> list[Twin]:
    """The twins of ``twin_ids`` that exist, by id."""
    found: list[Twin] = []
    for twin_id in sorted(set(twin_ids)):
        try:
            found += [Twin.from_node(node, models) for node in walk_roots(store, [twin_id]).values()]
        except NotFound:
            continue  # deleted since: its delete event follows
    return found


def outgoing_relationships(store: GraphStore, twin_ids: Iterable[str]) -> list[TwinRelationship]:
    """Every relationship whose source is one of ``twin_ids``, by source then id."""
    ids = sorted(set(twin_ids))
    found: list[TwinRelationship] = []
    for start in range(0, len(ids), 1000):
        rows = store.query_rows(_RELATIONSHIPS_OF, {"ids": ids[start : start + 1000]})
        found += [
            TwinRelationship.from_edge(name, source, target, dict(edge))
            for source, name, target, edge in rows
        ]
    return found


class SiteMarks:
    """The highest message sequence applied per site, kept in the cloud graph."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def high_water(self, site: str) -> int:
        """The last sequence applied for ``site``; 0 before its first message."""
        rows = self.store.query_rows(_READ_MARK, {"key": _PREFIX + site})
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def advance(self, site: str, seq: int) -> None:
        """Record that every message of ``site`` up to ``seq`` is applied (the site is registered)."""
        self.store.write(_ADVANCE, {"key": _PREFIX + site, "seq": seq, "site": site})

    def sites(self) -> list[str]:
        """The sites that have sent anything, by id."""
        return [str(row[0]) for row in self.store.query_rows(_SITES)]


class SiteOwnership:
    """Which registered site owns a twin, for the cloud API's writes (its ``TwinGraph`` guard).

    A check reads the registered sites (one read; nothing more when there are none), then
    walks *up* the containment from the twin (one read per level) and answers the first
    site met, so it costs the same whatever the number and size of the sites.
    """

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._marks = SiteMarks(store)

    def owner_of(self, twin_id: str) -> str | None:
        """The site owning ``twin_id``, or None (also for a twin that does not exist yet)."""
        sites = set(self._marks.sites())
        if not sites:
            return None
        if twin_id in sites:
            return twin_id
        try:
            found = walk(
                self.store,
                [twin_id],
                _UP,
                MAX_SITE_DEPTH,
                edges=False,
                max_twins=MAX_SITE_TWINS,
                telemetry=False,
            )
        except NotFound:
            return None
        owners = sorted(sites.intersection(found.nodes), key=lambda site: found.depth[site])
        return owners[0] if owners else None

    def check_writable(self, twin_id: str) -> None:
        """Raise :class:`SiteOwned` when a site owns ``twin_id``."""
        site = self.owner_of(twin_id)
        if site is not None:
            raise SiteOwned(
                f"twin {twin_id!r} belongs to edge site {site!r}: change it at the site, "
                "the cloud holds a read-only copy",
                details={"twinId": twin_id, "site": site},
            )


def site_snapshot(store: GraphStore, models: ModelSet, site: str) -> dict[str, Any]:
    """What a resync sends: every stored model, the site's twins and their outgoing relationships."""
    twins = site_twins(store, models, site)
    relationships = outgoing_relationships(store, (t.id for t in twins))
    documents = [dict(m.document) for m in GraphModelStore(store).list()]
    return {"models": documents, **snapshot_lines(twins, relationships)}


def snapshot_lines(twins: Iterable[Twin], relationships: Iterable[TwinRelationship]) -> dict[str, Any]:
    """A site's state as one JSON object: its twins and relationships in the bulk format's shapes."""
    return {
        "twins": [twin_line(t.id, t.model, t.properties, t.telemetry.to_dict()) for t in twins],
        "relationships": [
            relationship_line(r.source, r.id, r.name, r.target, r.properties) for r in relationships
        ],
    }
