"""A conservative SQLite pre-filter for a WHERE clause, so the hub reads fewer rows before exact matching.

The fragment uses ``json_extract`` over the column that holds each document as JSON and selects a superset
of the rows the condition accepts: parts it cannot translate are dropped from an AND and make an OR (or the
whole condition) untranslatable. Exact filtering still goes through ``matches``. It is sound because a
comparison is only true between primitives of the same kind, and SQLite compares a JSON string as text
(UTF-8 byte order = code-point order, as Python does) and a JSON number as a number.
"""

from __future__ import annotations

import re
from typing import Any

from .compiler import KeysFor
from .nodes import ArrayOf, Binary, Call, Const, Membership, Node, Path
from .values import MIRRORED, kind_of

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_SQL_OPERATORS = {"=": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}

Fragment = tuple[str, list[Any]]


def prefilter(where: Node | None, keys_for: KeysFor, json_column: str) -> Fragment | None:
    if not _COLUMN.fullmatch(json_column):
        raise ValueError(f"json_column must be a plain column name such as 'twin_json', not {json_column!r}")
    if where is None:
        return None
    return _Translator(keys_for, json_column).translate(where)


def json_path(keys: tuple[str, ...]) -> str | None:
    """SQLite's JSON path for ``keys``, each quoted so ``$version`` or ``a.b`` keys stay one label."""
    if any('"' in key or "\\" in key for key in keys):
        return None
    return "$" + "".join(f'."{key}"' for key in keys)


def _sql_constant(node: Node) -> Any:
    """A string or number constant, else None (booleans and null do not map one-to-one onto SQLite values)."""
    if isinstance(node, Const) and kind_of(node.value) in ("string", "number"):
        return node.value
    return None


class _Translator:
    def __init__(self, keys_for: KeysFor, column: str) -> None:
        self.keys_for = keys_for
        self.column = column

    def translate(self, node: Node) -> Fragment | None:
        if isinstance(node, Binary) and node.op == "AND":
            parts = [p for p in (self.translate(node.left), self.translate(node.right)) if p is not None]
            return _join(parts, "AND") if parts else None
        if isinstance(node, Binary) and node.op == "OR":
            left, right = self.translate(node.left), self.translate(node.right)
            return _join([left, right], "OR") if left is not None and right is not None else None
        if isinstance(node, Binary) and node.op in _SQL_OPERATORS:
            return self._comparison(node)
        if isinstance(node, Membership) and not node.negated:
            return self._membership(node)
        if isinstance(node, Call) and node.name.upper() == "IS_DEFINED" and len(node.args) == 1:
            extract = self._extract(node.args[0], "json_type")
            return None if extract is None else (f"{extract[0]} IS NOT NULL", extract[1])
        return None

    def _extract(self, node: Node, function: str = "json_extract") -> Fragment | None:
        if not isinstance(node, Path):
            return None
        path = json_path(self.keys_for(node))
        return None if path is None else (f"{function}({self.column}, ?)", [path])

    def _comparison(self, node: Binary) -> Fragment | None:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Const):
            op, left, right = MIRRORED[op], right, left
        constant = _sql_constant(right)
        extract = self._extract(left)
        if constant is None or extract is None:
            return None
        return f"{extract[0]} {_SQL_OPERATORS[op]} ?", [*extract[1], constant]

    def _membership(self, node: Membership) -> Fragment | None:
        extract = self._extract(node.operand)
        if extract is None or not isinstance(node.options, ArrayOf):
            return None
        constants = [_sql_constant(item) for item in node.options.items]
        if any(value is None for value in constants):
            return None
        if not constants:
            return "0", []
        marks = ", ".join("?" for _ in constants)
        return f"{extract[0]} IN ({marks})", [*extract[1], *constants]


def _join(parts: list[Fragment], word: str) -> Fragment:
    if len(parts) == 1:
        return parts[0]
    sql = f" {word} ".join(f"({text})" for text, _ in parts)
    return sql, [value for _, params in parts for value in params]
