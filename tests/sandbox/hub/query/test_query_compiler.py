"""Evaluating conditions: operators, three-valued logic, undefined versus null, kinds of values."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.query import parse

DOC = {
    "n": 10,
    "f": 2.5,
    "zero": 0,
    "neg": -7,
    "s": "abc",
    "t": True,
    "no": False,
    "nil": None,
    "obj": {"a": 1},
    "arr": [1, 2],
    "nested": {"deep": {"er": "x"}},
    "num_text": "10",
}


def value(condition: str) -> bool:
    return parse(f"SELECT * FROM devices WHERE {condition}").matches(DOC)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("n = 10", True),
        ("n = 10.0", True),
        ("n != 10", False),
        ("n <> 11", True),
        ("n < 11", True),
        ("n > 11", False),
        ("n <= 10", True),
        ("n >= 10.5", False),
        ("10 = n", True),
        ("11 > n", True),
        ("9 >= n", False),
        ("s = 'abc'", True),
        ("s < 'abd'", True),
        ("s > 'ab'", True),
        ("s >= 'b'", False),
        ("'abd' > s", True),
        ("t = true", True),
        ("t != false", True),
        ("no = false", True),
        ("t > no", True),
        ("nil = null", True),
        ("nil != null", False),
        ("nil < null", False),
        ("nested.deep.er = 'x'", True),
        ("f = 2.5", True),
    ],
)
def test_comparisons_between_primitives_of_one_kind(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "n = '10'",
        "num_text = 10",
        "t = 1",
        "zero = false",
        "nil = 0",
        "s = null",
        "missing = 'a'",
        "missing != 'a'",
        "missing = null",
        "missing < 1",
        "obj = obj",
        "arr = arr",
        "obj != 'a'",
        "arr != 1",
        "nested.deep = nested.deep",
        "missing.deeper = 1",
        "s.length = 3",
        "arr.x = 1",
    ],
)
def test_mixed_kinds_objects_and_undefined_never_select(condition):
    assert value(condition) is False
    assert value(f"NOT ({condition})") is False  # undefined stays undefined under NOT


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("n = 10 AND s = 'abc'", True),
        ("n = 10 AND s = 'x'", False),
        ("n = 10 OR s = 'x'", True),
        ("n = 1 OR s = 'x'", False),
        ("NOT n = 1", True),
        ("NOT (n = 10)", False),
        ("NOT NOT n = 10", True),
        # three-valued logic: false AND undefined = false; true OR undefined = true
        ("NOT (n = 1 AND missing = 1)", True),
        ("NOT (n = 10 AND missing = 1)", False),
        ("n = 10 OR missing = 1", True),
        ("NOT (n = 1 OR missing = 1)", False),
        ("n = 1 AND missing = 1 OR s = 'abc'", True),  # AND binds tighter than OR
        ("s = 'abc' OR n = 1 AND missing = 1", True),
    ],
)
def test_logic(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize("condition", ["true", "n = 10"])
def test_only_boolean_true_selects(condition):
    assert value(condition)


@pytest.mark.parametrize(
    "condition", ["false", "null", "undefined", "'text'", "1", "n", "s", "obj", "arr", "t AND s"]
)
def test_anything_but_true_is_not_selected(condition):
    assert value(condition) is False


def test_boolean_property_alone_selects():
    assert value("t") and not value("no")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("n + 5 = 15", True),
        ("n - 15 = -5", True),
        ("n * f = 25", True),
        ("n / 4 = 2.5", True),
        ("n % 3 = 1", True),
        ("neg % 3 = -1", True),
        ("f % 1 = 0.5", True),
        ("-n = -10", True),
        ("- -n = 10", True),
        ("2 + 3 * 4 = 14", True),
        ("(2 + 3) * 4 = 20", True),
        ("n - 2 - 3 = 5", True),
        ("n / 2 / 5 = 1", True),
        ("n + 0x0A = 20", True),
    ],
)
def test_arithmetic(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "n / 0 = 0",
        "n % zero = 0",
        "n + s = 10",
        "s + 'd' = 'abcd'",
        "t + 1 = 2",
        "missing + 1 = 1",
        "-s = 1",
    ],
)
def test_arithmetic_on_non_numbers_or_by_zero_is_undefined(condition):
    assert value(condition) is False
    assert value(f"NOT ({condition})") is False


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("s IN ['x', 'abc']", True),
        ("s IN ['x']", False),
        ("n IN [1, 10]", True),
        ("n IN [10.0]", True),
        ("t IN [true]", True),
        ("t IN [1]", False),
        ("n IN ['10']", False),
        ("nil IN [null]", True),
        ("s NIN ['x']", True),
        ("s NIN ['abc']", False),
        ("n NIN ['10']", True),
        ("n IN [-10, -7]", False),
        ("neg IN [-7]", True),
        ("s in []", False),
        ("s nin []", True),
    ],
)
def test_in_and_nin(condition, expected):
    assert value(condition) is expected


@pytest.mark.parametrize(
    "condition",
    [
        "missing IN ['a']",
        "missing NIN ['a']",
        "obj IN ['a']",
        "obj NIN ['a']",
        "arr NIN [1]",
    ],
)
def test_in_and_nin_on_undefined_or_structures_select_nothing(condition):
    assert value(condition) is False
    assert value(f"NOT ({condition})") is False


def test_undefined_constant_and_null_property():
    assert parse("SELECT * FROM devices WHERE is_defined(x)").matches({"x": None})  # null is a value
    assert not parse("SELECT * FROM devices WHERE is_defined(x)").matches({})
    assert not value("is_defined(undefined)")


def test_where_is_optional_and_project_returns_the_document_for_select_star():
    query = parse("SELECT * FROM devices")
    assert query.matches({}) and query.project(DOC) is DOC
    assert not query.is_aggregate and query.top is None


def test_project_refuses_on_aggregate_and_aggregate_on_plain_queries():
    with pytest.raises(TypeError, match="aggregate"):
        parse("SELECT COUNT() FROM devices").project(DOC)
    with pytest.raises(TypeError, match="not an aggregate"):
        parse("SELECT deviceId FROM devices").aggregate([DOC])
