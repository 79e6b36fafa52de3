"""The messages an edge sends its cloud: topics, ids and the one envelope (``docs/edge-cloud.md``).

Every message of site ``<site>`` goes to ``kgtwin/uplink/<site>/<kind>`` (the site id one
escaped topic level) at QoS 1, as one JSON object::

    {"id": "<site>:<seq>", "site": "<site>", "seq": 17, "kind": "telemetry", "body": ...}

``seq`` increases by one per message the edge queued (``ingest.uplink_queue``); gaps are
messages the edge dropped on overflow. ``body`` is, by kind: ``telemetry``, a list of
points ``[bucket, measurement, tags, fields, time_ns]`` (the spool's form); ``change``,
one ``ChangeEvent.to_dict()``; ``snapshot``, ``graph.sites.site_snapshot`` (models,
twins, relationships in the bulk format's shapes); ``refusal``, a model change of the
cloud the edge refused: ``{"change", "dtmi", "code", "reason", "details", "at"}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.broker import topic_level
from ingest.uplink_queue import MessageKind, QueuedMessage
from telemetry.points import TelemetryPoint

UPLINK_ROOT = "kgtwin/uplink"
UPLINK_FILTER = f"{UPLINK_ROOT}/+/+"
MODELS_DOWNLINK_FILTERS = (
    "kgtwin/events/model.uploaded/+",
    "kgtwin/events/model.decommissioned/+",
    "kgtwin/events/model.deleted/+",
)
"""Where the cloud announces model changes (``api.notifications``): the edges' downlink."""


def uplink_topic(site: str, kind: MessageKind) -> str:
    return f"{UPLINK_ROOT}/{topic_level(site)}/{kind.value}"


def encode_points(points: Sequence[TelemetryPoint]) -> bytes:
    # orjson: on the edge's ingest path, once per stored batch (bench/uplink.py).
    return orjson.dumps(
        [[p.bucket, p.measurement, p.tags, p.fields, p.time_ns] for p in points], default=dict
    )


def decode_points(body: Any) -> list[TelemetryPoint]:
    return [TelemetryPoint(str(b), str(m), dict(t), dict(f), int(ns)) for b, m, t, f, ns in body]


def envelope(site: str, message: QueuedMessage) -> bytes:
    """The message as sent: the queued body inside the envelope, without decoding it again."""
    head = json.dumps(
        {"id": f"{site}:{message.seq}", "site": site, "seq": message.seq, "kind": message.kind.value},
        separators=(",", ":"),
    )
    return head[:-1].encode("utf-8") + b',"body":' + message.body + b"}"


@dataclass(frozen=True)
class SiteMessage:
    """One message as the cloud reads it."""

    site: str
    seq: int
    kind: MessageKind
    body: Any

    @property
    def id(self) -> str:
        return f"{self.site}:{self.seq}"


def read_envelope(payload: bytes) -> SiteMessage:
    """The message in ``payload``; ``ValueError`` naming what is wrong for anything else."""
    try:
        found = orjson.loads(payload)
        site, seq, kind = found["site"], found["seq"], MessageKind(found["kind"])
        body = found["body"]
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not an uplink message: {exc!r}") from None
    if not isinstance(site, str) or not site or not isinstance(seq, int) or seq < 1:
        raise ValueError("not an uplink message: site must be text and seq a positive integer")
    return SiteMessage(site, seq, kind, body)
