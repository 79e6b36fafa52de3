"""The media types of GraphQL answers over HTTP, chosen from the request's ``Accept`` header.

GraphQL over HTTP (the specification's §Accept) has two: ``application/graphql-response+json``,
whose status codes tell a request error (4xx, no ``data``) from an executed operation, and
``application/json``, the legacy one, which answers 200 for any well-formed request.
"""

from __future__ import annotations

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, from an ``Accept`` header (RFC 9110 §12.5.1); None for neither.

    An exact media range outranks ``application/*`` and ``*/*`` at the same q; between the
    two exact types ``application/graphql-response+json`` wins a tie, and a wildcard
    means ``application/json``, which every client of the legacy behaviour understands.
    """
    if accept is None or not accept.strip():
        return JSON
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        ranges.append((media.strip().lower(), _quality(params)))
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for offered, preference in ((GRAPHQL_RESPONSE, 1), (JSON, 0)):
        # The most specific range naming a type gives its quality (RFC 9110 §12.5.1).
        matches = [(_SPECIFICITY.get(m, 2), q) for m, q in ranges if _covers(m, offered)]
        if not matches:
            continue
        specificity, quality = max(matches, key=lambda match: match[0])
        if quality <= 0:
            continue
        rank = (quality, specificity, preference if specificity == 2 else 1 - preference)
        if best is None or rank > best:
            best, chosen = rank, offered
    return chosen


_SPECIFICITY = {"*/*": 0, "application/*": 1}


def _covers(media_range: str, offered: str) -> bool:
    return media_range in (offered, "application/*", "*/*")


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0
