r"""Query parameters as FalkorDB's ``CYPHER name=value ...`` header, built fast.

FalkorDB takes parameters only as Cypher text in front of the query. Its Python client
builds that text with a generic recursive function that costs about half of a bulk
import's time (a batch of 5,000 twins is ~100,000 values). This encoder writes the same
text with type dispatch on exact types, cached map keys and no per-string function
call. The rules are the client's (``falkordb.helpers.stringify_param_value``):

- a string is double-quoted with ``\`` and ``"`` escaped by a backslash; everything else,
  newlines and any Unicode included, goes in raw (FalkorDB's parser takes it as is and,
  unlike JSON, would not decode ``\uXXXX``);
- except U+0000: FalkorDB's strings end at a NUL and it has no escape for one, so its
  parser fails the whole query ("Failed to parse query parameter"). A text holding one is
  refused here (``ValueError``, which the adapter reports as ``BAD_REQUEST``) before
  anything is sent;
- map keys and parameter names are backticked; an empty one, or one with a backtick,
  cannot be written (FalkorDB has no escape inside backticks): ``ValueError``;
- ``None`` is ``null``; lists and tuples are lists.

Unlike the client, a non-finite float is refused (``ValueError``) rather than sent as
``inf``, which FalkorDB would read as a variable name.

**Fast path.** A value made only of lists and scalars (no maps), such as the positional
rows of a bulk import, is written by orjson (in Rust): for those, JSON text *is*
FalkorDB's text (strings quoted with ``\"`` and ``\\``; ``\n``, ``\r``, ``\t``, ``\b``,
``\f`` are decoded by FalkorDB as by JSON; ``true``, ``false``, ``null``; Unicode raw).
JSON's only other escape, ``\uXXXX`` for the remaining control characters, FalkorDB would
not decode, so a text containing ``\u`` is written again by the exact encoder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import orjson


def params_header(params: Mapping[str, Any]) -> str:
    """``CYPHER `a`=1 `b`="x" `` for ``{"a": 1, "b": "x"}``; empty for no parameters."""
    if not params:
        return ""
    return "CYPHER " + "".join(f"{_name(k)}={_param_text(v)} " for k, v in params.items())


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _param_text(value: Any) -> str:
    if _plain(value):
        try:
            text = orjson.dumps(value).decode()
        except TypeError:  # an integer beyond 64 bits
            text = "\\u"
        if "\\u" not in text:
            return text
    return value_text(value)


def _plain(value: Any) -> bool:
    """Lists (or tuples) and finite scalars of exact types all the way down: JSON writes them
    as FalkorDB does (orjson would write NaN as ``null``; :func:`value_text` refuses it)."""
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind in _SCALARS:
        return True
    if kind is not list and kind is not tuple:
        return False
    # A plain loop: this runs over every value of a batch, and all() with a generator costs twice as much.
    for item in value:
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                return False
        elif kind not in _SCALARS and not _plain(item):
            return False
    return True


def value_text(value: Any) -> str:
    """One parameter value as FalkorDB Cypher text."""
    kind = type(value)
    if kind is str:
        text: str = value
        if "\x00" in text:
            raise ValueError(f"FalkorDB cannot store U+0000 (NUL) in text: {_shown(text)}")
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind is dict:
        return "{" + ",".join([_key(k) + value_text(v) for k, v in value.items()]) + "}"
    if kind is list or kind is tuple:
        return "[" + ",".join([value_text(v) for v in value]) + "]"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(f"a parameter cannot be {value!r}: FalkorDB has no literal for it")
        return float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    return _subclass_text(value)


def _subclass_text(value: Any) -> str:
    """Values of subclasses (``StrEnum``, ``OrderedDict``, ...): the same text as their base type."""
    if isinstance(value, str):
        return value_text(str(value))
    if isinstance(value, bool):
        return value_text(bool(value))
    if isinstance(value, int):
        return value_text(int(value))
    if isinstance(value, float):
        return value_text(float(value))
    if isinstance(value, Mapping):
        return value_text(dict(value))
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return value_text(list(value))
    raise ValueError(f"cannot send a {type(value).__name__} as a Cypher parameter")


@lru_cache(maxsize=8192)
def _key(key: object) -> str:
    """A map key as ``` `key`: ``` (keys repeat on every row of a batch, hence the cache)."""
    return f"{_name(key)}:"


def _name(key: object) -> str:
    text = str(key)
    if not text or "`" in text or "\x00" in text:
        raise ValueError(
            f"a Cypher map key or parameter name cannot be empty or hold a backtick or U+0000: {_shown(text)}"
        )
    return f"`{text}`"


def _shown(text: str) -> str:
    """``text`` for an error message: quoted, cut to 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} characters)"
