"""Edits of the JSON text itself: a byte-order mark, a trailing comma, a key written twice."""

from __future__ import annotations

import re
from random import Random

from tests.ontology.differential.edits._base import text_edit


@text_edit("text-bom")
def byte_order_mark(rng: Random, documents: list[str]) -> str | None:
    """An editor saved the file with a UTF-8 byte-order mark: still a valid model."""
    index = rng.randrange(len(documents))
    documents[index] = "\ufeff" + documents[index]
    return f"byte-order mark before document {index}"


@text_edit("text-trailing-comma")
def trailing_comma(rng: Random, documents: list[str]) -> str | None:
    """A comma left after the last member of an object: not JSON."""
    index = rng.randrange(len(documents))
    text = documents[index]
    end = text.rfind("}")
    if end < 0:
        return None
    documents[index] = text[:end] + "," + text[end:]
    return f"trailing comma in document {index}"


@text_edit("text-key-repeated")
def repeated_key(rng: Random, documents: list[str]) -> str | None:
    """A key written twice in one object (the second ``name`` of a copy-paste)."""
    text = documents[0]
    keys = list(re.finditer(r'"(name|schema|displayName|@type|writable)": ("[^"]*"|true|false)', text))
    if not keys:
        return None
    match = rng.choice(keys)
    documents[0] = text[: match.end()] + ", " + match.group(0) + text[match.end() :]
    return f"key {match.group(1)!r} repeated"


@text_edit("text-not-json")
def not_json(rng: Random, documents: list[str]) -> str | None:
    """Text that is not JSON: cut short, NaN for a number, single quotes, a comment."""
    text = documents[0]
    how = rng.randrange(4)
    if how == 0:
        documents[0] = text[: len(text) // 2]
    elif how == 1:
        documents[0] = text.replace('"@type"', '"minMultiplicity": NaN, "@type"', 1)
    elif how == 2:
        documents[0] = text.replace('"', "'", 4)
    else:
        documents[0] = "// model\n" + text
    return f"not JSON ({how})"
