"""Text to nodes: the lark LALR parser over ``grammar.lark`` and the translation of its errors.

The basic (not contextual) lexer makes every keyword reserved everywhere, as in the real language where
``group`` must be written ``[[group]]`` to name a property.

Lark's exceptions become ``QueryError`` messages that name the line, the column, what was found and what
the grammar expected there, because that is what a learner needs to fix a query.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError

from .errors import QueryError, syntax_error_at
from .nodes import ArrayOf, Binary, Call, Const, Membership, Node, Path, Position, Projection, Select, Unary
from .values import UNDEFINED

# How the grammar's terminal names read in an error message, in the order they are listed.
_EXPECTED_WORDING = {
    "SELECT": "SELECT",
    "TOP": "TOP",
    "STAR": "'*'",
    "FROM": "FROM",
    "WHERE": "WHERE",
    "GROUP": "GROUP BY",
    "BY": "BY",
    "AS": "AS",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "IN": "IN",
    "NIN": "NIN",
    "NAME": "a property name",
    "ESCAPED_NAME": "a property name",
    "STRING": "a string",
    "DECIMAL": "a number",
    "HEX": "a number",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "UNDEFINED": "undefined",
    "COMPARE": "a comparison (= != <> < > <= >=)",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "MUL_OP": "'/' or '%'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "$END": "the end of the query",
}
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "TOP",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "NIN",
    "TRUE",
    "FALSE",
    "NULL",
    "UNDEFINED",
}
_NAMES = {"NAME", "ESCAPED_NAME"}
_EXPRESSION_STARTS = {"NAME", "STRING", "DECIMAL", "LSQB", "LPAR"}

_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


@functools.cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="basic", start=["query", "condition"], maybe_placeholders=True)


def parse_select(text: str) -> Select:
    return _parse(text, "query")


def parse_condition_node(text: str) -> Node | None:
    """A WHERE-clause fragment (a job's ``queryCondition``); None for ``*`` (every device)."""
    return _parse(text, "condition")


def _parse(text: str, start: str) -> Any:
    try:
        tree = _parser().parse(text, start=start)
        return _ToNodes().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, QueryError):
            raise error.orig_exc from None
        raise
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None


def _syntax_error(text: str, error: UnexpectedInput) -> QueryError:
    expected = _expected(_acceptable(error))
    if isinstance(error, UnexpectedToken) and error.token.type == "$END":
        return syntax_error_at(_end_position(text), f"the query ends too early; {expected}")
    if isinstance(error, UnexpectedToken) and error.token.type in _KEYWORDS and _acceptable(error) <= _NAMES:
        word = str(error.token)
        return syntax_error_at(
            (error.line, error.column),
            f"'{word}' is a keyword; escape it as [[{word}]] to use it as a property name",
        )
    if isinstance(error, UnexpectedToken):
        return syntax_error_at((error.line, error.column), f"unexpected '{error.token}'; {expected}")
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        found = "an unterminated string" if char in "'\"" else f"unexpected character '{char}'"
        return syntax_error_at((error.line, error.column), f"{found}; {expected}")
    return syntax_error_at(_end_position(text), str(error).strip())


def _acceptable(error: UnexpectedInput) -> set[str]:
    """The terminals the parser could really take next (the lexer's sets are merged across LALR states)."""
    parser = getattr(error, "interactive_parser", None)
    if parser is not None:
        return set(parser.accepts())
    return set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())


def _expected(names: set[str]) -> str:
    words = []
    if names >= _EXPRESSION_STARTS:
        words.append("an expression")
        names -= _EXPRESSION_STARTS | {
            "ESCAPED_NAME",
            "HEX",
            "TRUE",
            "FALSE",
            "NULL",
            "UNDEFINED",
            "MINUS",
            "NOT",
        }
    for name, wording in _EXPECTED_WORDING.items():
        if name in names and wording not in words:
            words.append(wording)
    if not words:
        return "the query cannot continue here"
    return "expected " + words[0] if len(words) == 1 else "expected one of: " + ", ".join(words)


def _end_position(text: str) -> Position:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _pos(token: Token) -> Position:
    return token.line, token.column


