"""ADT's import-job files, read as kgtwin bulk files (``docs/bulk-format.md``).

An Azure Digital Twins import file has the sections kgtwin's bulk format took from it
(``Header``, ``Models``, ``Twins``, ``Relationships``), but its lines carry what ADT's
API shows: a twin's ``$metadata`` holds per-property metadata beside ``$model`` (and each
Component has a ``$metadata`` of its own), and twins and relationships may carry
``$etag``. :class:`AdtImportStream` wraps such a file and hands ``graph.importer`` the
lines it reads: twins keep ``$dtId``, ``$metadata.$model`` and their properties,
Components their properties; relationships keep their four ``$`` keys and properties.
Everything else ``$`` is service state kgtwin stamps itself (etags, times), so it is
dropped. A line that is not JSON, or a section line, passes through unchanged for the
importer to judge, so its line numbers stay those of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from graph.bulk import (
    METADATA,
    MODEL,
    RELATIONSHIP_ID,
    RELATIONSHIP_NAME,
    SECTION,
    TARGET_ID,
    TELEMETRY,
    TWIN_ID,
    ByteStream,
    Section,
)

CHUNK = 1 << 16
_RELATIONSHIP_KEYS = frozenset({TWIN_ID, RELATIONSHIP_ID, RELATIONSHIP_NAME, TARGET_ID})


def adt_twin(value: dict[str, Any]) -> dict[str, Any]:
    """A twin line of ADT's format as a kgtwin bulk twin line."""
    line: dict[str, Any] = {}
    for key, item in value.items():
        if key == METADATA:
            line[key] = {MODEL: item.get(MODEL)} if isinstance(item, dict) else item
        elif key.startswith("$"):
            if key in (TWIN_ID, TELEMETRY):  # $telemetry: a kgtwin export read as ADT's format
                line[key] = item
        elif isinstance(item, dict) and METADATA in item:
            line[key] = {k: v for k, v in item.items() if not k.startswith("$")}  # a Component
        else:
            line[key] = item
    return line


def adt_relationship(value: dict[str, Any]) -> dict[str, Any]:
    """A relationship line of ADT's format as a kgtwin bulk relationship line."""
    return {k: v for k, v in value.items() if not k.startswith("$") or k in _RELATIONSHIP_KEYS}


class AdtImportStream:
    """A binary stream of kgtwin bulk lines read from a stream of ADT import lines (``read`` only)."""

    def __init__(self, source: ByteStream) -> None:
        self._lines = self._translated(source)
        self._buffer = b""
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            line = next(self._lines, None)
            if line is None:
                break
            self._buffer += line
        if size < 0:
            size = len(self._buffer)
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk

    def _translated(self, source: ByteStream) -> Iterator[bytes]:
        section: str | None = None
        for raw in _lines(source):
            self.bytes_read += len(raw)
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield raw
                continue
            if isinstance(value, dict) and len(value) == 1 and SECTION in value:
                section = value[SECTION] if isinstance(value[SECTION], str) else None
                yield raw
                continue
            if isinstance(value, dict) and section == Section.TWINS.value:
                yield orjson.dumps(adt_twin(value)) + b"\n"
            elif isinstance(value, dict) and section == Section.RELATIONSHIPS.value:
                yield orjson.dumps(adt_relationship(value)) + b"\n"
            else:
                yield raw


def _lines(stream: ByteStream) -> Iterator[bytes]:
    rest = b""
    while chunk := stream.read(CHUNK):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part + b"\n"
    if rest:
        yield rest + b"\n"
