"""First pass: read JSON-LD documents into :class:`Node` graphs, checking each object on its own.

What is checked here is local to one JSON object and follows the metamodel's shapes:
``@context``, ``@id`` (DTMI syntax, reserved prefixes), ``@type`` (one material class,
allowed cotypes), which properties the class has, their cardinality, datatype, pattern,
length and range. What needs the whole batch (references, ``extends``, name uniqueness,
depth limits) is done afterwards by ``_semantics``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ontology._context import ContextProblem, Scope, nested_scope, top_scope
from ontology._literals import array_items, read_lang_strings, read_literal
from ontology._metamodel import ClassDef, PropertyRule, universe
from ontology._nodes import Literal, Node, Ref
from ontology._types import classify, read_types
from ontology.dtmi import dtmi_problem
from ontology.model_errors import IssueCode, ModelIssue
from ontology.policy import DtdlPolicy

# Far beyond any legal model (extends depth <= 12 and schema depth <= 24 even with the ONVIF
# limits), low enough that a hostile document cannot exhaust the interpreter's stack.
MAX_NESTING = 100
_KEYWORDS = {"@context", "@id", "@type"}


def pointer_join(base: str, token: str | int) -> str:
    """Append one RFC 6901 reference token to a JSON Pointer."""
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{base}/{text}"


class Reader:
    """Reads one batch of documents; collects nodes and the violations found on the way."""

    def __init__(self, policy: DtdlPolicy) -> None:
        self.policy = policy
        self.issues: list[ModelIssue] = []
        self.nodes: list[Node] = []
        self.tops: list[Node] = []
        self._partitions: list[tuple[Node, dict[str, Any]]] = []
        self._doc = 0
        self._top_id: str | None = None
        self._depth = 0
        self._u = universe()

    # -- reporting -------------------------------------------------------------------------

    def _report(self, ptr: str, code: IssueCode, message: str) -> None:
        # An issue names the top-level Interface it was found in: that is what a modeler
        # opens, and what a partial load leaves out; ``ptr`` locates the element inside it.
        self.issues.append(ModelIssue(self._top_id, ptr, code, message, self._doc))

    # -- documents -------------------------------------------------------------------------

    def read_document(self, doc: Any, index: int, base: str = "") -> None:
        """Read one input document: an Interface object, or an array of them (DTDL v3 §Model)."""
        self._doc = index
        if isinstance(doc, list):
            for i, item in enumerate(doc):
                if isinstance(item, dict):
                    self._read_top(item, pointer_join(base, i))
                else:
                    self._report(pointer_join(base, i), IssueCode.DOCUMENT_NOT_OBJECT, "not a JSON object")
        elif isinstance(doc, dict):
            self._read_top(doc, base)
        else:
            self._report(base, IssueCode.DOCUMENT_NOT_OBJECT, "a DTDL document is a JSON object or array")

    def _read_top(self, obj: dict[str, Any], ptr: str) -> None:
        raw_id = obj.get("@id")
        valid = isinstance(raw_id, str) and dtmi_problem(raw_id, 4, user_defined=False) is None
        dtmi = raw_id if valid else None
        self._top_id = dtmi
        if "@context" not in obj:
            self._report(ptr, IssueCode.CONTEXT_MISSING, "a top-level element must have a DTDL @context")
            return
        try:
            scope, problems = top_scope(obj["@context"], self.policy)
        except ContextProblem as problem:
            self._report(pointer_join(ptr, "@context"), problem.code, problem.message)
            return
        for found in problems:
            self._report(pointer_join(ptr, "@context"), found.code, found.message)
        node = self._read_object(obj, scope, ptr, None, None, None, top=True)
        if node is None:
            return
        material = self._u.classes.get(node.material or "")
        if material is None or not material.partition:
            # DTDL v2 §Interface: only an Interface may be a top-level element.
            self._report(ptr, IssueCode.TOP_LEVEL_NOT_INTERFACE, "a top-level element must be an Interface")
        self.tops.append(node)

    def measure_partitions(self) -> None:
        """Set the size of each Interface: its JSON text without inline Interfaces in it.

        DTDL v3 §Interface: the 1 MiB limit "does not include the text of extended
        Interfaces (even if specified inline)" nor of inline Component schemas. Sizes are
        measured on compact UTF-8 JSON, so indentation in a file does not count.
        """
        full: dict[int, int] = {}
        for node, raw in self._partitions:
            try:
                full[id(node)] = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())
            except (RecursionError, ValueError, TypeError):
                full[id(node)] = 0
            node.size = full[id(node)]
        for node, _ in self._partitions:
            if node.parent is not None:
                node.parent.top.size -= full[id(node)]

    # -- objects ---------------------------------------------------------------------------

    def _read_object(
        self,
        obj: dict[str, Any],
        scope: Scope,
        ptr: str,
        rule: PropertyRule | None,
        parent: Node | None,
        index: int | None,
        *,
        top: bool = False,
    ) -> Node | None:
        if self._depth >= MAX_NESTING:
            self._report(ptr, IssueCode.NESTING_TOO_DEEP, f"objects are nested more than {MAX_NESTING} deep")
            return None
        self._depth += 1
        try:
            return self._read_object_body(obj, scope, ptr, rule, parent, index, top)
        finally:
            self._depth -= 1

    def _read_object_body(
        self,
        obj: dict[str, Any],
        scope: Scope,
        ptr: str,
        rule: PropertyRule | None,
        parent: Node | None,
        index: int | None,
        top: bool,
    ) -> Node | None:
        if not top and "@context" in obj:
            scope, problems = nested_scope(scope, obj["@context"], self.policy)
            for problem in problems:
                self._report(pointer_join(ptr, "@context"), problem.code, problem.message)
        node_id, explicit = self._read_id(obj, scope, ptr, rule, parent, index)
        for key in obj:
            # @graph would make the object a graph, not an element; other keywords are refused
            # where the metamodel restricts keywords (dtmm:restrictKeywords: v3, v4).
            if (
                key.startswith("@")
                and key not in _KEYWORDS
                and (scope.metamodel.restrict_keywords or key == "@graph")
            ):
                self._report(pointer_join(ptr, key), IssueCode.KEYWORD_INVALID, f"keyword {key} not allowed")
        material, cotypes, undefined_cotype = self._read_types(obj, scope, ptr, rule, node_id)
        if material is None:
            return None
        node = Node(
            id=node_id,
            explicit_id=explicit,
            version=scope.version,
            material=material.iri,
            cotypes=tuple(c.iri for c in cotypes),
            undefined_cotype=undefined_cotype,
            pointer=ptr,
            document=self._doc,
            parent=parent,
            parent_prop=rule.term if rule else None,
            limits=scope.limits,
        )
        if material.partition:
            node.partition = None
        elif parent is not None:
            node.partition = parent.top
        if material.partition and not explicit:
            self._report(ptr, IssueCode.ID_MISSING, f"{material.term} must have an @id")
        id_limit = material.id_max_length
        if explicit and id_limit is not None and len(node_id) > id_limit:
            self._report(
                pointer_join(ptr, "@id"),
                IssueCode.ID_INVALID,
                f"the @id of {material.term} is {len(node_id)} characters long, the limit is {id_limit}",
            )
        self.nodes.append(node)
        if material.partition:
            self._partitions.append((node, obj))
        self._read_properties(obj, scope, ptr, node, material, cotypes)
        return node

    def _read_id(
        self,
        obj: dict[str, Any],
        scope: Scope,
        ptr: str,
        rule: PropertyRule | None,
        parent: Node | None,
        index: int | None,
    ) -> tuple[str, bool]:
        raw = obj.get("@id")
        if raw is not None or "@id" in obj:
            where = pointer_join(ptr, "@id")
            if not isinstance(raw, str):
                self._report(where, IssueCode.ID_INVALID, "@id must be a string DTMI")
            else:
                problem = dtmi_problem(raw, scope.version)
                if problem is None:
                    return raw, True
                code = IssueCode.ID_RESERVED if "reserved" in problem else IssueCode.ID_INVALID
                self._report(where, code, problem)
        elif rule is not None and rule.iri_only:
            self._report(ptr, IssueCode.ID_MISSING, f"a {rule.term} value defined inline must have an @id")
        return self._synthetic_id(obj, scope, rule, parent, index), False

    @staticmethod
    def _synthetic_id(
        obj: dict[str, Any], scope: Scope, rule: PropertyRule | None, parent: Node | None, index: int | None
    ) -> str:
        base = parent.id.split(";", 1)[0] if parent is not None else "dtmi:anonymous"
        name = obj.get("name")
        segment = name if isinstance(name, str) else str(index or 0)
        prop = rule.term if rule is not None else "root"
        return f"{base}:_{prop}:__{segment};{scope.version}"

    def _read_types(
        self, obj: dict[str, Any], scope: Scope, ptr: str, rule: PropertyRule | None, node_id: str
    ) -> tuple[ClassDef | None, list[ClassDef], bool]:
        found = read_types(obj, scope, rule)
        where = pointer_join(ptr, "@type") if "@type" in obj else ptr
        for code, message in found.problems:
            self._report(where, code, message)
        return found.material, found.cotypes, found.undefined

    # -- properties ------------------------------------------------------------------------

    def _read_properties(
        self,
        obj: dict[str, Any],
        scope: Scope,
        ptr: str,
        node: Node,
        material: ClassDef,
        cotypes: list[ClassDef],
    ) -> None:
        mm = scope.metamodel
        rules: dict[str, PropertyRule] = {}
        for cotype in cotypes:
            for iri, r in cotype.rules.items():
                if iri not in material.rules and r.term not in ("displayName", "description", "comment"):
                    rules[iri] = r
        rules.update(material.rules)
        seen: dict[str, str] = {}
        empty: set[str] = set()
        for key, raw in obj.items():
            if key.startswith("@"):
                continue
            kptr = pointer_join(ptr, key)
            term = classify(key, scope)
            rule = rules.get(term.iri or "")
            if rule is None:
                kind = term.kind if term.kind != "defined" else "irrelevantDtmiOrTerm"
                tolerated = node.undefined_cotype and (
                    kind in mm.always_allow.get("asProperty", frozenset())
                    or (
                        scope.undefined_extension
                        and kind not in mm.never_allow.get("asProperty", frozenset())
                    )
                )
                if not tolerated:
                    code = (
                        IssueCode.PROPERTY_UNDEFINED
                        if kind == "undefinedTerm"
                        else IssueCode.PROPERTY_NOT_ALLOWED
                    )
                    self._report(kptr, code, f"{key!r} is not a property of {material.term}")
                continue
            if rule.iri in seen:
                self._report(
                    kptr,
                    IssueCode.PROPERTY_DUPLICATE,
                    f"{key!r} repeats property {seen[rule.iri]!r}",
                )
                continue
            seen[rule.iri] = key
            nested = isinstance(raw, list) and all(isinstance(item, list) for item in raw)
            if raw is None or (nested and not array_items(raw, kptr)):
                empty.add(rule.iri)
            values = self._read_values(raw, scope, kptr, rule, node)
            node.props[rule.term] = values
        for rule in rules.values():
            count = len(node.props.get(rule.term, []))
            if (rule.iri not in seen or rule.iri in empty) and rule.min_count > 0:
                self._report(
                    ptr,
                    IssueCode.PROPERTY_MISSING,
                    f"{material.term} requires property {rule.term!r}",
                )
            elif rule.max_count is not None and count > rule.max_count and rule.datatype != "rdf:langString":
                if rule.max_count == 0:
                    msg = f"{rule.term!r} is not allowed on {material.term}"
                else:
                    msg = f"{rule.term!r} takes at most {rule.max_count} value(s), found {count}"
                self._report(pointer_join(ptr, seen[rule.iri]), IssueCode.TOO_MANY_VALUES, msg)

    def _read_values(
        self, raw: Any, scope: Scope, ptr: str, rule: PropertyRule, node: Node
    ) -> list[Node | Ref | Literal]:
        def report(where: str, code: IssueCode, message: str) -> None:
            self._report(where, code, message)

        if rule.datatype == "rdf:langString":
            return list(read_lang_strings(raw, ptr, rule, scope.version, report))
        items = array_items(raw, ptr) if isinstance(raw, list) else [(ptr, raw)]
        out: list[Node | Ref | Literal] = []
        for index, (where, item) in enumerate(items):
            if rule.literal:
                lit = read_literal(item, where, rule, report, scope.metamodel.restrict_keywords)
                if lit is not None:
                    out.append(lit)
            elif isinstance(item, str):
                ref = self._read_reference(item, scope, where, rule, node)
                if ref is not None:
                    out.append(ref)
            elif isinstance(item, dict) and rule.iri_only and not rule.classes:
                # An identifier with no class to define inline (Relationship ``target``): the
                # shape allows an IRI only, so the value is a DTMI string, never an object.
                report(where, IssueCode.VALUE_INVALID, f"{rule.term} must be a DTMI string, not an object")
            elif isinstance(item, dict):
                child = self._read_object(item, scope, where, rule, node, index)
                if child is not None:
                    out.append(child)
            else:
                report(where, IssueCode.VALUE_INVALID, f"{rule.term} must be a DTMI, a term or an object")
        return out

    def _read_reference(
        self, text: str, scope: Scope, ptr: str, rule: PropertyRule, node: Node
    ) -> Ref | None:
        term = classify(text, scope)
        if term.kind != "defined" or term.iri is None:
            self._report(
                ptr,
                IssueCode.REFERENCE_INVALID,
                f"{rule.term} {text!r} is neither a term nor a DTMI",
            )
            return None
        if rule.pattern is not None and not re.search(rule.pattern, term.iri):
            why = rule.pattern_desc or f"match {rule.pattern}"
            self._report(ptr, IssueCode.PATTERN_MISMATCH, f"{rule.term} {text!r} must {why}")
            return None
        if rule.max_length is not None and len(term.iri) > rule.max_length:
            self._report(ptr, IssueCode.STRING_TOO_LONG, f"{rule.term} is longer than {rule.max_length}")
            return None
        if rule.allowed and term.iri not in rule.allowed:
            allowed = ", ".join(a.rsplit(":", 1)[-1] for a in rule.allowed)
            self._report(ptr, IssueCode.VALUE_INVALID, f"{rule.term} must be one of {allowed}")
            return None
        return Ref(term.iri, ptr)
