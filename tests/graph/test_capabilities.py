"""``GraphCapabilities``: what each engine declares of itself holds on that engine."""

from __future__ import annotations

from graph.store import GraphStore

DOUBLES = [0.1 + 0.2, 1 / 3, 123456789.123456789, 1e22, -2.5e-300]


def test_an_engine_with_exact_floats_returns_each_double_as_stored(store: GraphStore) -> None:
    """``exact_floats`` lets a projected read take a double from the node instead of the document."""
    store.write(
        "UNWIND range(0, size($values) - 1) AS i CREATE (:Twin {id: 'd' + toString(i), value: $values[i]})",
        {"values": DOUBLES},
    )
    rows = store.query_rows("MATCH (t:Twin) RETURN t.id, t.value ORDER BY t.id")
    read = [value for _, value in rows]
    if store.capabilities.exact_floats:
        assert read == DOUBLES
    else:
        # The reason the flag is off: some double comes back other than stored.
        assert read != DOUBLES
        assert read == [float(f"{value:.15g}") for value in DOUBLES]
