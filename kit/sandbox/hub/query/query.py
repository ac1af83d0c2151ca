"""Parsed, checked and compiled queries: what the hub's query endpoint and job scheduler call."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from .aggregates import Grouping
from .compiler import Compiler, path_getter
from .errors import QueryError, invalid_at
from .functions import AGGREGATE_NAMES
from .nodes import Call, Node, Path, Projection, Select
from .properties import DEVICES, JOBS, collection_of, document_keys
from .sql import Columns, CountPlan, Fragment, count_plan, prefilter
from .syntax import parse_condition_node, parse_select
from .values import UNDEFINED

MAX_QUERY_LENGTH = 8192  # characters, per the query-twins and query-jobs documentation


def parse(text: str) -> Query:
    """Parse and compile a full query (``SELECT ... FROM ...``); raises QueryError for anything invalid."""
    _check_text(text)
    return Query(text, parse_select(text))


def parse_condition(text: str) -> Condition:
    """Parse a WHERE-clause fragment over device twins, such as a job's ``queryCondition`` (``*`` = all)."""
    _check_text(text)
    return Condition(text, parse_condition_node(text))


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        raise QueryError(f"The query must be a string, not {type(text).__name__}")
    if not text.strip():
        raise QueryError("The query is empty; write for example SELECT * FROM devices", 1, 1)
    if len(text) > MAX_QUERY_LENGTH:
        before = text[:MAX_QUERY_LENGTH]
        line = before.count("\n") + 1
        column = MAX_QUERY_LENGTH - (before.rfind("\n") + 1) + 1
        raise QueryError(
            f"The query is {len(text)} characters long; IoT Hub accepts at most {MAX_QUERY_LENGTH} "
            f"(the excess starts at line {line}, column {column})",
            line,
            column,
        )


class _Filter:
    """A compiled WHERE condition over one collection."""

    def __init__(self, text: str, source: str, where: Node | None) -> None:
        self.text = text
        self.source = source
        self._where = where
        self._keys_for = functools.partial(document_keys, collection=source)
        self._compiler = Compiler(self._keys_for)
        self._predicate = None if where is None else self._compiler.compile(where)

    @property
    def has_condition(self) -> bool:
        """Whether there is a WHERE clause (without one, ``matches`` never looks at the document)."""
        return self._predicate is not None

    def matches(self, doc: dict) -> bool:
        """True when the condition is boolean true for ``doc`` (always, without a condition)."""
        return self._predicate is None or self._predicate(doc) is True

    def sql_prefilter(self, json_column: str | Columns) -> Fragment | None:
        """``(sql, params)`` picking a superset of the matching rows via ``json_column``, or None."""
        return prefilter(self._where, self._keys_for, json_column)


class Condition(_Filter):
    """A job's ``queryCondition`` (or any WHERE fragment) over device twins."""

    def __init__(self, text: str, where: Node | None) -> None:
        super().__init__(text, DEVICES, where)

    @property
    def selects_all(self) -> bool:
        return self._where is None


