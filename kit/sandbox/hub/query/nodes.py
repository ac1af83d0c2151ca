"""The parsed query as plain immutable nodes, each with the (line, column) where it starts.

The compiler turns these into closures once per query, and the SQL pre-filter reads them to build a
conservative SQLite condition, so neither needs to know about lark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Position = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    pos: Position


@dataclass(frozen=True, slots=True)
class Path:
    """``a.b.[[c]]``: ``bare[i]`` is False for a ``[[...]]`` segment (never a keyword, never re-cased)."""

    segments: tuple[str, ...]
    bare: tuple[bool, ...]
    pos: Position


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    pos: Position


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "NOT" or "-"
    operand: Node
    pos: Position


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "AND", "OR", a comparison ("=", "!=", "<", ...) or arithmetic ("+", "-", "*", "/", "%")
    left: Node
    right: Node
    pos: Position


@dataclass(frozen=True, slots=True)
class Membership:
    operand: Node
    options: Node
    negated: bool  # NIN
    pos: Position


@dataclass(frozen=True, slots=True)
class ArrayOf:
    items: tuple[Node, ...]
    pos: Position


Node = Const | Path | Call | Unary | Binary | Membership | ArrayOf


@dataclass(frozen=True, slots=True)
class Projection:
    expr: Node
    alias: str | None
    pos: Position


@dataclass(frozen=True, slots=True)
class Select:
    """``projections`` is None for ``SELECT *``."""

    projections: tuple[Projection, ...] | None
    top: int | None
    collection: Path
    where: Node | None
    group_by: tuple[Path, ...]
