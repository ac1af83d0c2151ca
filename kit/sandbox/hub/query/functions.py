"""The built-in functions: ``IS_DEFINED`` (documented for twin queries) and the message-routing set.

Each takes already evaluated arguments and returns a value or ``UNDEFINED`` when the arguments are of the
wrong kind, mirroring the routing language where a type mismatch yields undefined rather than an error.
Names are matched case-insensitively; the table gives (min args, max args, implementation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .values import UNDEFINED, Undefined, is_number, kind_of


def _strings(*values: Any) -> bool:
    return all(type(v) is str for v in values)


def _is_defined(value: Any) -> bool:
    return not isinstance(value, Undefined)


def _text_test(test: Callable[[str, str], bool]) -> Callable[..., Any]:
    """STARTSWITH/ENDSWITH/CONTAINS: two strings, and an optional third argument true to ignore case."""

    def apply(text: Any, part: Any, ignore_case: Any = False) -> Any:
        if not _strings(text, part):
            return UNDEFINED
        if ignore_case is True:
            return test(text.lower(), part.lower())
        return test(text, part)

    return apply


def _concat(*parts: Any) -> Any:
    return "".join(parts) if _strings(*parts) else UNDEFINED


def _substring(text: Any, start: Any, length: Any) -> Any:
    if type(text) is not str or not (is_number(start) and is_number(length)):
        return UNDEFINED
    begin = max(int(start), 0)
    return text[begin : begin + max(int(length), 0)]


def _index_of(text: Any, part: Any) -> Any:
    return text.find(part) if _strings(text, part) else UNDEFINED


def _string_function(fn: Callable[[str], Any]) -> Callable[[Any], Any]:
    return lambda value: fn(value) if type(value) is str else UNDEFINED


def _number_function(fn: Callable[[float], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if not is_number(value):
            return UNDEFINED
        try:
            return fn(value)
        except (ValueError, OverflowError):
            return UNDEFINED

    return apply


def _sqrt(value: float) -> float:
    if value < 0:
        raise ValueError("negative")
    return math.sqrt(value)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _power(base: Any, exponent: Any) -> Any:
    if not (is_number(base) and is_number(exponent)):
        return UNDEFINED
    try:
        result = base**exponent
    except (ZeroDivisionError, OverflowError):
        return UNDEFINED
    return UNDEFINED if isinstance(result, complex) else result


def _as_number(value: Any) -> Any:
    if is_number(value):
        return value
    if type(value) is not str:
        return UNDEFINED
    for convert in (int, float):
        try:
            number = convert(value.strip())
        except ValueError:
            continue
        return UNDEFINED if isinstance(number, float) and not math.isfinite(number) else number
    return UNDEFINED


FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    "IS_DEFINED": (1, 1, _is_defined),
    "IS_ARRAY": (1, 1, lambda v: type(v) is list),
    "IS_BOOL": (1, 1, lambda v: type(v) is bool),
    "IS_NULL": (1, 1, lambda v: v is None),
    "IS_NUMBER": (1, 1, is_number),
    "IS_OBJECT": (1, 1, lambda v: type(v) is dict),
    "IS_PRIMITIVE": (1, 1, lambda v: kind_of(v) is not None),
    "IS_STRING": (1, 1, lambda v: type(v) is str),
    "STARTSWITH": (2, 3, _text_test(str.startswith)),
    "ENDSWITH": (2, 3, _text_test(str.endswith)),
    "CONTAINS": (2, 3, _text_test(lambda text, part: part in text)),
    "LOWER": (1, 1, _string_function(str.lower)),
    "UPPER": (1, 1, _string_function(str.upper)),
    "LENGTH": (1, 1, _string_function(len)),
    "CONCAT": (2, 64, _concat),
    "SUBSTRING": (3, 3, _substring),
    "INDEX_OF": (2, 2, _index_of),
    "ABS": (1, 1, _number_function(abs)),
    "CEILING": (1, 1, _number_function(math.ceil)),
    "FLOOR": (1, 1, _number_function(math.floor)),
    "SIGN": (1, 1, _number_function(_sign)),
    "SQRT": (1, 1, _number_function(_sqrt)),
    "SQUARE": (1, 1, _number_function(lambda v: v * v)),
    "POWER": (2, 2, _power),
    "EXP": (1, 1, _number_function(math.exp)),
    "AS_NUMBER": (1, 1, _as_number),
}

AGGREGATE_NAMES = frozenset({"COUNT", "AVG", "SUM", "MIN", "MAX"})
