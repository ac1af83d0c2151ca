"""Values as the query language sees them: JSON values plus ``undefined`` (a property that is not there).

Only primitives of the same kind compare; anything else is ``undefined``, and only boolean true passes a
WHERE clause, so a comparison with a missing property or an object never selects a row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any


class Undefined:
    """The value of a missing property; distinct from JSON null."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = Undefined()

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
# The comparison that means the same with its operands swapped (3 < x  is  x > 3).
MIRRORED = {"=": "=", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def kind_of(value: Any) -> str | None:
    """``number``, ``string``, ``boolean`` or ``null`` for primitives; None for objects, arrays, undefined."""
    t = type(value)
    if t is str:
        return "string"
    if t is int or t is float:
        return "number"
    if t is bool:
        return "boolean"
    if value is None:
        return "null"
    return None


def is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is float


def compare(op: str, left: Any, right: Any) -> Any:
    """A comparison in the hub's query semantics: values of different kinds compare as undefined, not false."""
    kind = kind_of(left)
    if kind is None or kind != kind_of(right):
        return UNDEFINED
    if kind == "null":
        return {"=": True, "!=": False}.get(op, UNDEFINED)
    return COMPARISONS[op](left, right)


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """Arithmetic on numbers only; anything else, or a division by zero, is undefined."""
    if not (is_number(left) and is_number(right)):
        return UNDEFINED
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return UNDEFINED
    if op == "/":
        return left / right
    remainder = abs(left) % abs(right)  # the sign follows the dividend, as in C#
    return remainder if left >= 0 else -remainder


def logical_and(left: Any, right: Any) -> Any:
    """Three-valued AND: false wins, then undefined."""
    if left is False or right is False:
        return False
    if left is True and right is True:
        return True
    return UNDEFINED


def logical_or(left: Any, right: Any) -> Any:
    """De Morgan over the three values: true if either is true, false if both are false, else undefined."""
    return logical_not(logical_and(logical_not(left), logical_not(right)))


def logical_not(value: Any) -> Any:
    """NOT of a boolean; anything else is undefined."""
    return (not value) if type(value) is bool else UNDEFINED


def membership_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key under which equal primitives meet (1 and 1.0 do; 1 and true do not)."""
    kind = kind_of(value)
    return None if kind is None else (kind, value)
