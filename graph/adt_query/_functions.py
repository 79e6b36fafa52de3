"""ADT's functions, and the checks a ``WHERE`` condition passes before it is translated.

Every reference resolves to a property of a collection of the query; every function is
one of :data:`FUNCTIONS`, called with the arguments it takes; functions are conditions,
never values (ADT has no function that answers anything but a boolean).
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.adt_query._scope import Binding, Kind, Scope, property_of
from graph.adt_query.errors import QueryInvalid
from graph.adt_query.syntax import (
    And,
    Bare,
    Call,
    Compare,
    Condition,
    Literal,
    Membership,
    Not,
    Operand,
    Or,
    Ref,
)

FUNCTIONS = {
    "IS_OF_MODEL": (1, 3),
    "IS_DEFINED": (1, 1),
    "IS_NULL": (1, 1),
    "IS_BOOL": (1, 1),
    "IS_NUMBER": (1, 1),
    "IS_STRING": (1, 1),
    "IS_PRIMITIVE": (1, 1),
    "IS_OBJECT": (1, 1),
    "STARTSWITH": (2, 2),
    "ENDSWITH": (2, 2),
    "CONTAINS": (2, 2),
    "ARRAY_CONTAINS": (2, 2),
}
"""The functions and how many arguments each takes."""


_SYNONYMS = {"STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH"}


def check_condition(condition: Condition, scope: Scope) -> None:
    """Check a ``WHERE`` condition: every name resolves, every function is known and well used."""
    stack: list[Condition] = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, And | Or):
            stack.extend(reversed(item.conditions))  # left to right, so the first error is reported
        elif isinstance(item, Not):
            stack.append(item.condition)
        elif isinstance(item, Compare):
            for operand in (item.left, item.right):
                _value_operand(operand, scope, f"the comparison {item.op.value}")
        elif isinstance(item, Membership):
            _value_operand(item.operand, scope, "IN" if not item.negated else "NIN")
        elif isinstance(item, Bare):
            _bare(item, scope)


def _bare(item: Bare, scope: Scope) -> None:
    operand = item.operand
    if isinstance(operand, Call):
        check_call(operand, scope)
    elif not (isinstance(operand, Literal) and isinstance(operand.value, bool)):
        raise QueryInvalid(
            f"{operand} alone is not a condition: compare it (= true) or test it with a function",
            construct=str(operand),
            at=item.at,
        )


def _value_operand(operand: Operand, scope: Scope, where: str) -> None:
    if isinstance(operand, Call):
        raise QueryInvalid(
            f"{operand.name}() in {where}: a function is a condition by itself, not a value",
            construct=operand.name,
            at=operand.at,
        )
    if isinstance(operand, Ref):
        property_of(operand, scope, where)


def function_name(call: Call) -> str:
    """A call's function in canonical spelling (``startswith`` -> ``STARTSWITH``)."""
    name = call.name.upper()
    return _SYNONYMS.get(name, name)


def check_call(call: Call, scope: Scope) -> None:
    name = function_name(call)
    if name not in FUNCTIONS:
        known = ", ".join(sorted(FUNCTIONS))
        raise QueryInvalid(
            f"unknown function {call.name!r}; the functions are {known}", construct=call.name, at=call.at
        )
    low, high = FUNCTIONS[name]
    if not low <= len(call.args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise QueryInvalid(
            f"{name} takes {wanted} argument(s), not {len(call.args)}", construct=name, at=call.at
        )
    if name == "IS_OF_MODEL":
        model_test(call, scope)
        return
    for arg in call.args:
        if isinstance(arg, Call):
            raise QueryInvalid(
                f"{name}({arg.name}(...)): functions do not nest", construct=arg.name, at=arg.at
            )
        if isinstance(arg, Ref):
            property_of(arg, scope, name)
    if name in {"STARTSWITH", "ENDSWITH", "CONTAINS"}:
        text = call.args[1]
        if isinstance(text, Literal) and not isinstance(text.value, str):
            raise QueryInvalid(f"{name} compares with a string, not {text}", construct=name, at=text.at)


@dataclass(frozen=True)
class ModelTest:
    """``IS_OF_MODEL([collection,] 'dtmi' [, exact])`` read: which twins, which model, how."""

    binding: Binding
    model: str
    exact: bool


def model_test(call: Call, scope: Scope) -> ModelTest:
    """Read ``IS_OF_MODEL``'s arguments (reference: IS_OF_MODEL) or refuse them by name."""
    args = list(call.args)
    exact = False
    if (
        args
        and isinstance(args[-1], Ref)
        and len(args[-1].parts) == 1
        and args[-1].parts[0].lower() == "exact"
    ):
        exact = True
        args.pop()
    binding = scope.implicit
    if len(args) == 2:
        first = args.pop(0)
        if not isinstance(first, Ref) or len(first.parts) != 1 or first.parts[0] not in scope.bindings:
            raise QueryInvalid(
                f"IS_OF_MODEL's first argument must name a twin collection, not {first}",
                construct="IS_OF_MODEL",
                at=call.at,
            )
        binding = scope.bindings[first.parts[0]]
    if len(args) != 1 or not isinstance(args[0], Literal) or not isinstance(args[0].value, str):
        raise QueryInvalid(
            "IS_OF_MODEL takes a model id as a string: IS_OF_MODEL([twins,] 'dtmi:...;1' [, exact])",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    if binding is None:
        raise QueryInvalid(
            "IS_OF_MODEL must name its twin collection when the query has several",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    if binding.kind != Kind.TWIN:
        raise QueryInvalid(
            "IS_OF_MODEL tests twins, and this collection holds relationships",
            construct="IS_OF_MODEL",
            at=call.at,
        )
    return ModelTest(binding, args[0].value, exact)
