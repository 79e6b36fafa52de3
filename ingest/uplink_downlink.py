"""The downlink: model changes made in the cloud, applied at the edge unless they would harm its twins.

A modeler changes models once, in the cloud; the cloud's API announces each change on
``kgtwin/events/model.<change>/<dtmi>`` (``api.notifications``) and every edge's uplink
session follows those topics (``ingest.uplink_messages.MODELS_DOWNLINK_FILTERS``).
:class:`ModelDownlink` applies them to the edge's registry with the rules the edge's own
API would apply:

- an upload is stored unless the edge holds the DTMI with another document
  (``MODEL_CONFLICT``: its twins would no longer mean what they meant);
- a decommission is applied (existing twins keep their model, no new twin may use it);
- a delete is applied unless the edge's twins, or other models, still use the model
  (``CONFLICT``, as the edge's API answers).

A change the edge refuses is logged there and reported back to the cloud as a
``refusal`` message of the site's stream, through the uplink queue: reported once, in
order, even when the refusal happens while the link is down. The cloud's receiver
counts and logs it (``ingest.uplink_receiver``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import structlog

from graph.events import ChangeEvent, ChangeKind
from graph.model_store import GraphModelStore
from graph.site_sync import upload_models
from graph.store import GraphStore
from graph.times import utc_now
from ingest.uplink_queue import MessageKind, UplinkQueue
from ontology.errors import KgtwinError
from ontology.policy import DEFAULT_POLICY, DtdlPolicy
from ontology.registry import ModelRegistry

_log = structlog.get_logger("kgtwin.uplink")


class ModelDownlink:
    """Applies the cloud's model changes to the edge's registry; refusals go to the cloud.

    ``registry`` answers the edge's model registry (the one its API uses, so a decommission
    takes effect for the next twin created there).
    """

    def __init__(
        self,
        store: GraphStore,
        registry: Callable[[], ModelRegistry],
        queue: UplinkQueue,
        site: str,
        *,
        policy: DtdlPolicy = DEFAULT_POLICY,
    ) -> None:
        self.store = store
        self.registry = registry
        self.queue = queue
        self.site = site
        self.policy = policy
        self.applied = 0
        self.refused = 0

    def apply(self, event: ChangeEvent) -> None:
        """Apply one announced model change (other events are ignored)."""
        dtmi = event.id
        if event.kind is ChangeKind.MODEL_UPLOADED:
            document = event.data.get("document")
            if not isinstance(document, dict):
                return
            report = upload_models(self.store, [document], policy=self.policy)
            if report.issues:
                issues = [str(issue) for issue in report.issues]
                codes = sorted({issue.code for issue in report.issues})
                self._refuse(event, codes[0], "; ".join(issues), {"issues": issues})
            elif report.models:
                self.registry().refresh()
                self._applied(event)
            return
        if event.kind not in (ChangeKind.MODEL_DECOMMISSIONED, ChangeKind.MODEL_DELETED):
            return
        registry = self.registry()
        if not registry.knows(dtmi):
            # Never received here (or refused when uploaded): nothing to change.
            _log.info("uplink.model_unknown", site=self.site, change=event.kind.value, dtmi=dtmi)
            return
        try:
            if event.kind is ChangeKind.MODEL_DECOMMISSIONED:
                if event.data.get("decommissioned", True) is not True:
                    return  # decommissioning cannot be undone: nothing to apply
                registry.decommission(dtmi)
            else:
                registry.delete(dtmi, twin_count=GraphModelStore(self.store).twin_count)
        except KgtwinError as exc:
            self._refuse(event, str(exc.code), exc.message, exc.details)
            return
        self._applied(event)

    def _applied(self, event: ChangeEvent) -> None:
        self.applied += 1
        _log.info("uplink.model_applied", site=self.site, change=event.kind.value, dtmi=event.id)

    def _refuse(self, event: ChangeEvent, code: str, reason: str, details: dict[str, Any]) -> None:
        self.refused += 1
        _log.warning(
            "uplink.model_refused",
            site=self.site,
            change=event.kind.value,
            dtmi=event.id,
            code=code,
            reason=reason,
        )
        body = {
            "change": event.kind.value,
            "dtmi": event.id,
            "code": code,
            "reason": reason,
            "details": details,
            "at": utc_now(),
        }
        self.queue.push(MessageKind.REFUSAL, orjson.dumps(body, default=str))