class Query(_Filter):
    """One query, ready to run over documents of ``source``."""

    def __init__(self, text: str, select: Select) -> None:
        super().__init__(text, collection_of(select.collection), select.where)
        self.top = select.top
        self._projections = select.projections
        _check_collection_rules(self.source, select)
        self.is_aggregate = bool(select.group_by) or any(
            _is_aggregate(p.expr) for p in select.projections or ()
        )
        if select.projections is None:
            self.item_type = "deviceJob" if self.source == JOBS else "twin"
        else:
            self.item_type = "raw"
        self._columns = self._plain_columns() if select.projections and not self.is_aggregate else []
        self._grouping = self._build_grouping(select) if self.is_aggregate else None
        self._group_by = select.group_by

    def project(self, doc: dict) -> dict:
        """The result row for one matching document: the document itself for ``SELECT *``."""
        if self._projections is None:
            return doc
        if self._grouping is not None:
            raise TypeError(
                "an aggregate query produces rows from all documents at once; call aggregate(docs)"
            )
        row = {}
        for key, get in self._columns:
            value = get(doc)
            if value is not UNDEFINED:
                row[key] = value
        return row

    def aggregate(self, docs: Iterable[dict]) -> list[dict]:
        """The rows of an aggregate or GROUP BY query; filters ``docs`` with the WHERE clause itself."""
        if self._grouping is None:
            raise TypeError("not an aggregate query; call matches(doc) and project(doc) per document")
        rows = self._grouping.rows(docs, self.matches)
        return rows if self.top is None else rows[: self.top]

    def count_plan(self, columns: Columns) -> CountPlan | None:
        """An exact SQL plan for a COUNT()-only aggregate over ``columns`` (see ``sql.count_plan``), else None."""
        if self._grouping is None or not self._grouping.counts_only:
            return None
        return count_plan(self._where, list(self._group_by or ()), self._keys_for, columns)

    def aggregate_counts(self, counted: Iterable[tuple[int, list[Any], int]],
                         docs: Iterable[tuple[int, dict]] = ()) -> list[dict]:
        """The rows of a COUNT()-only aggregate from counts per group made by its ``count_plan`` (first position,
        group values, count), plus ``docs`` (position, document) still to be counted and filtered here."""
        assert self._grouping is not None and self._grouping.counts_only
        rows = self._grouping.rows_from_counts(counted, docs, self.matches)
        return rows if self.top is None else rows[: self.top]

    def _column_names(self) -> list[str]:
        names, unnamed = [], 0
        for projection in self._projections or ():
            if projection.alias is not None:
                names.append(projection.alias)
            elif isinstance(projection.expr, Path):
                names.append(self._keys_for(projection.expr)[-1])
            else:
                unnamed += 1
                names.append(f"${unnamed}")
        return names

    def _plain_columns(self) -> list[tuple[str, Any]]:
        assert self._projections is not None
        return [
            (name, self._compiler.compile(projection.expr))
            for name, projection in zip(self._column_names(), self._projections)
        ]

    def _build_grouping(self, select: Select) -> Grouping:
        group_keys = [self._keys_for(path) for path in select.group_by]
        columns: list[tuple[str, str, Any]] = []
        for name, projection in zip(self._column_names(), select.projections or ()):
            expr = projection.expr
            if isinstance(expr, Call):
                getter = self._compiler.compile(expr.args[0]) if expr.args else None
                columns.append((name, "aggregate", (expr.name.upper(), getter)))
            elif isinstance(expr, Path) and self._keys_for(expr) in group_keys:
                columns.append((name, "group", group_keys.index(self._keys_for(expr))))
            else:
                raise invalid_at(
                    projection.pos, f"'{_text_of(expr)}' must appear in GROUP BY or inside an aggregate"
                )
        return Grouping([path_getter(keys) for keys in group_keys], columns)


def _is_aggregate(expr: Node) -> bool:
    return isinstance(expr, Call) and expr.name.upper() in AGGREGATE_NAMES


def _check_collection_rules(source: str, select: Select) -> None:
    """What each collection allows, beyond the grammar (query-language and query-jobs documentation)."""
    if select.group_by and source != DEVICES:
        raise invalid_at(select.group_by[0].pos, "GROUP BY is supported only on device twins (FROM devices)")
    if select.projections is None:
        if select.group_by:
            raise invalid_at(
                select.group_by[0].pos, "GROUP BY needs a SELECT list of group keys and aggregates"
            )
    elif source == JOBS:
        raise invalid_at(select.projections[0].pos, "a devices.jobs query supports only SELECT *")
    else:
        for projection in select.projections:
            _check_projection(projection)


def _check_projection(projection: Projection) -> None:
    expr = projection.expr
    if isinstance(expr, Path):
        return
    if not _is_aggregate(expr):
        raise invalid_at(
            projection.pos,
            "the SELECT list holds property paths and COUNT(), AVG(), SUM(), MIN() or MAX(), "
            "each with an optional AS alias",
        )
    assert isinstance(expr, Call)
    name = expr.name.upper()
    if name == "COUNT":
        if expr.args:
            raise invalid_at(expr.pos, "COUNT() takes no argument; it counts the rows")
    elif len(expr.args) != 1 or not isinstance(expr.args[0], Path):
        raise invalid_at(
            expr.pos, f"{name}() takes one property path, for example {name}(properties.reported.x)"
        )


def _text_of(expr: Node) -> str:
    return ".".join(expr.segments) if isinstance(expr, Path) else type(expr).__name__
