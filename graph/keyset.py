"""Keyset paging: the Cypher condition "strictly after this key", in the order a page is sorted.

A page resumes after the last key it returned (never by ``SKIP``), so items written or
deleted elsewhere between two pages do not shift the rest. That only holds when the
condition and ``ORDER BY`` agree on what "after" means. For numbers and booleans they do on
every engine. For strings Neo4j 5 does not: ``ORDER BY`` and an index seek order by code
point, but ``<`` and ``>`` evaluated as a filter between a stored string and a parameter
compare UTF-16 code units, so a character above U+FFFF (an emoji, a mathematical letter)
sorts after U+E000..U+FFFF (private use, fullwidth forms, U+FFFD) yet compares before it.
Which of the two a plain ``t.id > $last`` gets depends on the plan; either way a page
boundary could skip or repeat items.

:func:`after` compares ``expr + ''`` on an engine whose string index answers ranges
wrongly (``GraphCapabilities.string_index_ranges_exact``: FalkorDB). Otherwise it writes the
plain comparison when the key holds no character at or above
U+E000: both orders agree on it, so it stays one index-friendly range. Otherwise, on an
engine with ``GraphCapabilities.utf16_string_compare``, it compares ``expr + ''`` (a value
no index can serve, so always the UTF-16 filter) and corrects it: the two orders disagree
only where the first character in which an item differs from the key is above U+FFFF on one
side and in U+E000..U+FFFF on the other. For each such character of the key one clause (a
prefix test and a range over UTF-16 units) adds the items the comparison wrongly left out
or removes the ones it wrongly let in.
"""

from __future__ import annotations

from typing import Any

from graph.store import GraphCapabilities

_FIRST_ASTRAL = "\U00010000"
"""The least character above U+FFFF: in UTF-16 the least surrogate pair."""
_FIRST_HIGH_BMP = "\ue000"
"""The first character after the surrogates: U+E000..U+FFFF sort above every pair in UTF-16."""


def after(
    expr: str,
    key: Any,
    params: dict[str, Any],
    *,
    descending: bool = False,
    capabilities: GraphCapabilities,
) -> str:
    """The condition that ``expr`` comes strictly after ``key`` in ``ORDER BY expr`` (``DESC``).

    ``key`` goes into ``params`` under a fresh name (``ks0``, ``ks1``, ...), as do the
    prefixes of a correction. ``key`` must not be None: a missing value sorts last and is
    the caller's to handle.
    """
    before = "<" if descending else ">"
    if isinstance(key, str) and not capabilities.string_index_ranges_exact:
        return f"({expr} + '') {before} ${_param(params, key)}"
    if not (
        capabilities.utf16_string_compare and isinstance(key, str) and max(key, default="") >= _FIRST_HIGH_BMP
    ):
        return f"{expr} {before} ${_param(params, key)}"
    expr = f"({expr} + '')"
    plain = f"{expr} {before} ${_param(params, key)}"
    # ``grown``: items whose first different character is above U+FFFF where the key has one
    # in U+E000..U+FFFF (after the key by code point, before it by UTF-16); ``shrunk``: the
    # reverse. Ascending adds ``grown`` and removes ``shrunk``; descending the other way.
    grown: list[str] = []
    shrunk: list[str] = []
    for offset, char in enumerate(key):
        if char >= _FIRST_HIGH_BMP:
            prefix = key[:offset]
            starts = f"{expr} STARTS WITH ${_param(params, prefix)}"
            high = f"${_param(params, prefix + _FIRST_HIGH_BMP)}"
            if char > "\uffff":
                # The item has U+E000..U+FFFF where the key has a pair: its next unit is >= U+E000.
                shrunk.append(f"({starts} AND {expr} >= {high})")
            else:
                # The item has a pair where the key has U+E000..U+FFFF: the unit is a surrogate.
                astral = f"${_param(params, prefix + _FIRST_ASTRAL)}"
                grown.append(f"({starts} AND {expr} >= {astral} AND {expr} < {high})")
    added, removed = (shrunk, grown) if descending else (grown, shrunk)
    condition = plain
    if removed:
        condition = f"({condition} AND NOT ({' OR '.join(removed)}))"
    if added:
        condition = f"({condition} OR {' OR '.join(added)})"
    return condition


def _param(params: dict[str, Any], value: Any) -> str:
    """Put ``value`` into ``params`` under the first free name ``ks0``, ``ks1``, ... and return it."""
    index = len(params)
    while f"ks{index}" in params:
        index += 1
    params[f"ks{index}"] = value
    return f"ks{index}"
