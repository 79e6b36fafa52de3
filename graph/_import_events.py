"""What one batch of a bulk import changed, announced once the batch's statements returned.

An import writes a batch with a few ``UNWIND`` statements; each returns only once it is
committed, so after the last one the batch's changes are durable. Then, as ``TwinGraph``
does after each change, the graph's version token is renewed (``graph._version``: cached
containment trees in any process see the change) and the change events are published in
the order the lines came, shaped like ``TwinGraph``'s (``docs/graph-model.md``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from graph._version import bump
from graph.events import ChangeEvent, ChangeKind, EventBus, document_patch
from graph.store import GraphStore
from graph.telemetry import TELEMETRY_COLUMN, ref_from_node


class BatchOutbox:
    """The events of one batch, held until :meth:`commit`; ``at`` is the batch's ``updatedAt``."""

    def __init__(self, store: GraphStore, events: EventBus | None, at: str) -> None:
        self.store = store
        self.events = events
        self.at = at
        self.written = False
        self._pending: list[ChangeEvent] = []

    def twin_created(
        self, twin_id: str, model: str, etag: str, document: Mapping[str, Any], ref: Mapping[str, Any]
    ) -> None:
        self.written = True
        if self.events is not None:
            telemetry = ref_from_node(ref, model, twin_id).to_dict()
            data = {"etag": etag, "properties": copy.deepcopy(dict(document)), "telemetry": telemetry}
            self._pending.append(ChangeEvent(ChangeKind.TWIN_CREATED, twin_id, self.at, model, data))

    def twin_replaced(
        self,
        twin_id: str,
        model: str,
        etag: str,
        document: Mapping[str, Any],
        ref: Mapping[str, Any],
        before: str,
        old_ref: list[list[Any]],
    ) -> None:
        """A twin that existed was rewritten: its patch, and its reference when that changed."""
        self.written = True
        if self.events is None:
            return
        data: dict[str, Any] = {"etag": etag, "patch": document_patch(json.loads(before), document)}
        new = ref_from_node(ref, model, twin_id)
        if ref_from_node({TELEMETRY_COLUMN: old_ref}, model, twin_id) != new:
            data["telemetry"] = new.to_dict()
        self._pending.append(ChangeEvent(ChangeKind.TWIN_UPDATED, twin_id, self.at, model, data))

    def relationship_written(
        self,
        replaced: bool,
        rid: str,
        source: str,
        source_model: str,
        name: str,
        target: str,
        properties: Mapping[str, Any],
    ) -> None:
        """A relationship was created, or (``replaced``) one of the same source and id rewritten."""
        self.written = True
        if self.events is not None:
            kind = ChangeKind.RELATIONSHIP_UPDATED if replaced else ChangeKind.RELATIONSHIP_CREATED
            data = {"name": name, "target": target, "properties": copy.deepcopy(dict(properties))}
            self._pending.append(ChangeEvent(kind, rid, self.at, source_model, data, source))

    def wrote(self) -> None:
        """Something was written that announces nothing (it is still a change of the graph)."""
        self.written = True

    def commit(self) -> None:
        """The batch's statements have returned: renew the version, then publish its events."""
        if self.written:
            bump(self.store)
        pending, self._pending = self._pending, []
        self.written = False
        if self.events is not None:
            for event in pending:
                self.events.publish(event)
