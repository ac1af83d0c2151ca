"""The one exception the query engine raises: bad query text, with the position a learner needs to fix it."""

from __future__ import annotations

from .nodes import Position


class QueryError(ValueError):
    """A query the hub refuses (HTTP 400 ``ArgumentInvalid``); ``line``/``column`` are 1-based or None."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def invalid_at(pos: Position, detail: str) -> QueryError:
    """An error about a well-formed query that asks for something the language does not allow."""
    line, column = pos
    return QueryError(f"Invalid query at line {line}, column {column}: {detail}", line, column)


def syntax_error_at(pos: Position, detail: str) -> QueryError:
    """An error about text the grammar cannot read."""
    line, column = pos
    return QueryError(f"Syntax error at line {line}, column {column}: {detail}", line, column)
