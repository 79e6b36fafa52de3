"""JSON-LD ``@context`` processing: which DTDL version and extensions are in scope.

A DTDL document names its language version and feature extensions in ``@context``
(DTDL v3 §Context, v4 §Context): the DTDL context first, extension contexts after it.
Nested objects may add extension contexts. The resulting :class:`Scope` says how terms
(``"Property"``, ``"schema"``, ``"string"``) expand to DTMIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from ontology._metamodel import Metamodel, universe
from ontology.model_errors import IssueCode
from ontology.policy import DtdlPolicy

_DTDL_CONTEXT = re.compile(r"^dtmi:dtdl:context;(\d+)(#limitless|#limits)?$")
# A context DTMI must carry a version (DTDL v2 §Context; v3 §Context).
_VERSIONED_DTMI = re.compile(
    r"^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?$"
)
_LIMIT_CONTEXTS = {"dtmi:dtdl:limits:onvif;1"}


@dataclass(frozen=True)
class Scope:
    """The terms in force for one JSON object, and whether undefined extensions are tolerated here."""

    version: int
    terms: dict[str, str]
    extensions: frozenset[str]
    undefined_extension: bool
    limits: str | None

    @property
    def metamodel(self) -> Metamodel:
        return universe().versions[self.version]


class ContextProblem(Exception):
    """An ``@context`` value that breaks a rule; carries the issue code and message."""

    def __init__(self, code: IssueCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@cache
def _partner_contexts() -> frozenset[str]:
    """The partner extensions' context DTMIs (IoT Central), known in every DTDL version."""
    return frozenset(c for c in universe().versions[2].extensions if not c.startswith("dtmi:dtdl:"))


