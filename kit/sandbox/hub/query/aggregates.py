"""COUNT, AVG, SUM, MIN and MAX, and the GROUP BY that feeds them, computed in one pass over the rows.

Assumptions (the documentation gives no rule): SUM and AVG add up numbers and skip other values; MIN and
MAX order primitives as null < booleans < numbers < strings; an aggregate that saw no usable value is
undefined, so its key is left out of the row (COUNT() of no rows is 0). Rows whose group key is undefined
form one group whose output omits the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .values import UNDEFINED, is_number, kind_of

_RANK = {"null": 0, "boolean": 1, "number": 2, "string": 3}


class Count:
    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = 0

    def add(self, _value: Any) -> None:
        self.rows += 1

    def result(self) -> Any:
        return self.rows


class Sum:
    __slots__ = ("seen", "total")

    def __init__(self) -> None:
        self.total: int | float = 0
        self.seen = 0

    def add(self, value: Any) -> None:
        if is_number(value):
            self.total += value
            self.seen += 1

    def result(self) -> Any:
        return self.total if self.seen else UNDEFINED


class Avg(Sum):
    __slots__ = ()

    def result(self) -> Any:
        return self.total / self.seen if self.seen else UNDEFINED


class Min:
    __slots__ = ("best", "best_key")
    prefer_larger = False

    def __init__(self) -> None:
        self.best: Any = UNDEFINED
        self.best_key: tuple[int, Any] | None = None

    def add(self, value: Any) -> None:
        kind = kind_of(value)
        if kind is None:
            return
        key = (_RANK[kind], 0 if value is None else value)
        if self.best_key is None or (key > self.best_key if self.prefer_larger else key < self.best_key):
            self.best, self.best_key = value, key

    def result(self) -> Any:
        return self.best


class Max(Min):
    __slots__ = ()
    prefer_larger = True


ACCUMULATORS: dict[str, type] = {"COUNT": Count, "SUM": Sum, "AVG": Avg, "MIN": Min, "MAX": Max}


def group_key(value: Any) -> Any:
    """A hashable stand-in for a group value: kinds stay apart (1 vs true), objects compare by content."""
    kind = kind_of(value)
    if kind is not None:
        return kind, value
    if value is UNDEFINED:
        return UNDEFINED
    return "json", json.dumps(value, sort_keys=True)


class Grouping:
    """Streams rows into groups; ``columns`` say how each output key is filled.

    A column is ``(key, "group", index)`` for the index-th GROUP BY value, or ``(key, "aggregate", (name,
    getter))`` where getter reads the aggregated value (None for COUNT()).
    """

    def __init__(
        self, group_getters: list[Callable[[dict], Any]], columns: list[tuple[str, str, Any]]
    ) -> None:
        self.group_getters = group_getters
        self.columns = columns
        self.aggregates = [spec for _, how, spec in columns if how == "aggregate"]

    def rows(self, docs: Any, accept: Callable[[dict], bool]) -> list[dict]:
        groups: dict[Any, tuple[list[Any], list[Any]]] = {}
        getters = self.group_getters
        specs = self.aggregates
        for doc in docs:
            if not accept(doc):
                continue
            values = [get(doc) for get in getters]
            key = tuple(map(group_key, values))
            group = groups.get(key)
            if group is None:
                group = groups[key] = (values, [ACCUMULATORS[name]() for name, _ in specs])
            for accumulator, (_, get) in zip(group[1], specs):
                accumulator.add(None if get is None else get(doc))
        if not groups and not getters:
            groups[()] = ([], [ACCUMULATORS[name]() for name, _ in specs])
        return [self._row(values, accumulators) for values, accumulators in groups.values()]

    def rows_from_counts(self, counted: Any, docs: Any, accept: Callable[[dict], bool]) -> list[dict]:
        """The rows of a COUNT()-only query from counts made elsewhere (SQL): ``counted`` yields (first position,
        group values, count) per group, ``docs`` (position, document) for rows counted here. Groups whose values
        are the same to the engine (1 and 1.0, objects in another key order) merge, and rows come in the order of
        each group's first document, as :meth:`rows` gives them."""
        groups: dict[Any, list[Any]] = {}  # key -> [first position, values, count]

        def add(position: int, values: list[Any], count: int) -> None:
            key = tuple(map(group_key, values))
            group = groups.get(key)
            if group is None:
                groups[key] = [position, values, count]
                return
            if position < group[0]:
                group[0], group[1] = position, values
            group[2] += count

        for position, values, count in counted:
            add(position, list(values), count)
        for position, doc in docs:
            if accept(doc):
                add(position, [get(doc) for get in self.group_getters], 1)
        if not groups and not self.group_getters:
            groups[()] = [0, [], 0]
        rows = []
        for _, values, count in sorted(groups.values(), key=lambda group: group[0]):
            accumulators = []
            for name, _ in self.aggregates:
                accumulator = ACCUMULATORS[name]()
                accumulator.rows = count
                accumulators.append(accumulator)
            rows.append(self._row(values, accumulators))
        return rows

    @property
    def counts_only(self) -> bool:
        """Whether every aggregate is COUNT(), so counts made elsewhere are the whole result."""
        return all(name == "COUNT" for name, _ in self.aggregates)

    def _row(self, values: list[Any], accumulators: list[Any]) -> dict:
        row = {}
        results = iter(accumulators)
        for key, how, spec in self.columns:
            value = values[spec] if how == "group" else next(results).result()
            if value is not UNDEFINED:
                row[key] = value
        return row
