"""Second pass: the rules that need the whole batch.

References resolve across the documents of a batch (and into already loaded models),
``extends`` has no cycles and stays within the depth and count limits, names are unique
across an Interface and everything it inherits, complex schemas stay within their depth
limit, Components do not nest, and each referenced element has the class its property
requires. Every limit comes from the metamodel's ``dtmm:descendants`` restrictions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ontology import _schema_rules as schema_rules
from ontology._extension_rules import check_inverse, check_siblings, check_unique_values
from ontology._metamodel import ClassDef, PropertyRule, Universe, universe
from ontology._nodes import Literal, Node, Ref
from ontology.dtmi import short_name
from ontology.model_errors import IssueCode, ModelIssue

_INFINITE = 1 << 30


def root_of(node: Node) -> Node:
    """The top-level element of the document that ``node`` is written in."""
    while node.parent is not None:
        node = node.parent
    return node


@dataclass
class Target:
    """What a reference resolved to: a node of the batch (or registry), or a built-in element."""

    node: Node | None
    types: frozenset[str]
    iri: str


@dataclass
class Checker:
    """Runs the batch-wide rules over the nodes read from one batch."""

    nodes: list[Node]
    known: Mapping[str, Node] = field(default_factory=dict)
    issues: list[ModelIssue] = field(default_factory=list)
    unresolved: set[str] = field(default_factory=set)
    index: dict[str, Node] = field(default_factory=dict)
    schema_depths: dict[int, tuple[int, bool]] = field(default_factory=dict)
    u: Universe = field(default_factory=universe)

    def report(self, node: Node, ptr: str, code: IssueCode, message: str) -> None:
        root = root_of(node)
        self.issues.append(
            ModelIssue(root.id if root.explicit_id else None, ptr, code, message, node.document)
        )

    def cls(self, node: Node) -> ClassDef:
        return self.u.classes_for(node.limits)[node.material or ""]

    def is_a(self, node: Node, term: str) -> bool:
        return any(s.rsplit(":", 1)[-1].split(";")[0] == term for s in self.cls(node).supers)

    def rule(self, node: Node, term: str) -> PropertyRule | None:
        for r in self.cls(node).rules.values():
            if r.term == term:
                return r
        for c in node.cotypes:
            for r in self.u.classes[c].rules.values():
                if r.term == term:
                    return r
        return None

    # -- entry point -----------------------------------------------------------------------

    def run(self) -> None:
        self._index()
        for node in self.nodes:
            self._check_references(node)
        height, on_cycle = self._extends_heights()
        overridden: set[tuple[int, str]] = set()
        for node in self.nodes:
            if self.is_a(node, "Interface") and self._check_extends(node, height, on_cycle):
                self._check_contents_names(node)
                self._check_contents_count(node)
            if self.is_a(node, "Enum"):
                schema_rules.check_enum(self, node)
            if self.is_a(node, "Component"):
                schema_rules.check_component(self, node)
            if self.is_a(node, "ComplexSchema") and not schema_rules.inside_complex_schema(self, node):
                schema_rules.check_schema_depth(self, node)
            if node.version == 2 and self.is_a(node, "Property"):
                schema_rules.check_no_array(self, node)
            if node.cotypes:
                check_siblings(self, node, overridden)
                check_unique_values(self, node)
                check_inverse(self, node)
            self._check_unique_children(node)
        sizes = Counter(id(n.top) for n in self.nodes)
        for node in self.nodes:
            if self.cls(node).partition:
                self._check_partition_size(node)
                self._check_descendant_count(node, sizes[id(node)] - 1)

    # -- resolution ------------------------------------------------------------------------

    def _index(self) -> None:
        for node in self.nodes:
            if not node.explicit_id:
                continue
            if node.id in self.index:
                first = self.index[node.id]
                self.report(
                    node,
                    node.pointer,
                    IssueCode.ID_DUPLICATE,
                    f"{node.id} is already defined at {first.pointer}",
                )
                continue
            self.index[node.id] = node

    def resolve(self, iri: str) -> Target | None:
        node = self.index.get(iri) or self.known.get(iri)
        if node is not None:
            return Target(node, self.cls(node).supers | frozenset(node.cotypes), iri)
        types = self.u.instance_types.get(iri)
        if types is not None:
            return Target(None, types, iri)
        if iri in self.u.units:
            return Target(
                None,
                frozenset(
                    {
                        "dtmi:dtdl:class:EnumValue;2",
                        "dtmi:dtdl:class:EnumValue;3",
                        "dtmi:dtdl:class:EnumValue;4",
                        "unit",
                    }
                ),
                iri,
            )
        return None

    def target_of(self, value: Node | Ref | Literal) -> Target | None:
        if isinstance(value, Node):
            return Target(value, self.cls(value).supers | frozenset(value.cotypes), value.id)
        if isinstance(value, Ref):
            return self.resolve(value.target)
        return None

    def children(self, node: Node, term: str) -> Iterator[Node]:
        for value in node.values(term):
            target = self.target_of(value)
            if target is not None and target.node is not None:
                yield target.node

    def _check_references(self, node: Node) -> None:
        for term, values in node.props.items():
            rule = self.rule(node, term)
            if rule is None or rule.literal or (not rule.classes and rule.child_of is None):
                continue
            narrowing = [
                r
                for c in node.cotypes
                for r in self.u.classes[c].rules.values()
                if r.term == term and (r.classes or r.allowed)
            ]
            for value in values:
                self._check_value(node, rule, narrowing, value)

    def _check_value(
        self, node: Node, rule: PropertyRule, narrowing: list[PropertyRule], value: object
    ) -> None:
        if isinstance(value, Literal):
            return
        ptr = value.pointer if isinstance(value, Node | Ref) else node.pointer
        if isinstance(value, Ref):
            target = self.resolve(value.target)
            if target is None:
                self.unresolved.add(value.target)
                self.report(node, ptr, IssueCode.REFERENCE_UNRESOLVED, f"{value.target} is not defined")
                return
            if (
                target.node is not None
                and not self.cls(target.node).partition
                and target.node.top is not node.top
            ):
                # DTDL §Model partitions: only an Interface can be referenced from another Interface.
                self.report(
                    node,
                    ptr,
                    IssueCode.REFERENCE_NOT_REFERENCEABLE,
                    f"{value.target} is defined inside {target.node.top.id}: only an Interface can be "
                    "referenced from another Interface",
                )
                return
        else:
            target = self.target_of(value)  # type: ignore[arg-type]
            if target is None:
                return
        if rule.child_of is not None:
            if "unit" not in target.types or rule.child_of not in self.u.units.get(target.iri, frozenset()):
                unit, unit_type = short_name(target.iri), short_name(rule.child_of)
                message = (
                    f"{rule.term} {unit} is not a {unit_type}"
                    if "unit" in target.types
                    else f"{rule.term} must name a unit of {unit_type}, and {unit} is not a unit"
                )
                self.report(node, ptr, IssueCode.VALUE_INVALID, message)
            return
        for r in [rule, *narrowing]:
            if r.classes and not target.types & set(r.classes):
                wanted = " or ".join(sorted({short_name(c) for c in r.classes}))
                self.report(node, ptr, IssueCode.TYPE_NOT_ALLOWED, f"{r.term} must be a {wanted}")
                return
            if r.allowed and target.iri not in r.allowed:
                # A cotype may narrow a property to listed values (IoT Central Location: geospatial).
                wanted = ", ".join(sorted({short_name(a) for a in r.allowed}))
                self.report(node, ptr, IssueCode.VALUE_INVALID, f"{r.term} must be one of {wanted}")
                return

    # -- extends ---------------------------------------------------------------------------

    def _extends_heights(self) -> tuple[dict[int, int], set[int]]:
        """Longest ``extends`` chain above each Interface, and the Interfaces on a cycle.

        An iterative depth-first walk: a chain of thousands of Interfaces (legal or not)
        must not exhaust the stack.
        """
        grey, black = 1, 2
        state: dict[int, int] = {}
        height: dict[int, int] = {}
        on_cycle: set[int] = set()
        for start in self.nodes:
            if id(start) in state or not self.is_a(start, "Interface"):
                continue
            state[id(start)] = grey
            stack: list[tuple[Node, Iterator[Node]]] = [(start, self.children(start, "extends"))]
            while stack:
                node, parents = stack[-1]
                for parent in parents:
                    seen = state.get(id(parent))
                    if seen is None:
                        state[id(parent)] = grey
                        stack.append((parent, self.children(parent, "extends")))
                        break
                    if seen == grey:
                        members = [n for n, _ in stack]
                        on_cycle.update(id(n) for n in members[members.index(parent) :])
                else:
                    stack.pop()
                    state[id(node)] = black
                    above = [height.get(id(p), _INFINITE) for p in self.children(node, "extends")]
                    height[id(node)] = _INFINITE if id(node) in on_cycle else max(above, default=-1) + 1
        return height, on_cycle

    def _check_extends(self, node: Node, height: dict[int, int], on_cycle: set[int]) -> bool:
        """DTDL v3 §Interface: no cycles, at most 10 (v4: 12) levels, at most 1024 ancestors."""
        desc = next((d for d in self.cls(node).descendants if "extends" in d.properties), None)
        if id(node) in on_cycle:
            self.report(
                node, node.pointer, IssueCode.EXTENDS_CYCLE, f"{node.id} extends itself, directly or not"
            )
            return False
        depth = height.get(id(node), 0)
        if depth >= _INFINITE:
            return False  # reaches a cycle, which is reported where it is
        if desc is not None and desc.max_depth is not None and depth > desc.max_depth:
            self.report(
                node,
                node.pointer,
                IssueCode.EXTENDS_TOO_DEEP,
                f"{node.id} extends Interfaces {depth} levels deep, the limit is {desc.max_depth}",
            )
            return False
        if desc is not None and desc.max_count is not None:
            count = len(self.ancestors(node))
            if count > desc.max_count:
                self.report(
                    node,
                    node.pointer,
                    IssueCode.EXTENDS_TOO_MANY,
                    f"{node.id} inherits from {count} Interfaces, the limit is {desc.max_count}",
                )
                return False
        return True

    def ancestors(self, node: Node) -> list[Node]:
        """Every Interface ``node`` extends, transitively, nearest first, each once."""
        out: list[Node] = []
        seen = {id(node)}
        frontier = [node]
        while frontier:
            nxt: list[Node] = []
            for n in frontier:
                for parent in self.children(n, "extends"):
                    if id(parent) not in seen:
                        seen.add(id(parent))
                        out.append(parent)
                        nxt.append(parent)
            frontier = nxt
        return out

    def all_contents(self, node: Node) -> list[Node]:
        """The contents of an Interface and of every Interface it extends (each once)."""
        out: list[Node] = []
        for n in [node, *self.ancestors(node)]:
            out.extend(self.children(n, "contents"))
        return out

    def _check_contents_names(self, node: Node) -> None:
        # DTDL v3 §Interface: content names are unique across the Interface and all it extends.
        seen: dict[str, Node] = {}
        for content in dict.fromkeys(self.all_contents(node)):
            name = content.name()
            if name is None:
                continue
            other = seen.get(name)
            if other is not None and other is not content:
                where = content.pointer if content.top is node.top else node.pointer
                self.report(
                    node,
                    where,
                    IssueCode.NAME_DUPLICATE,
                    f"name {name!r} is used twice among the contents of {node.id} and what it extends",
                )
            seen.setdefault(name, content)

    def _check_contents_count(self, node: Node) -> None:
        """DTDL v2 §Interface: at most 300 contents, those it inherits included.

        The reader checks the contents written in the Interface; Microsoft's DTDLParser
        also counts the inherited ones against ``sh:maxCount`` (v3 and v4 have no such
        count, only the limit on all elements of an Interface).
        """
        rule = self.rule(node, "contents")
        if rule is None or rule.max_count is None or len(node.values("contents")) > rule.max_count:
            return
        count = len(dict.fromkeys(id(c) for c in self.all_contents(node)))
        if count > rule.max_count:
            self.report(
                node,
                node.pointer,
                IssueCode.TOO_MANY_VALUES,
                f"{node.id} has {count} contents with those it inherits, the limit is {rule.max_count}",
            )

    # -- children uniqueness, enums, components ------------------------------------------------

    def _check_unique_children(self, node: Node) -> None:
        for term in list(node.props):
            rule = self.rule(node, term)
            if (
                rule is None
                or not rule.unique_properties
                or (term == "contents" and self.is_a(node, "Interface"))
            ):
                continue
            for key in rule.unique_properties:
                seen: set[object] = set()
                for child in self.children(node, term):
                    value = child.literal(key)
                    if value is None:
                        continue
                    marker = (type(value).__name__, value)
                    if marker in seen:
                        self.report(
                            node,
                            child.pointer,
                            IssueCode.NAME_DUPLICATE if key == "name" else IssueCode.VALUE_DUPLICATE,
                            f"{key} {value!r} is used twice in {term}",
                        )
                    seen.add(marker)

    def _check_partition_size(self, top: Node) -> None:
        limit = self.u.versions[top.version].partition_max_bytes
        if limit is not None and top.size > limit:
            self.report(
                top,
                top.pointer,
                IssueCode.DOCUMENT_TOO_LARGE,
                f"{top.id} is {top.size} bytes once serialized, the limit is {limit}",
            )

    def _check_descendant_count(self, top: Node, count: int) -> None:
        # DTDL v3 §Interface limits: at most 100,000 elements among the contents, transitively.
        desc = next((d for d in self.cls(top).descendants if "contents" in d.properties), None)
        if desc is None or desc.max_count is None:
            return
        if count > desc.max_count:
            self.report(
                top,
                top.pointer,
                IssueCode.CONTENTS_TOO_MANY,
                f"{top.id} defines {count} elements, the limit is {desc.max_count}",
            )
