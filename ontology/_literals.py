"""Literal property values: strings, numbers, booleans and language-tagged strings.

DTDL v3 §Entity: ``displayName`` and ``description`` are localizable strings, written
as a plain string, a map from language code to string, or (v2, v4) an array of
``{"@value", "@language"}`` objects. Other literals may be written plainly or in the
JSON-LD value-object form ``{"@value": true, "@type": "xsd:boolean"}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ontology._metamodel import PropertyRule
from ontology._nodes import Literal
from ontology.model_errors import IssueCode

# DTDL v2/v3/v4 Specification §Localizable string: a language code matches this expression
# (ISO 639 language, optional ISO 15924 script and region: "en", "zh-Hant-TW", "es-419"); the
# other BCP 47 forms ("EN", "en-GB-oed", "x-private") are refused, as by Microsoft's parser.
_LANGUAGE = re.compile(r"^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
_INTEGER_TYPES = {"xsd:integer", "xsd:int", "xsd:long", "xsd:short", "xsd:byte"}
_NUMBER_TYPES = {"xsd:double", "xsd:float", "xsd:decimal"}

Report = Callable[[str, IssueCode, str], None]


def _pointer(base: str, token: str | int) -> str:
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{base}/{text}"


def array_items(raw: list[Any], ptr: str) -> list[tuple[str, Any]]:
    """The items of a JSON array with their pointers, the items of nested arrays included.

    JSON-LD 1.1 §Expansion Algorithm: an array inside an array is expanded into its items
    (``[["a"]]`` means ``["a"]``), and Microsoft's DTDLParser reads DTDL the same way.
    """
    out: list[tuple[str, Any]] = []
    stack = [(_pointer(ptr, i), item) for i, item in reversed(list(enumerate(raw)))]
    while stack:
        where, item = stack.pop()
        if isinstance(item, list):
            stack.extend((_pointer(where, i), inner) for i, inner in reversed(list(enumerate(item))))
        else:
            out.append((where, item))
    return out


def read_lang_strings(raw: Any, ptr: str, rule: PropertyRule, version: int, report: Report) -> list[Literal]:
    """Read a localizable string into one literal per language."""
    out: list[Literal] = []
    if isinstance(raw, str):
        out.append(Literal(raw, ptr, "en"))
    elif isinstance(raw, dict):
        for lang, text in raw.items():
            if not _LANGUAGE.match(lang):
                report(_pointer(ptr, lang), IssueCode.LANGUAGE_INVALID, f"{lang!r} is not a language code")
            elif not isinstance(text, str):
                report(
                    _pointer(ptr, lang), IssueCode.VALUE_INVALID, f"{rule.term} in {lang!r} must be a string"
                )
            else:
                out.append(Literal(text, _pointer(ptr, lang), lang))
    elif isinstance(raw, list):
        for where, item in array_items(raw, ptr):
            if isinstance(item, str):
                out.append(Literal(item, where, "en"))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("@value"), str):
                report(where, IssueCode.VALUE_INVALID, f"each {rule.term} entry must be a string value")
                continue
            extra = set(item) - {"@value", "@language"}
            lang = item.get("@language", "en")
            if extra and version != 2:
                report(
                    where, IssueCode.KEYWORD_INVALID, f"{rule.term} entry may hold only @value and @language"
                )
            elif not isinstance(lang, str) or not _LANGUAGE.match(lang):
                report(where, IssueCode.LANGUAGE_INVALID, f"{lang!r} is not a language code")
            else:
                out.append(Literal(item["@value"], where, lang))
    else:
        report(
            ptr,
            IssueCode.VALUE_INVALID,
            f"{rule.term} must be a string or a map of language codes to strings",
        )
        return out
    seen: set[str] = set()
    for lit in out:
        key = (lit.lang or "").lower()
        if rule.unique_lang and key in seen:
            report(
                lit.pointer,
                IssueCode.VALUE_DUPLICATE,
                f"{rule.term} has two values for language {lit.lang!r}",
            )
        seen.add(key)
        if rule.max_length is not None and len(lit.value) > rule.max_length:
            report(
                lit.pointer,
                IssueCode.STRING_TOO_LONG,
                f"{rule.term} is {len(lit.value)} characters long, the limit is {rule.max_length}",
            )
    return out


def _xsd(name: str) -> set[str]:
    return {name, name.replace("xsd:", "http://www.w3.org/2001/XMLSchema#")}


def _unwrap(raw: Any, ptr: str, rule: PropertyRule, report: Report, restrict: bool) -> tuple[bool, Any]:
    """Accept the JSON-LD value object ``{"@value": v, "@type": t}`` for a plain literal.

    Other keys are refused; other keywords too where the metamodel restricts keywords
    (v3, v4), except ``@id``, ``@context`` and ``@graph``, which a value never has.
    """
    if not isinstance(raw, dict):
        return True, raw
    extra = set(raw) - {"@value", "@type"}
    if not restrict:
        extra = {k for k in extra if not k.startswith("@") or k in ("@id", "@context", "@graph")}
    if extra:
        report(ptr, IssueCode.KEYWORD_INVALID, f"{rule.term} value object may hold only @value and @type")
        return False, None
    if "@value" not in raw:
        report(ptr, IssueCode.VALUE_INVALID, f"{rule.term} value object has no @value")
        return False, None
    if "@type" in raw:
        declared = raw["@type"]
        if isinstance(declared, list) and len(declared) == 1:
            declared = declared[0]
        value = raw["@value"]
        if rule.datatype is None:
            expected = _xsd("xsd:string") if isinstance(value, str) else _xsd("xsd:integer")
        elif rule.datatype in _INTEGER_TYPES:
            expected = _xsd("xsd:integer")
        else:
            expected = _xsd(rule.datatype)
        if not isinstance(declared, str) or declared not in expected:
            report(ptr, IssueCode.VALUE_INVALID, f"{rule.term} value object @type must be {min(expected)}")
            return False, None
    return True, raw["@value"]


def read_literal(
    raw: Any, ptr: str, rule: PropertyRule, report: Report, restrict: bool = True
) -> Literal | None:
    """Read one plain literal, checking its datatype, pattern, length and range."""
    ok, value = _unwrap(raw, ptr, rule, report, restrict)
    if not ok:
        return None
    dt = rule.datatype
    if dt is None:
        # e.g. EnumValue.enumValue: any scalar, typed later by the enum's valueSchema.
        good = isinstance(value, str | int) and not isinstance(value, bool)
        kind = "a string or an integer"
    elif dt == "xsd:boolean":
        good, kind = isinstance(value, bool), "a boolean"
    elif dt in _INTEGER_TYPES:
        good, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif dt in _NUMBER_TYPES:
        good, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    else:
        good, kind = isinstance(value, str), "a string"
    if not good:
        report(ptr, IssueCode.VALUE_INVALID, f"{rule.term} must be {kind}, not {value!r}")
        return None
    if isinstance(value, str):
        if rule.max_length is not None and len(value) > rule.max_length:
            report(
                ptr,
                IssueCode.STRING_TOO_LONG,
                f"{rule.term} is {len(value)} characters long, the limit is {rule.max_length}",
            )
            return None
        if rule.pattern is not None and not re.search(rule.pattern, value):
            why = rule.pattern_desc or f"match {rule.pattern}"
            report(ptr, IssueCode.PATTERN_MISMATCH, f"{rule.term} {value!r} must {why}")
            return None
    if isinstance(value, int) and not isinstance(value, bool):
        if rule.min_inclusive is not None and value < rule.min_inclusive:
            report(ptr, IssueCode.VALUE_OUT_OF_RANGE, f"{rule.term} must be at least {rule.min_inclusive}")
            return None
        if rule.max_inclusive is not None and value > rule.max_inclusive:
            report(ptr, IssueCode.VALUE_OUT_OF_RANGE, f"{rule.term} must be at most {rule.max_inclusive}")
            return None
    return Literal(value, ptr)
