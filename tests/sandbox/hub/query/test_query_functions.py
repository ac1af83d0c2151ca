"""The built-in functions (IS_DEFINED plus the routing set), their case-insensitive names and mismatches."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.query import parse

DOC = {
    "n": -2.5,
    "i": 9,
    "s": "Hello World",
    "num": " 42 ",
    "fl": "1.5e1",
    "t": True,
    "nil": None,
    "obj": {"a": 1},
    "arr": [1],
    "empty": "",
}


def value(condition: str) -> bool:
    return parse(f"SELECT * FROM devices WHERE {condition}").matches(DOC)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("IS_DEFINED(s)", True),
        ("is_defined(missing)", False),
        ("Is_Defined(nil)", True),
        ("IS_ARRAY(arr)", True),
        ("IS_ARRAY(obj)", False),
        ("IS_BOOL(t)", True),
        ("IS_BOOL(i)", False),
        ("IS_NULL(nil)", True),
        ("IS_NULL(missing)", False),
        ("IS_NUMBER(i)", True),
        ("IS_NUMBER(n)", True),
        ("IS_NUMBER(t)", False),
        ("IS_NUMBER(num)", False),
        ("IS_OBJECT(obj)", True),
        ("IS_OBJECT(arr)", False),
        ("IS_PRIMITIVE(s)", True),
        ("IS_PRIMITIVE(nil)", True),
        ("IS_PRIMITIVE(obj)", False),
        ("IS_PRIMITIVE(missing)", False),
        ("IS_STRING(s)", True),
        ("IS_STRING(i)", False),
        ("is_string(missing)", False),
    ],
)
def test_type_checks(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("STARTSWITH(s, 'Hello')", True),
        ("startswith(s, 'hello')", False),
        ("STARTSWITH(s, 'hello', true)", True),
        ("ENDSWITH(s, 'World')", True),
        ("EndsWith(s, 'world', true)", True),
        ("ENDSWITH(s, 'Hello')", False),
        ("CONTAINS(s, 'o W')", True),
        ("CONTAINS(s, 'O w', true)", True),
        ("CONTAINS(s, 'xyz')", False),
        ("LOWER(s) = 'hello world'", True),
        ("UPPER(s) = 'HELLO WORLD'", True),
        ("LENGTH(s) = 11", True),
        ("LENGTH(empty) = 0", True),
        ("CONCAT(s, '!', '?') = 'Hello World!?'", True),
        ("SUBSTRING(s, 6, 5) = 'World'", True),
        ("SUBSTRING(s, 6, 100) = 'World'", True),
        ("INDEX_OF(s, 'World') = 6", True),
        ("INDEX_OF(s, 'xyz') = -1", True),
    ],
)
def test_string_functions(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("ABS(n) = 2.5", True),
        ("CEILING(n) = -2", True),
        ("FLOOR(n) = -3", True),
        ("SIGN(n) = -1", True),
        ("SIGN(i) = 1", True),
        ("SIGN(0) = 0", True),
        ("SQRT(i) = 3", True),
        ("SQUARE(i) = 81", True),
        ("POWER(i, 0.5) = 3", True),
        ("POWER(2, 10) = 1024", True),
        ("EXP(0) = 1", True),
        ("AS_NUMBER(num) = 42", True),
        ("AS_NUMBER(fl) = 15", True),
        ("AS_NUMBER(i) = 9", True),
    ],
)
def test_math_functions(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    "call",
    [
        "STARTSWITH(i, 'x')",
        "ENDSWITH(s, 1)",
        "CONTAINS(missing, 'a')",
        "LOWER(i)",
        "LENGTH(arr)",
        "CONCAT(s, i)",
        "SUBSTRING(s, 'a', 1)",
        "INDEX_OF(s, nil)",
        "ABS(s)",
        "SQRT(n)",
        "SQRT(s)",
        "POWER(n, 0.5)",
        "POWER(0, -1)",
        "EXP(100000)",
        "AS_NUMBER(s)",
        "AS_NUMBER(t)",
        "AS_NUMBER('inf')",
        "CEILING(missing)",
    ],
)
def test_wrong_kinds_give_undefined(call):
    assert value(f"IS_DEFINED({call})") is False
    assert value(f"NOT ({call} = 1)") is False


@pytest.mark.parametrize("condition", ["IS_DEFINED()", "STARTSWITH(s)", "SUBSTRING(s, 1)", "ABS(1, 2)"])
def test_wrong_argument_counts_are_refused(condition):
    with pytest.raises(ValueError, match="takes"):
        parse(f"SELECT * FROM devices WHERE {condition}")


def test_functions_compose():
    assert value("LOWER(CONCAT(SUBSTRING(s, 0, 5), '!')) = 'hello!'")
    assert value("LENGTH(UPPER(s)) + 1 = 12")
