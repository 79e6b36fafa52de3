"""Latest telemetry values on twin nodes, so analysts can filter on current state in Cypher.

The ingest service copies each twin's newest value of each telemetry onto its node as
``_latest.<name>`` and its observation time as ``_latestAt.<name>`` (UTC ISO 8601 text with
milliseconds and ``Z``, like ``updatedAt``). DTDL names start with a letter, so these keys
cannot collide with a twin's properties, and they are not part of the twin's document:
writing them changes neither ``etag`` nor ``updatedAt`` (telemetry is not an edit of the
twin). A write of the twin (``put_twin``, ``patch_twin``, ``set_telemetry_ref``) replaces
the node's properties and so clears them until the next value arrives; readers then ask
the time-series store (``api.loaders``).

    MATCH (r:Room) WHERE r.`_latest.temperature` > 26 RETURN r.id
"""

from __future__ import annotations

from collections.abc import Mapping

from graph.store import GraphStore
from graph.times import utc_text_ns
from telemetry.points import FieldValue

LATEST_PREFIX = "_latest."
LATEST_AT_PREFIX = "_latestAt."

# One statement for a whole batch of twins; a twin deleted meanwhile simply matches nothing.
_WRITE_LATEST = """
UNWIND $rows AS row
MATCH (t:Twin {id: row.id})
SET t += row.props
RETURN count(t) AS written
"""


def latest_properties(
    values: Mapping[str, FieldValue], times: Mapping[str, int], stamps: dict[int, str] | None = None
) -> dict[str, FieldValue]:
    """Node properties for the newest ``values`` observed at ``times`` (ns since the epoch).

    ``stamps`` memoises the text of each time: a message's fields share one.
    """
    stamps = {} if stamps is None else stamps
    props: dict[str, FieldValue] = {LATEST_PREFIX + name: value for name, value in values.items()}
    for name, time_ns in times.items():
        stamp = stamps.get(time_ns)
        if stamp is None:
            stamp = stamps[time_ns] = utc_text_ns(time_ns)
        props[LATEST_AT_PREFIX + name] = stamp
    return props


Latest = Mapping[str, tuple[Mapping[str, FieldValue], Mapping[str, int]]]
"""Twin id -> (telemetry name -> newest value, telemetry name -> its time in ns)."""


def write_latest(store: GraphStore, twins: Latest, *, batch: int = 2000) -> int:
    """Write the latest values of many twins in ``UNWIND`` batches; the number of nodes written."""
    stamps: dict[int, str] = {}
    rows: list[dict[str, object]] = [
        {"id": twin_id, "props": latest_properties(values, times, stamps)}
        for twin_id, (values, times) in twins.items()
    ]
    written = 0
    for start in range(0, len(rows), batch):
        result = store.write(_WRITE_LATEST, {"rows": rows[start : start + batch]})
        if result.rows:
            written += int(result.rows[0][0])
    return written
