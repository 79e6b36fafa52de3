"""Dead letters: why a message (or one object of a batch) was refused, as a device reads it back.

A refused message is published to ``kgtwin/deadletter`` as a JSON document naming the
``reason`` (a stable code), a ``detail`` for people, the topic, the twin when known, a
``path`` (a JSON Pointer into the message, RFC 6901: ``/1/ts`` for the ``ts`` of a batch's
second object) and the payload echoed back. docs/ingest.md gives the format.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

DEADLETTER_TOPIC = "kgtwin/deadletter"


class Reason(StrEnum):
    """Why a message went to the dead-letter topic; the stable ``reason`` of a dead letter."""

    BAD_JSON = "BAD_JSON"
    BAD_SHAPE = "BAD_SHAPE"
    OVERSIZED = "OVERSIZED"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    NO_TWIN_ID = "NO_TWIN_ID"
    BAD_TWIN_ID = "BAD_TWIN_ID"
    UNKNOWN_TWIN = "UNKNOWN_TWIN"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    WRONG_TYPE = "WRONG_TYPE"
    NO_MAPPING = "NO_MAPPING"
    STORE_REFUSED = "STORE_REFUSED"
    UNPROCESSABLE = "UNPROCESSABLE"


class Rejected(Exception):
    """Raised when a message (or one object of a batch) cannot become telemetry points."""

    def __init__(self, reason: Reason, detail: str, *, twin_id: str | None = None, path: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.twin_id = twin_id
        self.path = path


def pointer_step(token: str) -> str:
    """One reference token of a JSON Pointer: ``~`` and ``/`` escaped (RFC 6901 §3)."""
    return token.replace("~", "~0").replace("/", "~1")


def dead_letter(
    rejected: Rejected, topic: str, payload: bytes, received_ns: int, *, max_echo_bytes: int = 4096
) -> bytes:
    """The JSON document published to the dead-letter topic for one refused message.

    The original payload is echoed (as text when it is UTF-8, else base64), cut to
    ``max_echo_bytes`` so an oversized message does not become an oversized dead letter.
    """
    echo = payload[:max_echo_bytes]
    letter: dict[str, Any] = {
        "reason": str(rejected.reason),
        "detail": rejected.detail,
        "topic": topic,
        "receivedAt": datetime.fromtimestamp(received_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds"),
    }
    if rejected.twin_id is not None:
        letter["twinId"] = rejected.twin_id
    if rejected.path:
        letter["path"] = rejected.path
    try:
        letter["payload"] = echo.decode("utf-8")
    except UnicodeDecodeError:
        letter["payloadBase64"] = base64.b64encode(echo).decode("ascii")
    if len(payload) > max_echo_bytes:
        letter["payloadTruncated"] = True
    return json.dumps(letter, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