def _entries(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise ContextProblem(IssueCode.CONTEXT_INVALID, "@context must be a string or an array of strings")


def top_scope(value: Any, policy: DtdlPolicy) -> tuple[Scope, list[ContextProblem]]:
    """Scope of a top-level element; raises :class:`ContextProblem` if no DTDL version can be found.

    DTDL v3 §Context: DTDL contexts come first, extension contexts after them. As in
    JSON-LD, a later DTDL context overrides an earlier one (repeating it is discouraged,
    not wrong), so the last of the leading DTDL contexts sets the version. A partner
    extension's context may come before them: IoT Central writes its models so, and
    Microsoft's DTDLParser reads them; a feature extension's may not.
    """
    entries = _entries(value)
    partners = 0
    while (
        partners < len(entries)
        and isinstance(entries[partners], str)
        and entries[partners] in _partner_contexts()
    ):
        partners += 1
    entries = entries[partners:] + entries[:partners] if partners < len(entries) else entries
    if not entries:
        raise ContextProblem(IssueCode.CONTEXT_MISSING, "@context names no DTDL context")
    first = entries[0]
    if not (isinstance(first, str) and _DTDL_CONTEXT.match(first)):
        raise ContextProblem(
            IssueCode.CONTEXT_MISSING, f"the first @context value must be a DTDL context, not {first!r}"
        )
    problems: list[ContextProblem] = []
    version, limits, i = 0, None, 0
    while i < len(entries) and isinstance(entries[i], str) and (match := _DTDL_CONTEXT.match(entries[i])):
        entry, version, fragment = entries[i], int(match.group(1)), match.group(2)
        i += 1
        if version not in universe().versions:
            raise ContextProblem(IssueCode.CONTEXT_INVALID, f"unsupported DTDL context {entry!r}")
        if fragment is not None and version < 4:
            problems.append(
                ContextProblem(IssueCode.CONTEXT_INVALID, f"{entry!r}: DTDL v{version} has no limits")
            )
        elif fragment == "#limits":
            problems.append(
                ContextProblem(IssueCode.CONTEXT_INVALID, f"{entry!r} must follow a limitless context")
            )
        elif fragment == "#limitless":
            # DTDL v4 §Limit extensions: a limitless context is followed at once by a limits context.
            nxt = entries[i] if i < len(entries) else None
            if nxt in {
                f"dtmi:dtdl:context;{version}",
                f"dtmi:dtdl:context;{version}#limits",
                *_LIMIT_CONTEXTS,
            }:
                limits = nxt if nxt in _LIMIT_CONTEXTS else None
                i += 1
                if limits is not None and not policy.accepts_limits(limits):
                    accepted = ", ".join(sorted(policy.limit_extensions)) or "none"
                    problems.append(
                        ContextProblem(
                            IssueCode.CONTEXT_INVALID,
                            f"limit extension {limits!r} is not accepted (accepted: {accepted})",
                        )
                    )
            else:
                problems.append(
                    ContextProblem(
                        IssueCode.CONTEXT_INVALID, f"{entry!r} must be followed by a limits context"
                    )
                )
    mm = universe().versions[version]
    scope = Scope(version, dict(mm.terms), frozenset(), False, limits)
    scope, more = extend_scope(scope, entries[i:], policy)
    return scope, problems + more


def extend_scope(scope: Scope, entries: list[Any], policy: DtdlPolicy) -> tuple[Scope, list[ContextProblem]]:
    """Add extension contexts (from a top-level or a nested ``@context``) to a scope."""
    allow_undefined = policy.tolerates_undefined(scope.version)
    problems: list[ContextProblem] = []
    mm = scope.metamodel
    terms = scope.terms
    extensions = set(scope.extensions)
    undefined = scope.undefined_extension
    for position, entry in enumerate(entries):
        if not isinstance(entry, str):
            problems.append(
                ContextProblem(IssueCode.CONTEXT_INVALID, f"@context value {entry!r} is not a string")
            )
            continue
        dtdl = _DTDL_CONTEXT.match(entry)
        if dtdl is not None:
            # DTDL v3 §Context: DTDL contexts come first, extension contexts after them.
            if any(not (isinstance(e, str) and _DTDL_CONTEXT.match(e)) for e in entries[:position]):
                problems.append(
                    ContextProblem(IssueCode.CONTEXT_INVALID, f"{entry!r} follows an extension context")
                )
            elif entry != mm.context_id:
                problems.append(
                    ContextProblem(
                        IssueCode.CONTEXT_INVALID, f"{entry!r} must be the first @context value, or absent"
                    )
                )
            continue
        if entry in _LIMIT_CONTEXTS:
            problems.append(
                ContextProblem(IssueCode.CONTEXT_INVALID, f"{entry!r} must follow a limitless context")
            )
            continue
        if not _VERSIONED_DTMI.match(entry):
            problems.append(
                ContextProblem(
                    IssueCode.CONTEXT_INVALID, f"@context value {entry!r} is not a DTMI with a version"
                )
            )
            continue
        ext = mm.extensions.get(entry) if policy.knows(entry) else None
        if ext is None:
            if allow_undefined:
                undefined = True
            else:
                problems.append(
                    ContextProblem(
                        IssueCode.EXTENSION_UNDEFINED, f"extension context {entry!r} is not defined"
                    )
                )
            continue
        if entry not in extensions:
            # A later extension context overrides an earlier one's terms (JSON-LD), but not the
            # DTDL context's: QuantitativeTypes v2 defines the unit ``byte``, and ``byte`` stays
            # DTDL v4's schema, as Microsoft's DTDLParser reads it (the unit is then written as
            # its DTMI).
            terms = {**terms, **{t: iri for t, iri in ext.terms.items() if t not in mm.terms}}
            extensions.add(entry)
    new = Scope(scope.version, terms, frozenset(extensions), undefined, scope.limits)
    return new, problems


def nested_scope(scope: Scope, value: Any, policy: DtdlPolicy) -> tuple[Scope, list[ContextProblem]]:
    """Scope inside an object that has its own ``@context``.

    It may add extension contexts, or start with a DTDL context that switches the
    language version for this object (a v2 element written inside a v3 Interface).
    """
    try:
        entries = _entries(value)
    except ContextProblem as problem:
        return scope, [problem]
    first = entries[0] if entries else None
    if isinstance(first, str) and _DTDL_CONTEXT.match(first):
        if first == scope.metamodel.context_id:
            return extend_scope(scope, entries[1:], policy)
        try:
            return top_scope(entries, policy)
        except ContextProblem as problem:
            return scope, [problem]
    return extend_scope(scope, entries, policy)