def _unescape(token: Token) -> str:
    """A quoted literal's value; ``\\'``, ``\\"``, ``\\\\``, ``\\uXXXX`` and the JSON escapes."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        offset = match.start() + 1  # +1 for the opening quote
        raise syntax_error_at(
            (token.line, token.column + offset),
            f"unknown escape '\\{code}' in a string; use \\', \\\", \\\\ or \\uXXXX",
        )

    return _ESCAPE.sub(replace, token[1:-1])


def _name(token: Token) -> str:
    return token[2:-2] if token.type == "ESCAPED_NAME" else str(token)


class _ToNodes(Transformer):
    """Builds ``nodes`` from the lark tree; named keyword tokens arrive as children and are skipped."""

    def query(self, children: list[Any]) -> Select:
        top = None
        where = None
        group_by: tuple[Path, ...] = ()
        projections: Any = None
        collection = None
        for child in children:
            if isinstance(child, _Top):
                top = child.value
            elif isinstance(child, _SelectList):
                projections = child.projections
            elif isinstance(child, Path):
                collection = child
            elif isinstance(child, _Where):
                where = child.expr
            elif isinstance(child, tuple):
                group_by = child
        assert collection is not None
        return Select(projections, top, collection, where, group_by)

    def condition_all(self, _children: list[Any]) -> None:
        return None

    def condition_expr(self, children: list[Any]) -> Node:
        return children[0]

    def top(self, children: list[Any]) -> _Top:
        number: Const = children[1]
        if not isinstance(number.value, int) or number.value < 0:
            raise syntax_error_at(number.pos, f"TOP needs a whole number of rows, not {number.value}")
        return _Top(number.value)

    def where(self, children: list[Any]) -> _Where:
        return _Where(children[1])

    def group_by(self, children: list[Any]) -> tuple[Path, ...]:
        return tuple(child for child in children if isinstance(child, Path))

    def select_all(self, _children: list[Any]) -> _SelectList:
        return _SelectList(None)

    def select_projections(self, children: list[Projection]) -> _SelectList:
        return _SelectList(tuple(children))

    def projection(self, children: list[Any]) -> Projection:
        expr = children[0]
        alias = children[2] if len(children) == 3 else None
        return Projection(expr, alias, _node_pos(expr))

    def alias(self, children: list[Token]) -> str:
        return _name(children[0])

    def or_(self, children: list[Any]) -> Binary:
        left, op, right = children
        return Binary("OR", left, right, _pos(op))

    def and_(self, children: list[Any]) -> Binary:
        left, op, right = children
        return Binary("AND", left, right, _pos(op))

    def not_(self, children: list[Any]) -> Unary:
        op, operand = children
        return Unary("NOT", operand, _pos(op))

    def compare(self, children: list[Any]) -> Binary:
        left, op, right = children
        return Binary("!=" if op == "<>" else str(op), left, right, _pos(op))

    def arithmetic(self, children: list[Any]) -> Binary:
        left, op, right = children
        return Binary(str(op), left, right, _pos(op))

    def in_(self, children: list[Any]) -> Membership:
        left, op, right = children
        return Membership(left, right, False, _pos(op))

    def nin(self, children: list[Any]) -> Membership:
        left, op, right = children
        return Membership(left, right, True, _pos(op))

    def negate(self, children: list[Any]) -> Node:
        op, operand = children
        if isinstance(operand, Const) and type(operand.value) in (int, float):
            return Const(-operand.value, _pos(op))
        return Unary("-", operand, _pos(op))

    def call(self, children: list[Any]) -> Call:
        name: Token = children[0]
        return Call(str(name), tuple(arg for arg in children[1:] if arg is not None), _pos(name))

    def array(self, children: list[Any]) -> ArrayOf:
        bracket: Token = children[0]
        return ArrayOf(tuple(item for item in children[1:] if item is not None), _pos(bracket))

    def path(self, children: list[tuple[str, bool, Position]]) -> Path:
        return Path(
            tuple(name for name, _, _ in children), tuple(bare for _, bare, _ in children), children[0][2]
        )

    def segment(self, children: list[Token]) -> tuple[str, bool, Position]:
        token = children[0]
        return _name(token), token.type == "NAME", _pos(token)

    def number(self, children: list[Token]) -> Const:
        token = children[0]
        if token.type == "HEX":
            value: int | float = int(token, 16)
        elif any(c in token for c in ".eE"):
            value = float(token)
        else:
            value = int(token)
        return Const(value, _pos(token))

    def string(self, children: list[Token]) -> Const:
        return Const(_unescape(children[0]), _pos(children[0]))

    def true(self, children: list[Token]) -> Const:
        return Const(True, _pos(children[0]))

    def false(self, children: list[Token]) -> Const:
        return Const(False, _pos(children[0]))

    def null(self, children: list[Token]) -> Const:
        return Const(None, _pos(children[0]))

    def undefined(self, children: list[Token]) -> Const:
        return Const(UNDEFINED, _pos(children[0]))


class _Top:
    def __init__(self, value: int) -> None:
        self.value = value


class _Where:
    def __init__(self, expr: Node) -> None:
        self.expr = expr


class _SelectList:
    def __init__(self, projections: tuple[Projection, ...] | None) -> None:
        self.projections = projections


def _node_pos(node: Node) -> Position:
    """Where a node's text starts (a binary node's own position is its operator)."""
    while isinstance(node, (Binary, Membership)):
        node = node.left if isinstance(node, Binary) else node.operand
    return node.pos
