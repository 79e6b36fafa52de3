"""Expanding terms and ``@type`` values the way JSON-LD does, against the DTDL metamodel.

DTDL v3 §Context: a key or ``@type`` value is a term of the context in force, or a
DTMI; anything else is an "undefined term", "not a DTMI nor a term" or an "invalid DTMI",
which the metamodel's ``dtmm:apocrypha`` tolerates only in some versions and scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ontology._context import Scope
from ontology._metamodel import ClassDef, PropertyRule, universe
from ontology.dtmi import dtmi_problem, short_name
from ontology.model_errors import IssueCode

_DTMI_LIKE = re.compile(r"^dtmi:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Term:
    """How a key or a ``@type`` value expands: its IRI and which kind of term it is."""

    iri: str | None
    kind: str  # defined | undefinedTerm | notDtmiNorTerm | invalidDtmi


def classify(text: str, scope: Scope) -> Term:
    """Expand a term or DTMI the way JSON-LD would, naming the odd cases as the metamodel does."""
    iri = scope.terms.get(text)
    if iri is not None:
        return Term(iri, "defined")
    if _DTMI_LIKE.match(text):
        if dtmi_problem(text, scope.version, user_defined=False) is None:
            return Term(text, "defined")
        return Term(None, "invalidDtmi")
    if ":" in text or text.startswith("@"):
        return Term(None, "notDtmiNorTerm")
    return Term(None, "undefinedTerm")


@dataclass
class FoundTypes:
    """What ``@type`` says: the material class, its cotypes, and the problems found."""

    material: ClassDef | None = None
    cotypes: list[ClassDef] = field(default_factory=list)
    undefined: bool = False
    problems: list[tuple[IssueCode, str]] = field(default_factory=list)

    def report(self, code: IssueCode, message: str) -> None:
        self.problems.append((code, message))


def rule_term(rule: PropertyRule | None) -> str:
    """How to name the place a value appears in, for messages."""
    return f"a value of {rule.term!r}" if rule is not None else "a top-level element"


def read_types(obj: dict[str, Any], scope: Scope, rule: PropertyRule | None) -> FoundTypes:
    """Resolve ``@type``: exactly one concrete DTDL class, plus cotypes allowed on it."""
    u = universe()
    out = FoundTypes()
    report = out.report
    raw = obj.get("@type")
    expected = rule.classes if rule is not None else ()
    if "@type" not in obj:
        if rule is not None and rule.type_inferable and expected:
            out.material = u.classes_for(scope.limits)[expected[0]]
            return out
        report(IssueCode.TYPE_MISSING, "@type is required here")
        return out
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, str) for v in values):
        report(IssueCode.TYPE_INVALID, "@type must be a string or an array of strings")
        return out
    mm = scope.metamodel
    materials: list[ClassDef] = []
    cotypes: list[ClassDef] = []
    for value in values:
        if not isinstance(value, str):
            continue
        term = classify(value, scope)
        cls = u.classes_for(scope.limits).get(term.iri or "")
        if cls is None:
            kind = term.kind if term.kind != "defined" else "irrelevantDtmiOrTerm"
            if kind in mm.always_allow.get("asCotype", frozenset()) or (
                scope.undefined_extension and kind not in mm.never_allow.get("asCotype", frozenset())
            ):
                out.undefined = True
                continue
            report(IssueCode.TYPE_UNDEFINED, f"@type {value!r} is not defined")
            continue
        if cls.material and not cls.extensible:
            if cls.abstract:
                report(IssueCode.TYPE_INVALID, f"{cls.term} is abstract")
            elif all(m.iri != cls.iri for m in materials):
                materials.append(cls)
        elif cls.abstract:
            report(IssueCode.TYPE_INVALID, f"{value!r} cannot be a @type")
        elif all(c.iri != cls.iri for c in cotypes):
            cotypes.append(cls)
    if not materials:
        if not out.problems:
            report(IssueCode.TYPE_MISSING, "@type names no DTDL element class")
        return out
    if len(materials) > 1:
        names = ", ".join(m.term for m in materials)
        report(IssueCode.TYPE_NOT_ALLOWED, f"@type names several classes: {names}")
    material = materials[0]
    semantic = [c for c in cotypes if any(s.startswith("dtmi:dtdl:class:SemanticType;") for s in c.supers)]
    if len(semantic) > 1:
        # DTDL v2 §Semantic Type, QuantitativeTypes §Semantic types: at most one per element.
        names = ", ".join(c.term for c in semantic)
        report(IssueCode.TYPE_NOT_ALLOWED, f"several semantic types: {names}")
    if expected and not material.supers & set(expected):
        report(
            IssueCode.TYPE_NOT_ALLOWED,
            f"a {material.term} is not allowed as {rule_term(rule)}",
        )
    for cotype in cotypes:
        if cotype.cotype_of and not material.supers & set(cotype.cotype_of):
            report(
                IssueCode.TYPE_NOT_ALLOWED,
                f"{cotype.term} cannot be a cotype of {material.term}",
            )
        for refused in cotype.excludes_cotypes:
            if any(refused in c.supers for c in cotypes):
                report(
                    IssueCode.TYPE_NOT_ALLOWED, f"{cotype.term} cannot be combined with {short_name(refused)}"
                )
        for needed in cotype.requires_cotypes:
            if all(needed not in c.supers for c in cotypes):
                report(
                    IssueCode.TYPE_NOT_ALLOWED,
                    f"{cotype.term} requires cotype {needed.rsplit(':', 1)[-1]}",
                )
    out.material, out.cotypes = material, cotypes
    return out
