"""The bulk NDJSON format (``docs/bulk-format.md``): reading and writing it as streams.

A file is a header, then sections of models, twins and relationships, one JSON value per
line, in the spirit of Azure Digital Twins import jobs. Reading yields one
:class:`BulkLine` at a time with its line number and the bytes read so far, so a file
larger than memory is read in constant memory; writing takes iterators of the same shape.
Nothing here touches a database: ``graph.importer`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any, Protocol

import orjson

FILE_VERSION = "1.0.0"
HEADER = {"fileVersion": FILE_VERSION, "format": "kgtwin"}
# Keys of a twin line and a relationship line that are not DTDL properties (ADT's names).
TWIN_ID = "$dtId"
METADATA = "$metadata"
MODEL = "$model"
TELEMETRY = "$telemetry"
RELATIONSHIP_ID = "$relationshipId"
TARGET_ID = "$targetId"
RELATIONSHIP_NAME = "$relationshipName"
SECTION = "Section"


class ByteStream(Protocol):
    """What a bulk file is read from: a binary file, or anything else that reads bytes in chunks."""

    def read(self, size: int = -1, /) -> bytes: ...


class Section(StrEnum):
    """The sections of a bulk file, in the order they must come."""

    HEADER = "Header"
    MODELS = "Models"
    TWINS = "Twins"
    RELATIONSHIPS = "Relationships"


_ORDER = list(Section)


@dataclass(frozen=True, slots=True)
class BulkIssue:
    """A line of a bulk file that was refused: its number (1-based), a stable code and why."""

    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}: {self.message}"


@dataclass(slots=True)  # not frozen: a frozen dataclass is built a third slower, for every line
class BulkLine:
    """One content line: its section, number, the bytes read up to its end, and its JSON value.

    ``value`` is ``None`` when the line is not valid content; ``issue`` then says why.
    """

    section: Section
    line: int
    offset: int
    value: Any
    issue: BulkIssue | None = None


def read_bulk(stream: ByteStream) -> Iterator[BulkLine]:
    """The content lines of a bulk file, one at a time (section lines and blank lines are skipped).

    A line that is not JSON, a section out of order, or content before the header yields a
    ``BulkLine`` with an ``issue``; reading goes on, so every problem of a file is reported.
    """
    section: Section | None = None
    offset = 0
    for number, raw in enumerate(_raw_lines(stream), start=1):
        offset += len(raw)
        text = raw.strip()
        if not text:
            continue
        try:
            value = _loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            yield BulkLine(
                section or Section.HEADER, number, offset, None, _issue(number, "JSON_INVALID", exc)
            )
            continue
        if type(value) is dict and len(value) == 1 and SECTION in value:
            found = _section(value[SECTION])
            if found is None or (section is not None and _ORDER.index(found) <= _ORDER.index(section)):
                expected = ", ".join(s.value for s in _ORDER)
                message = f"section {value[SECTION]!r} is unknown or out of order (expected {expected})"
                yield BulkLine(
                    section or Section.HEADER,
                    number,
                    offset,
                    None,
                    BulkIssue(number, "SECTION_INVALID", message),
                )
                continue
            if section is None and found is not Section.HEADER:
                yield BulkLine(
                    found,
                    number,
                    offset,
                    None,
                    BulkIssue(number, "HEADER_MISSING", "a bulk file starts with the Header section"),
                )
            section = found
            continue
        if section is None:
            message = 'a bulk file starts with {"Section": "Header"}'
            yield BulkLine(Section.HEADER, number, offset, None, BulkIssue(number, "HEADER_MISSING", message))
            section = Section.HEADER
            continue
        issue = _shape_issue(section, number, value)
        yield BulkLine(section, number, offset, None if issue else value, issue)


CHUNK = 1 << 16


def _raw_lines(stream: ByteStream) -> Iterator[bytes]:
    """The lines of ``stream``, newline included, read 64 KiB at a time (a third faster
    than iterating the file: an import reads millions of short lines)."""
    rest = b""
    while chunk := stream.read(CHUNK):
        lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _loads(text: bytes) -> Any:
    """One line's JSON value: orjson (several times faster), the standard parser where it refuses.

    orjson refuses what ``json`` accepts and the importer reports later with its own
    reasons (integers beyond 64 bits, NaN), and ``json``'s messages name the column.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _section(name: object) -> Section | None:
    if not isinstance(name, str):
        return None
    try:
        return Section(name)
    except ValueError:
        return None


def _issue(line: int, code: str, exc: Exception) -> BulkIssue:
    return BulkIssue(line, code, str(exc))


