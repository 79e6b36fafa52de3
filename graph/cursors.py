"""Cursors: where a page ends, as opaque text a client hands back for the next page.

One codec for every paged read (twins by search, simulation runs): the cursor is the
page's last sort key and id as compact JSON, in URL-safe base64 without padding, so it
travels in a URL or a GraphQL string unchanged. What the parts mean, and whether a
cursor fits the query it is given to, is the reader's to check.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any


def encode_cursor(parts: Sequence[Any]) -> str:
    """The cursor of ``parts`` (JSON values)."""
    text = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: object, length: int) -> list[Any] | None:
    """The ``length`` parts of a cursor :func:`encode_cursor` made; None for anything else."""
    if not isinstance(cursor, str):
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        return None
    return parts if isinstance(parts, list) and len(parts) == length else None
