"""Walking the twin graph from twins: their neighbours, their relationships, a containment tree.

Each answers in a few reads (one per depth level, ``graph._traversal``), whatever the
number of twins reached; the ``_of_each`` forms answer many twins from one walk, as a
page of twins that each ask for their neighbours needs. Relationship names are checked as
Cypher identifiers before they reach the query text; twin ids travel as parameters.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from graph._traversal import DEFAULT_MAX_TWINS, Direction, Move, Walk, walk
from graph._version import current as current_version
from graph.cypher import MAX_ROWS
from graph.errors import LimitExceeded
from graph.store import GraphStore
from graph.subgraph import SubgraphSpec, select_subgraph, subgraph_relationships
from graph.twin import Twin, TwinRelationship
from ontology.errors import BadRequest, KgtwinError
from ontology.labels import label_index
from ontology.model import ModelSet

CONTAINMENT: tuple[Move, ...] = (
    Move(("contains",), Direction.OUT),
    Move(("isPartOf", "locatedIn"), Direction.IN),
)
"""The moves down a containment tree in the base ontology: a Space ``contains`` Spaces,
a Space or Asset ``isPartOf`` its whole, an Asset is ``locatedIn`` a Space."""


@dataclass(frozen=True)
class Neighbour:
    """A twin reached from another one, ``depth`` relationships away (the fewest)."""

    twin: Twin
    depth: int


@dataclass(frozen=True)
class ContainmentNode:
    """A twin in a containment tree and what it contains, by twin id."""

    twin: Twin
    children: tuple[ContainmentNode, ...] = ()

    def ids(self) -> list[str]:
        """The twin ids of the tree, depth first (handy to print or compare)."""
        return [self.twin.id, *(i for child in self.children for i in child.ids())]


def neighbours(
    store: GraphStore,
    twin_id: str,
    *,
    relationships: Sequence[str] = (),
    direction: Direction | str = Direction.OUT,
    max_depth: int = 1,
    models: ModelSet | None = None,
    model: str | None = None,
    max_twins: int = DEFAULT_MAX_TWINS,
) -> list[Neighbour]:
    """The twins up to ``max_depth`` (at most 10) relationships away from ``twin_id``.

    Only relationships named in ``relationships`` (any when empty) are followed, in
    ``direction`` (``out``, ``in`` or ``both``). With ``model`` (and the ``models`` that
    define it) the walk goes through twins of that model or one extending it only.
    Sorted by depth, then twin id; the twin itself is not a neighbour. ``NotFound`` when
    ``twin_id`` does not exist, ``LimitExceeded`` past ``max_twins``.
    """
    labels: tuple[str, ...] = ()
    if model is not None:
        if models is None or model not in models:
            raise BadRequest(f"model {model!r} is not in the model set", details={"model": model})
        labels = (label_index(models).label(model),)
    if direction not in tuple(Direction):
        raise BadRequest(
            f"direction must be out, in or both, not {direction!r}", details={"direction": direction}
        )
    names = (relationships,) if isinstance(relationships, str) else tuple(relationships)
    found = walk(
        store,
        [twin_id],
        [Move(names, Direction(direction))],
        max_depth,
        labels=labels,
        edges=False,
        max_twins=min(max_twins + 1, MAX_ROWS),  # the twin itself is in the walk too
    )
    return sorted(
        (
            Neighbour(Twin.from_node(props), found.depth[key])
            for key, props in found.nodes.items()
            if key != twin_id
        ),
        key=lambda n: (n.depth, n.twin.id),
    )


def neighbours_of_each(
    store: GraphStore, roots: Sequence[str], name: str | None, direction: Direction, depth: int
) -> dict[str, list[Twin] | KgtwinError]:
    """:func:`neighbours` of every root (by one relationship name, or any), from one walk of them all.

    The walk from all roots reaches every twin within ``depth`` of any root and records
    every relationship out of each twin it expands, so it holds each root's own
    breadth-first walk: replayed per root, it gives the same twins at the same depths as
    a walk from that root alone, one read per level for all of them. Errors are answers
    too, per root: a root that does not exist (deleted meanwhile), a bad name or depth,
    more neighbours than one walk allows.
    """
    roots = list(dict.fromkeys(roots))
    names = (name,) if name else ()
    try:
        met = walk(store, roots, [Move(names, direction)], depth, edges=True, max_twins=MAX_ROWS)
    except KgtwinError as exc:
        if len(roots) == 1:
            return {roots[0]: exc}
        # A missing root, or a shared walk past the row cap: each root on its own.
        return {root: _alone(store, root, names, direction, depth) for root in roots}
    after: dict[str, list[str]] = {}
    for source, target, _ in met.edges:
        if direction != Direction.IN:
            after.setdefault(source, []).append(target)
        if direction != Direction.OUT:
            after.setdefault(target, []).append(source)
    return {root: _replay(met, after, root, depth) for root in roots}


def _alone(
    store: GraphStore, root: str, names: tuple[str, ...], direction: Direction, depth: int
) -> list[Twin] | KgtwinError:
    try:
        found = neighbours(store, root, relationships=names, direction=direction, max_depth=depth)
    except KgtwinError as exc:
        return exc
    return [n.twin for n in found]


def _replay(met: Walk, after: dict[str, list[str]], root: str, depth: int) -> list[Twin] | KgtwinError:
    """The breadth-first walk from ``root`` alone, over what the shared walk met."""
    seen = {root: 0}
    frontier = [root]
    for level in range(1, depth + 1):
        reached = [n for at in frontier for n in after.get(at, ()) if n not in seen]
        for twin_id in reached:
            seen.setdefault(twin_id, level)
        frontier = list(dict.fromkeys(reached))
    del seen[root]
    if len(seen) > DEFAULT_MAX_TWINS:
        return LimitExceeded("twins in the walk", DEFAULT_MAX_TWINS)
    ordered = sorted(seen, key=lambda twin_id: (seen[twin_id], twin_id))
    return [Twin.from_node(met.nodes[twin_id]) for twin_id in ordered]


def relationships_of_each(
    store: GraphStore, models: ModelSet, twin_ids: Sequence[str], name: str | None, direction: Direction
) -> dict[str, list[TwinRelationship]]:
    """The relationships named ``name`` (any when None) of each twin, in ``direction``, from one walk.

    Each twin's are in ``TwinGraph``'s order: outgoing by id, then incoming by source and id.
    ``NotFound`` when a twin does not exist.
    """
    ids = tuple(dict.fromkeys(twin_ids))
    spec = SubgraphSpec(
        roots=ids, relationships=(name,) if name is not None else (), direction=direction, max_depth=1
    )
    sub = select_subgraph(store, models, spec, max_twins=MAX_ROWS)
    by_end: dict[tuple[str, Direction], list[TwinRelationship]] = {}
    for rel in subgraph_relationships(sub):
        by_end.setdefault((rel.source, Direction.OUT), []).append(rel)
        by_end.setdefault((rel.target, Direction.IN), []).append(rel)
    ends = (Direction.OUT, Direction.IN) if direction == Direction.BOTH else (direction,)
    found: dict[str, list[TwinRelationship]] = {}
    for twin_id in ids:
        rels = {(r.source, r.id): r for end in ends for r in by_end.get((twin_id, end), [])}
        found[twin_id] = sorted(rels.values(), key=lambda r: (r.source != twin_id, r.source, r.id))
    return found


def containment_tree(
    store: GraphStore,
    root_id: str,
    *,
    max_depth: int = 6,
    max_twins: int = DEFAULT_MAX_TWINS,
    cached: bool = True,
) -> ContainmentNode:
    """What ``root_id`` contains, down to ``max_depth`` levels: site, building, floor, room, equipment.

    Follows :data:`CONTAINMENT`. A twin reached from two parents (inconsistent data) is
    placed once, under the first parent by id at the shallowest level; children are sorted
    by id.

    Trees are cached per store and root, checked against the graph's version token
    (``graph._version``, one read) on every call, so a tree reflects every change whose
    call returned before this one started, whichever process made it. The tree is shared
    by the callers of the same version: treat it as read-only. ``cached=False`` always walks.
    """
    if not cached:
        return _build_tree(store, root_id, max_depth, max_twins)
    cache = _tree_cache(store)
    version = current_version(store)
    key = (root_id, max_depth, max_twins)
    tree = cache.get(key, version)
    if tree is None:
        # The version read *before* the walk labels the tree: a change racing with the walk
        # renews the token, so the next call walks again rather than trusting this tree.
        tree = _build_tree(store, root_id, max_depth, max_twins)
        cache.put(key, version, tree)
    return tree


def _build_tree(store: GraphStore, root_id: str, max_depth: int, max_twins: int) -> ContainmentNode:
    found = walk(store, [root_id], CONTAINMENT, max_depth, edges=False, max_twins=max_twins)
    children: dict[str, list[str]] = {}
    for child, parent in found.parent.items():
        children.setdefault(parent, []).append(child)

    def build(twin_id: str) -> ContainmentNode:
        kids = sorted(children.get(twin_id, []))
        return ContainmentNode(Twin.from_node(found.nodes[twin_id]), tuple(build(kid) for kid in kids))

    return build(root_id)


class _TreeCache:
    """The containment trees of one store, by (root, depth, limit), each with the version it was read at.

    Bounded by the twins it holds (``CACHE_TWINS``): the least recently used trees go first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> (version, tree, twins in it, monotonic time it was read)
        self._trees: OrderedDict[tuple[str, int, int], tuple[str, ContainmentNode, int, float]]
        self._trees = OrderedDict()
        self._twins = 0

    def get(self, key: tuple[str, int, int], version: str | None) -> ContainmentNode | None:
        with self._lock:
            entry = self._trees.get(key)
            if entry is None or entry[0] != version or time.monotonic() - entry[3] > CACHE_MAX_AGE_S:
                return None
            self._trees.move_to_end(key)
            return entry[1]

    def put(self, key: tuple[str, int, int], version: str | None, tree: ContainmentNode) -> None:
        size = _size(tree)
        with self._lock:
            old = self._trees.pop(key, None)
            if old is not None:
                self._twins -= old[2]
            if version is None or size > CACHE_TWINS:
                return
            self._trees[key] = (version, tree, size, time.monotonic())
            self._twins += size
            while self._twins > CACHE_TWINS:
                _, (_, _, dropped, _) = self._trees.popitem(last=False)
                self._twins -= dropped


CACHE_MAX_AGE_S = 60.0
"""The oldest a cached tree may be: bounds how stale it gets after a change that renewed no
version (a raw Cypher write, or a writer that died between its change and the renewal)."""
CACHE_TWINS = 200_000
"""How many twins the cached trees of one store may hold together (a 10,000-twin tree is ~20 MB)."""
_CACHES: weakref.WeakKeyDictionary[GraphStore, _TreeCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _tree_cache(store: GraphStore) -> _TreeCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = _TreeCache()
        return cache


def _size(tree: ContainmentNode) -> int:
    return 1 + sum(_size(child) for child in tree.children)