def _shape_issue(section: Section, line: int, value: Any) -> BulkIssue | None:
    """Why ``value`` cannot be a line of ``section`` (its keys and their types), or None."""
    if not isinstance(value, dict):
        return BulkIssue(line, "LINE_INVALID", f"a {section.value} line is a JSON object")
    if section is Section.RELATIONSHIPS:  # first: most lines of a file are relationships
        if _texts(value, _RELATIONSHIP_KEYS):
            return None
        missing = [key for key in _RELATIONSHIP_KEYS if not _text(value.get(key))]
        return BulkIssue(line, "LINE_INVALID", f"a relationship line needs {', '.join(missing)}")
    if section is Section.HEADER:
        version = value.get("fileVersion")
        if version != FILE_VERSION:
            return BulkIssue(
                line, "VERSION_UNSUPPORTED", f"fileVersion must be {FILE_VERSION!r}, not {version!r}"
            )
    elif section is Section.MODELS:
        if not isinstance(value.get("@id"), str):
            return BulkIssue(line, "LINE_INVALID", "a model line is one DTDL Interface with an @id")
    elif section is Section.TWINS:
        metadata = value.get(METADATA)
        if not _text(value.get(TWIN_ID)) or not isinstance(metadata, dict) or not _text(metadata.get(MODEL)):
            return BulkIssue(line, "LINE_INVALID", f"a twin line needs {TWIN_ID} and {METADATA}.{MODEL}")
        if TELEMETRY in value and not _telemetry_shape(value[TELEMETRY]):
            message = (
                f"{TELEMETRY} is an object with bucket and measurement (strings), tags (an object "
                "of strings) and fields (a list of strings)"
            )
            return BulkIssue(line, "LINE_INVALID", message)
    return None


_RELATIONSHIP_KEYS = (TWIN_ID, RELATIONSHIP_ID, TARGET_ID, RELATIONSHIP_NAME)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _texts(value: dict[str, Any], keys: tuple[str, ...]) -> bool:
    """Whether ``value`` holds a non-empty string at each of ``keys`` (inline: it runs for every line)."""
    for key in keys:
        item = value.get(key)
        if type(item) is not str or not item:
            return False
    return True


def _telemetry_shape(value: object) -> bool:
    """Whether ``value`` has the JSON shape of ``TelemetryRef.to_dict()`` (its meaning is checked later)."""
    if not isinstance(value, dict) or not set(value) <= {"bucket", "measurement", "tags", "fields"}:
        return False
    tags, fields = value.get("tags", {}), value.get("fields", [])
    return (
        isinstance(value.get("bucket"), str)
        and isinstance(value.get("measurement"), str)
        and isinstance(tags, dict)
        and all(isinstance(v, str) for v in tags.values())
        and isinstance(fields, list)
        and all(isinstance(f, str) for f in fields)
    )


_TWIN_KEYS = (TWIN_ID, METADATA, TELEMETRY)


def twin_line(
    twin_id: str, model: str, document: Mapping[str, Any], telemetry: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The line of one twin: its id, model, telemetry reference (only when given) and DTDL properties."""
    body = {k: v for k, v in document.items() if k not in _TWIN_KEYS}
    head: dict[str, Any] = {TWIN_ID: twin_id, METADATA: {MODEL: model}}
    if telemetry is not None:
        head[TELEMETRY] = dict(telemetry)
    return {**head, **body}


def twin_document(value: Mapping[str, Any]) -> dict[str, Any]:
    """The DTDL property document of a twin line."""
    return {k: v for k, v in value.items() if k not in _TWIN_KEYS}


def relationship_line(
    source: str, relationship_id: str, name: str, target: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The line of one relationship: source, id, name, target and its DTDL properties."""
    keys = (TWIN_ID, RELATIONSHIP_ID, TARGET_ID, RELATIONSHIP_NAME)
    body = {k: v for k, v in properties.items() if k not in keys}
    return {
        TWIN_ID: source,
        RELATIONSHIP_ID: relationship_id,
        RELATIONSHIP_NAME: name,
        TARGET_ID: target,
        **body,
    }


def relationship_properties(value: Mapping[str, Any]) -> dict[str, Any]:
    """The DTDL properties of a relationship line."""
    keys = (TWIN_ID, RELATIONSHIP_ID, TARGET_ID, RELATIONSHIP_NAME)
    return {k: v for k, v in value.items() if k not in keys}


def write_bulk(
    out: IO[str],
    models: Iterable[Mapping[str, Any]],
    twins: Iterable[Mapping[str, Any]],
    relationships: Iterable[Mapping[str, Any]],
) -> int:
    """Write a whole bulk file from three streams of lines; answers how many content lines."""
    count = 0
    for section, lines in (
        (Section.HEADER, [HEADER]),
        (Section.MODELS, models),
        (Section.TWINS, twins),
        (Section.RELATIONSHIPS, relationships),
    ):
        out.write(_dump({SECTION: section.value}))
        for line in lines:
            out.write(_dump(line))
            count += 1
    return count - 1


def _dump(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
