"""Digital Twin Model Identifiers (DTMI): syntax, length and reserved prefixes.

The rules come from the metamodel's global identifier restriction of each version
(DTDL v2 §Digital Twin Model Identifier: the version suffix is required, 2048
characters at most; v3/v4 also allow no version and a minor version ``;1.2``).
"""

from __future__ import annotations

import re
from functools import cache

from ontology._metamodel import universe


@cache
def _pattern(version: int) -> re.Pattern[str]:
    return re.compile(universe().versions[version].id_pattern)


def is_valid_dtmi(value: str, version: int = 3) -> bool:
    """Whether ``value`` is a syntactically valid DTMI of DTDL ``version`` within its length limit."""
    mm = universe().versions[version]
    return len(value) <= mm.id_max_length and _pattern(version).match(value) is not None


def dtmi_problem(value: str, version: int, *, user_defined: bool = True) -> str | None:
    """Why ``value`` is not acceptable as an identifier of a user element, or None if it is."""
    mm = universe().versions[version]
    if len(value) > mm.id_max_length:
        return f"DTMI is {len(value)} characters long, the limit is {mm.id_max_length}"
    if _pattern(version).match(value) is None:
        return f"{value!r} is not a valid DTMI"
    if user_defined:
        for prefix in mm.reserved_prefixes:
            if value.startswith(prefix):
                return f"DTMI {value!r} uses the reserved prefix {prefix!r}"
    return None


def short_name(iri: str) -> str:
    """The last path segment of a DTMI or IRI, without version: ``dtmi:dtdl:class:Enum;3`` -> ``Enum``."""
    return iri.rsplit(":", 1)[-1].split(";", 1)[0]
