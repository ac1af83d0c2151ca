"""SQL for the query engine: a conservative pre-filter for any WHERE clause, and exact COUNT()/GROUP BY plans.

:func:`prefilter` uses ``json_extract`` over the column that holds each document as JSON and selects a superset
of the rows the condition accepts: parts it cannot translate are dropped from an AND and make an OR (or the
whole condition) untranslatable. Exact filtering still goes through ``matches``. It is sound because a
comparison is only true between primitives of the same kind, and SQLite compares a JSON string as text
(UTF-8 byte order = code-point order, as Python does) and a JSON number as a number.

:func:`count_plan` is exact, for the shapes it accepts: only ``COUNT()``, group keys that are paths, and a WHERE
that is an AND of comparisons of a path with a string or number constant. Each comparison checks the JSON type
first (``json_type``), so it is true exactly when the engine's is (a string constant never matches a number, a
boolean stored as 1 never matches 1). Anything else is left to the engine (None).

``Columns`` names where a path's value can be read more cheaply than by parsing the whole document: a column that
holds one object of it (``tags``) or one root string the hub itself writes (``status``); each holds exactly what
``json_extract`` of the document would give, so using it changes no result, only the speed (and lets SQLite use
their indexes). A table of leaves (``Columns.leaves``) answers a typed comparison on a path of plain names
(``tags.role = 'gateway'``) with an index lookup, the same rows ``json_type``/``json_extract`` would select.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .compiler import KeysFor
from .nodes import ArrayOf, Binary, Call, Const, Membership, Node, Path
from .values import MIRRORED, UNDEFINED, kind_of

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_SQL_OPERATORS = {"=": "=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}

Fragment = tuple[str, list[Any]]


class _AfterRowid:
    """A parameter the caller fills in with the rowid it resumes after (a leaf lookup starts its index scan there,
    instead of walking past every earlier match on each page)."""

    def __repr__(self) -> str:
        return "AFTER_ROWID"


AFTER_ROWID = _AfterRowid()


def bind(params: list[Any] | tuple[Any, ...], after: int) -> list[Any]:
    """``params`` with ``AFTER_ROWID`` replaced by ``after``."""
    return [after if value is AFTER_ROWID else value for value in params]


@dataclass(frozen=True)
class Columns:
    """Where SQL reads a document's values: ``document`` holds the whole JSON; ``objects`` maps a root key to a
    column holding that object's JSON (``{"tags": "q_tags"}``); ``strings`` a root key to a column holding the
    string the hub always writes there (``{"status": "q_status"}``); ``indexes`` a column to its index, so a plan
    that reads only that column can scan the (smaller) index instead of the table; ``leaves`` a root key to a table
    of that object's leaf values (``row_id``, ``path`` as ``json_tree``'s fullkey, ``type``, ``value``), indexed by path
    and value, so a comparison on one of them looks its rows up instead of reading every document."""

    document: str
    objects: dict[str, str] = field(default_factory=dict)
    strings: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)
    leaves: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [self.document, *self.objects.values(), *self.strings.values(), *self.indexes.values(),
                 *self.leaves.values()]
        for name in names:
            if not _COLUMN.fullmatch(name):
                raise ValueError(f"json_column must be a plain column name such as 'twin_json', not {name!r}")


@dataclass(frozen=True)
class CountPlan:
    """An exact COUNT()/GROUP BY in SQL: ``where`` (SQL, params) and, per group key, the SQL of its JSON type and
    value (read both to rebuild the value, see :func:`json_value`); ``index`` an index to scan, or None."""

    where: Fragment | None
    groups: list[tuple[str, str]]
    params: list[Any]
    index: str | None


def _as_columns(columns: str | Columns) -> Columns:
    return columns if isinstance(columns, Columns) else Columns(columns)


def prefilter(where: Node | None, keys_for: KeysFor, json_column: str | Columns) -> Fragment | None:
    columns = _as_columns(json_column)
    if where is None:
        return None
    return _Translator(keys_for, columns, objects=False).translate(where)


def count_plan(where: Node | None, group_by: list[Path], keys_for: KeysFor, columns: Columns) -> CountPlan | None:
    """The exact SQL of a COUNT()-only query with these group keys and condition, or None when it has none."""
    translator = _Translator(keys_for, columns)
    condition = None if where is None else translator.exact(where)
    if where is not None and condition is None:
        return None
    groups, params = [], []
    for path in group_by:
        read = translator.typed(path)
        if read is None:
            return None
        (type_sql, value_sql), read_params = read
        groups.append((type_sql, value_sql))
        params += read_params
    used = translator.used
    index = columns.indexes.get(next(iter(used))) if len(used) == 1 else None
    return CountPlan(condition, groups, params, index)


def json_value(json_type: str | None, value: Any) -> Any:
    """The engine's value of what SQLite's ``json_type`` and ``json_extract`` read (``UNDEFINED`` when missing)."""
    if json_type is None:
        return UNDEFINED
    if json_type == "true":
        return True
    if json_type == "false":
        return False
    if json_type == "null":
        return None
    if json_type in ("object", "array"):
        return json.loads(value)
    return value


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


_JSON_KINDS = {"string": "('text')", "number": "('integer', 'real')"}
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")  # a key json_tree writes unquoted in fullkey, in every version


class _Translator:
    def __init__(self, keys_for: KeysFor, columns: Columns, objects: bool = True) -> None:
        """``objects`` False reads object paths from the document: a row-by-row scan then parses one JSON text, not
        two (an object column is computed from the document); plans that scan an object column's index want it."""
        self.keys_for = keys_for
        self.columns = columns
        self.objects = columns.objects if objects else {}
        self.used: set[str] = set()  # columns the SQL reads

    def _source(self, keys: tuple[str, ...], function: str) -> Fragment | None:
        """``function(column, ?)`` reading ``keys``, from the narrowest column that holds them."""
        column = self.objects.get(keys[0])
        rest = keys[1:] if column else keys
        string_column = self.columns.strings.get(keys[0]) if len(keys) == 1 else None
        if string_column and function == "json_extract":
            self.used.add(string_column)
            return string_column, []
        column = column or self.columns.document
        path = json_path(rest)
        if path is None:
            return None
        self.used.add(column)
        return f"{function}({column}, ?)", [path]

    def typed(self, node: Node) -> tuple[tuple[str, str], list[Any]] | None:
        """(json type SQL, value SQL) of a path, with their parameters; None for anything else."""
        if not isinstance(node, Path):
            return None
        keys = self.keys_for(node)
        string_column = self.columns.strings.get(keys[0]) if len(keys) == 1 else None
        if string_column:  # the hub writes a string; read the document's type only where the column is NULL
            used = set(self.used)
            document = self._source(keys, "json_type")
            if document is None:
                return None
            self.used = used | {string_column}  # the document is read only for rows where the column is NULL
            return ((f"CASE WHEN {string_column} IS NULL THEN {document[0]} ELSE 'text' END", string_column),
                    document[1])
        kind, value = self._source(keys, "json_type"), self._source(keys, "json_extract")
        if kind is None or value is None:
            return None
        return (kind[0], value[0]), kind[1] + value[1]

    def exact(self, node: Node) -> Fragment | None:
        """SQL true exactly where the condition is true: ANDs of typed comparisons with constants, else None."""
        if isinstance(node, Binary) and node.op == "AND":
            left, right = self.exact(node.left), self.exact(node.right)
            return None if left is None or right is None else _join([left, right], "AND")
        if not (isinstance(node, Binary) and node.op in _SQL_OPERATORS):
            return None
        op, left, constant, leaf = self._oriented(node)
        if leaf is not None:
            return leaf
        read = self.typed(left)
        if constant is None or read is None:
            return None
        (type_sql, value_sql), params = read
        kinds = _JSON_KINDS[kind_of(constant)]
        return f"{type_sql} IN {kinds} AND {value_sql} {_SQL_OPERATORS[op]} ?", [*params, constant]

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
        return self._source(self.keys_for(node), function)

    def _leaf(self, node: Node, op: str, constants: list[Any]) -> Fragment | None:
        """The rows whose leaf at ``node`` is of the constants' JSON kind and compares true (``IN`` for several),
        from a table of leaves; None when there is none for the path or the constants mix kinds."""
        if not isinstance(node, Path) or not constants:
            return None
        keys = self.keys_for(node)
        table = self.columns.leaves.get(keys[0])
        kinds = {kind_of(value) for value in constants}
        if table is None or len(keys) < 2 or not all(_PLAIN_KEY.fullmatch(key) for key in keys) or len(kinds) != 1:
            return None
        self.used.add(table)
        test = f"value {_SQL_OPERATORS[op]} ?" if op != "IN" else f"value IN ({', '.join('?' * len(constants))})"
        return (f"rowid IN (SELECT row_id FROM {table} WHERE path = ? AND type IN {_JSON_KINDS[kinds.pop()]} "
                f"AND {test} AND row_id > ?)", ["$." + ".".join(keys), *constants, AFTER_ROWID])

    def _oriented(self, node: Binary) -> tuple[str, Node, Any, Fragment | None]:
        """The comparison with its constant on the right (``3 < x`` becomes ``x > 3``): the operator, the other side,
        the constant as SQL can hold it (None when it cannot), and the tag-index lookup when one answers it."""
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Const):
            op, left, right = MIRRORED[op], right, left
        constant = _sql_constant(right)
        return op, left, constant, None if constant is None else self._leaf(left, op, [constant])

    def _comparison(self, node: Binary) -> Fragment | None:
        op, left, constant, leaf = self._oriented(node)
        if leaf is not None:
            return leaf
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
        leaf = self._leaf(node.operand, "IN", constants)
        if leaf is not None:
            return leaf
        marks = ", ".join("?" for _ in constants)
        return f"{extract[0]} IN ({marks})", [*extract[1], *constants]


def _join(parts: list[Fragment], word: str) -> Fragment:
    if len(parts) == 1:
        return parts[0]
    sql = f" {word} ".join(f"({text})" for text, _ in parts)
    return sql, [value for _, params in parts for value in params]
