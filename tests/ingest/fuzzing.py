"""Hypothesis strategies for MQTT topics and payloads as broken devices send them.

Shared by the fuzz of the edge profile (``kgtwin serve``, embedded broker) and of the
cloud profile (Mosquitto and ``kgtwin ingest``): topics aimed at known twins (whose model
checks every value) and at made-up ones; payloads from near-valid readings and batches to
arbitrary JSON, bytes and text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from tests.ingest.helpers import FIELDS, topic

# Text as devices might send it: any code point MQTT's UTF-8 can carry (no surrogates),
# control characters and U+0000 included.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, ANY_TEXT)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=8,
)
TS = st.one_of(
    NUMBER,
    ANY_TEXT,
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z", 1e30, -1]),
)
NAME = st.one_of(st.sampled_from([*FIELDS, "state", "count", "serial", "ts"]), ANY_TEXT)


def as_json(value: Any) -> bytes:
    """JSON as Python writes it: NaN and Infinity included, which JSON forbids."""
    return json.dumps(value, allow_nan=True).encode()


def twin_ids(known: Sequence[str]) -> st.SearchStrategy[str]:
    """A known twin's id, or any text that could fill one topic level."""
    return st.one_of(st.sampled_from(list(known)), ANY_TEXT.filter(lambda s: bool(s) and "/" not in s))


def readings(extra: st.SearchStrategy[dict[str, Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """One reading object: arbitrary, or near-valid (a value the model takes beside fuzzed ones).

    ``extra`` adds keys every near-valid reading carries (a payload twin id, say).
    """
    good = st.fixed_dictionaries({"v0": st.floats(allow_nan=False, allow_infinity=False)})
    if extra is not None:
        good = st.builds(lambda a, b: {**a, **b}, good, extra)
    return st.one_of(
        st.dictionaries(NAME, st.one_of(VALUE, TS), max_size=6),
        st.builds(
            lambda good, rest: {**rest, **good}, good, st.dictionaries(NAME, st.one_of(VALUE, TS), max_size=3)
        ),
    )


def payloads(reading: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """A reading, a batch of them, any JSON, any bytes, nothing, or text."""
    return st.one_of(
        reading.map(as_json),
        st.lists(reading, max_size=4).map(as_json),
        VALUE.map(as_json),
        st.binary(max_size=200),
        st.just(b""),
        ANY_TEXT.map(str.encode),
    )


def telemetry_topics(known: Sequence[str]) -> st.SearchStrategy[str]:
    """Topics of the default mapping and near it; paho refuses empty topics and wildcards."""
    ids = twin_ids(known)
    return st.one_of(
        ids.map(topic),
        st.builds(lambda a, b: f"kgtwin/twins/{a}/{b}", ids, ANY_TEXT),
        st.builds(lambda a: f"kgtwin/{a}", ANY_TEXT),
    ).filter(publishable)


def publishable(name: str) -> bool:
    """Whether paho publishes to ``name`` (not empty, no wildcard, within MQTT's length)."""
    return bool(name) and not set(name) & {"+", "#"} and len(name.encode()) < 65_535
