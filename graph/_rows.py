"""Property maps as positional rows: the fast way to send many new elements in one statement.

A batch of new twins or edges could travel as a list of maps (``SET t = row``), but both
engines' clients are much faster with lists of scalars: Bolt packs no keys per row, and
FalkorDB's parameter text for lists is written by ``json.dumps`` (``graph._falkor_params``).
So a batch is split into groups sharing one key list; the keys go into the statement's
text once (``{`name`: r[0], `area`: r[1]}``) and each row is the values in that order.
A key a row lacks is sent as ``null``, which ``CREATE`` does not store (both engines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_SHARED_KEYS = 64
"""Up to this many keys in all, the batch is one group (absent keys as nulls); past it (Maps
with keys of their own on every twin), rows are grouped by their exact key set."""

Group = tuple[tuple[str, ...], list[list[Any]]]


def positional(props: Sequence[Mapping[str, Any]], lead: Sequence[list[Any]] | None = None) -> list[Group]:
    """Groups of ``(keys, rows)``: each row is ``lead[i]`` (if given) then ``props[i]``'s values by key."""
    union: set[str] = set()
    for p in props:
        union.update(p)
    groups: dict[tuple[str, ...], list[int]] = {}
    if len(union) <= MAX_SHARED_KEYS:
        groups[tuple(sorted(union))] = list(range(len(props)))
    else:
        for i, p in enumerate(props):
            groups.setdefault(tuple(sorted(p)), []).append(i)
    found: list[Group] = []
    for keys, indexes in groups.items():
        # ``map`` of the bound ``get``: the cheapest way to read many keys of many dicts.
        if lead:
            rows = [[*lead[i], *map(props[i].get, keys)] for i in indexes]
        else:
            rows = [list(map(props[i].get, keys)) for i in indexes]
        found.append((keys, rows))
    return found


def map_literal(keys: Sequence[str], row: str, offset: int) -> str:
    """The Cypher map of ``keys`` read from list ``row`` from position ``offset`` on."""
    return ", ".join(f"{_quoted(key)}: {row}[{offset + i}]" for i, key in enumerate(keys))


def _quoted(key: str) -> str:
    # Flattening drops keys with a backtick (docs/graph-model.md); nothing else can hold one.
    if "`" in key or not key:
        raise ValueError(f"property key {key!r} cannot be written into a statement")
    return f"`{key}`"
