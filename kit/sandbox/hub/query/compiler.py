"""Nodes to Python closures, built once per query so that evaluating a row is a chain of plain calls.

Each closure takes a document (a dict) and returns a JSON value, ``UNDEFINED``, or for conditions
True/False/``UNDEFINED``. Common shapes (a path compared with a constant, IN over constants) get
specialised closures because they dominate real queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import invalid_at
from .functions import AGGREGATE_NAMES, FUNCTIONS
from .nodes import ArrayOf, Binary, Call, Const, Membership, Node, Path, Unary
from .values import (
    COMPARISONS,
    MIRRORED,
    UNDEFINED,
    arithmetic,
    compare,
    kind_of,
    logical_and,
    logical_not,
    logical_or,
    membership_key,
)

Evaluator = Callable[[dict], Any]
KeysFor = Callable[[Path], tuple[str, ...]]


def path_getter(keys: tuple[str, ...]) -> Evaluator:
    """Reads ``keys`` from a document; a missing key or a non-object on the way gives ``UNDEFINED``."""
    if len(keys) == 1:
        (only,) = keys
        return lambda doc: doc.get(only, UNDEFINED)
    if len(keys) == 2:
        first, second = keys

        def get_two(doc: dict) -> Any:
            value = doc.get(first, UNDEFINED)
            return value.get(second, UNDEFINED) if type(value) is dict else UNDEFINED

        return get_two

    def get(doc: dict) -> Any:
        value: Any = doc
        for key in keys:
            if type(value) is not dict:
                return UNDEFINED
            value = value.get(key, UNDEFINED)
        return value

    return get


def constant_value(node: Node) -> Any:
    """The value of a node made only of constants (a literal, or an array of literals); else a QueryError."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, ArrayOf):
        return [constant_value(item) for item in node.items]
    raise invalid_at(node.pos, "only constants are allowed here (a string, number, true, false or null)")


class Compiler:
    """Compiles expressions of one query; ``keys_for`` maps a path to document keys for its collection."""

    def __init__(self, keys_for: KeysFor) -> None:
        self.keys_for = keys_for

    def compile(self, node: Node) -> Evaluator:
        if isinstance(node, Const):
            value = node.value
            return lambda doc: value
        if isinstance(node, Path):
            return path_getter(self.keys_for(node))
        if isinstance(node, ArrayOf):
            items = [self.compile(item) for item in node.items]
            return lambda doc: [item(doc) for item in items]
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Unary):
            operand = self.compile(node.operand)
            if node.op == "NOT":
                return lambda doc: logical_not(operand(doc))
            return lambda doc: arithmetic("-", 0, operand(doc))
        if isinstance(node, Membership):
            return self._membership(node)
        return self._binary(node)

    def _call(self, node: Call) -> Evaluator:
        name = node.name.upper()
        if name in AGGREGATE_NAMES:
            raise invalid_at(node.pos, f"{name}() is an aggregate; it can only appear in the SELECT list")
        if name not in FUNCTIONS:
            raise invalid_at(node.pos, f"unknown function '{node.name}'")
        low, high, fn = FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            count = str(low) if low == high else f"{low} to {high}"
            raise invalid_at(node.pos, f"{name} takes {count} argument(s), not {len(node.args)}")
        args = [self.compile(arg) for arg in node.args]
        if len(args) == 1:
            (only,) = args
            return lambda doc: fn(only(doc))
        if len(args) == 2:
            first, second = args
            return lambda doc: fn(first(doc), second(doc))
        return lambda doc: fn(*[arg(doc) for arg in args])

    def _membership(self, node: Membership) -> Evaluator:
        if not isinstance(node.options, ArrayOf):
            raise invalid_at(node.options.pos, "IN and NIN need a list of constants, for example ['a', 'b']")
        options = constant_value(node.options)
        keys = frozenset(key for key in map(membership_key, options) if key is not None)
        operand = self.compile(node.operand)
        negated = node.negated

        def member(doc: dict) -> Any:
            key = membership_key(operand(doc))
            if key is None:
                return UNDEFINED
            return (key in keys) is not negated

        return member

    def _binary(self, node: Binary) -> Evaluator:
        op = node.op
        if op in COMPARISONS:
            return self._comparison(node)
        left, right = self.compile(node.left), self.compile(node.right)
        if op == "AND":

            def both(doc: dict) -> Any:
                first = left(doc)
                return False if first is False else logical_and(first, right(doc))

            return both
        if op == "OR":

            def either(doc: dict) -> Any:
                first = left(doc)
                return True if first is True else logical_or(first, right(doc))

            return either
        return lambda doc: arithmetic(op, left(doc), right(doc))

    def _comparison(self, node: Binary) -> Evaluator:
        op, left_node, right_node = node.op, node.left, node.right
        if isinstance(left_node, Const) and not isinstance(right_node, Const):
            op, left_node, right_node = MIRRORED[op], right_node, left_node
        if isinstance(right_node, Const) and kind_of(right_node.value) in ("string", "number"):
            return _compare_with_constant(op, self.compile(left_node), right_node.value)
        left, right = self.compile(left_node), self.compile(right_node)
        return lambda doc: compare(op, left(doc), right(doc))


def _compare_with_constant(op: str, operand: Evaluator, constant: Any) -> Evaluator:
    test = COMPARISONS[op]
    if type(constant) is str:

        def against_string(doc: dict) -> Any:
            value = operand(doc)
            return test(value, constant) if type(value) is str else UNDEFINED

        return against_string

    def against_number(doc: dict) -> Any:
        value = operand(doc)
        kind = type(value)
        return test(value, constant) if kind is int or kind is float else UNDEFINED

    return against_number
