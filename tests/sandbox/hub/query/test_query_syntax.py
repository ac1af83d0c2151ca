"""Reading query text: keywords, literals, escapes, names, and errors that point at the problem."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.query import MAX_QUERY_LENGTH, QueryError, parse, parse_condition

TWIN = {
    "deviceId": "d1",
    "tags": {"group": {"name": "g"}, "it's": 1, 'quote"d': 2, "back\\slash": 3, "é": 4, "in": 5},
    "properties": {"reported": {"$iotin:deviceinfo": {"x": 7}, "$version": 9, "name": "caf\u00e9"}},
}


def selects(condition: str, doc: dict = TWIN) -> bool:
    return parse(f"SELECT * FROM devices WHERE {condition}").matches(doc)


@pytest.mark.parametrize(
    "text",
    [
        "select * from devices where deviceId = 'd1'",
        "SeLeCt * FrOm DeViCeS wHeRe deviceId = 'd1'",
        "SELECT *\n  FROM devices\n  WHERE deviceId = 'd1'",
        "SELECT * FROM devices WHERE not deviceId != 'd1' and true or false",
    ],
)
def test_keywords_and_collection_are_case_insensitive(text):
    assert parse(text).matches(TWIN)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("tags.[[it's]] = 1", True),
        ("tags.[[group]].name = 'g'", True),
        ("tags.[[in]] = 5", True),
        ("properties.reported.[[$iotin:deviceinfo]].x = 7", True),
        ("properties.reported.$version = 9", True),
        ("tags.[[é]] = 4", True),
        ("[[tags]].[[group]].[[name]] = 'g'", True),
    ],
)
def test_escaped_and_dollar_names(condition, expected):
    assert selects(condition) is expected


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'caf\u00e9'", "café"),
        (r"'caf\u00E9'", "café"),
        (r"'tab\tnew\nline'", "tab\tnew\nline"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ("''", ""),
    ],
)
def test_string_literals_and_escapes(literal, value):
    assert parse(f"SELECT * FROM devices WHERE deviceId = {literal}").matches({"deviceId": value})
    assert not parse(f"SELECT * FROM devices WHERE deviceId = {literal}").matches({"deviceId": value + "x"})


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("0x12C", 300),
        ("0X12c", 300),
        ("0xff", 255),
        ("42", 42),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000),
        ("2.5E-1", 0.25),
        ("-7", -7),
        ("- 7", -7),
        ("-0x10", -16),
    ],
)
def test_number_literals(literal, value):
    assert parse(f"SELECT * FROM devices WHERE x = {literal}").matches({"x": value})


def test_top():
    assert parse("SELECT TOP 3 * FROM devices").top == 3
    assert parse("select top 0x10 deviceId from devices").top == 16
    assert parse("SELECT * FROM devices").top is None
    assert parse("SELECT [[top]] FROM devices").project({"top": 1}) == {"top": 1}  # an escaped keyword


def test_projection_keys():
    query = parse(
        "SELECT deviceId, tags.location.region, properties.reported.x AS [[the x]], "
        "tags.[[group]] FROM devices"
    )
    doc = {
        "deviceId": "d",
        "tags": {"location": {"region": "US"}, "group": "g"},
        "properties": {"reported": {"x": 1}},
    }
    assert query.project(doc) == {"deviceId": "d", "region": "US", "the x": 1, "group": "g"}
    assert query.project({"deviceId": "d"}) == {"deviceId": "d"}  # undefined values leave their key out


def test_canonical_casing_applies_only_to_root_system_properties():
    query = parse("SELECT STATUS, Tags.Location FROM devices WHERE TAGS.Location = 'x'")
    assert query.project({"status": "enabled", "tags": {"Location": "x"}}) == {
        "status": "enabled",
        "Location": "x",
    }
    assert not query.matches({"tags": {"location": "x"}})  # below the root, names keep their case
    assert query.matches({"tags": {"Location": "x"}})


def _error(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (
            "SELECT * FROM devices WHER x = 1",
            1,
            23,
            ["unexpected 'WHER'", "WHERE", "GROUP BY", "the end of the query"],
        ),
        ("SELECT * FROM devices WHERE", 1, 28, ["ends too early", "an expression"]),
        ("SELECT * FROM devices WHERE x = 'abc", 1, 33, ["unterminated string"]),
        ("SELECT * FROM devices WHERE x # 1", 1, 31, ["unexpected character '#'"]),
        ("SELECT *\nFROM devices\nWHERE x == 1", 3, 10, ["unexpected '='"]),
        ("SELECT * FROM devices WHERE (x = 1", 1, 35, ["expected ')'"]),
        ("SELECT FROM devices", 1, 8, ["unexpected 'FROM'"]),
        ("* FROM devices", 1, 1, ["unexpected '*'", "SELECT"]),
        ("SELECT * FROM devices WHERE x = 1 GROUP x", 1, 41, ["expected BY"]),
        ("SELECT * FROM devices WHERE x IN ['a',]", 1, 39, ["unexpected ']'"]),
        ("SELECT * FROM devices WHERE x = 'a\\q'", 1, 35, ["unknown escape '\\q'"]),
        ("SELECT TOP 2.5 * FROM devices", 1, 12, ["whole number"]),
        ("SELECT * FROM devices WHERE x = 1 = 2", 1, 35, ["unexpected '='"]),
        ("SELECT * FROM devices WHERE tags.group.name = 'x'", 1, 34, ["'group' is a keyword", "[[group]]"]),
        ("SELECT * FROM devices WHERE tags.In = 'x'", 1, 34, ["'In' is a keyword", "[[In]]"]),
        ("SELECT * FROM devices WHERE group = 'x'", 1, 29, ["unexpected 'group'", "an expression"]),
    ],
)
def test_syntax_errors_name_line_column_and_expectation(text, line, column, words):
    error = _error(text)
    assert (error.line, error.column) == (line, column)
    assert error.message.startswith(f"Syntax error at line {line}, column {column}: ")
    for word in words:
        assert word in error.message


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("SELECT * FROM things", 15, ["unknown collection 'things'", "devices.modules"]),
        ("SELECT * FROM devices.twins", 15, ["unknown collection"]),
        ("SELECT * FROM devices WHERE STARTS_WITH(deviceId, 'x')", 29, ["unknown function 'STARTS_WITH'"]),
        ("SELECT * FROM devices WHERE LOWER(deviceId, 'x') = 'a'", 29, ["LOWER takes 1 argument(s), not 2"]),
        ("SELECT * FROM devices WHERE COUNT() > 1", 29, ["aggregate", "SELECT list"]),
        ("SELECT * FROM devices WHERE x IN y", 34, ["list of constants"]),
        ("SELECT * FROM devices WHERE x IN ['a', y]", 40, ["only constants"]),
        ("SELECT LOWER(deviceId) FROM devices", 8, ["property paths and COUNT()"]),
        ("SELECT COUNT(deviceId) FROM devices", 8, ["COUNT() takes no argument"]),
        ("SELECT AVG(1) FROM devices", 8, ["AVG() takes one property path"]),
        ("SELECT deviceId, COUNT() FROM devices", 8, ["'deviceId' must appear in GROUP BY"]),
        ("SELECT * FROM devices GROUP BY status", 32, ["GROUP BY needs a SELECT list"]),
        ("SELECT COUNT() FROM devices.modules GROUP BY moduleId", 46, ["only on device twins"]),
        ("SELECT * FROM devices.jobs GROUP BY devices.jobs.status", 37, ["only on device twins"]),
        ("SELECT * FROM devices.jobs WHERE deviceId = 'x'", 34, ["devices.jobs.<property>"]),
        ("SELECT * FROM devices.jobs WHERE devices.jobs = 'x'", 34, ["devices.jobs.<property>"]),
    ],
)
def test_invalid_queries_name_the_position(text, column, words):
    error = _error(text)
    assert (error.line, error.column) == (1, column)
    assert error.message.startswith(f"Invalid query at line 1, column {column}: ")
    for word in words:
        assert word in error.message


def test_length_limit():
    padding = " " * (MAX_QUERY_LENGTH - len("SELECT * FROM devices"))
    assert parse("SELECT * FROM devices" + padding).source == "devices"
    error = _error("SELECT * FROM devices" + padding + " ")
    assert f"at most {MAX_QUERY_LENGTH}" in error.message and str(MAX_QUERY_LENGTH + 1) in error.message
    assert (error.line, error.column) == (1, MAX_QUERY_LENGTH + 1)
    with pytest.raises(QueryError, match="at most 8192"):
        parse_condition("deviceId = '" + "x" * 9000 + "'")


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_query(text):
    assert "empty" in _error(text).message


def test_non_string_query():
    with pytest.raises(QueryError, match="must be a string"):
        parse(None)  # type: ignore[arg-type]


def test_condition_entry_point():
    assert parse_condition("deviceId IN ['a','b']").matches({"deviceId": "b"})
    assert parse_condition("tags.x = 1 AND NOT is_defined(tags.y)").matches({"tags": {"x": 1}})
    assert not parse_condition("deviceId = 'a'").matches({"deviceId": "b"})
    with pytest.raises(QueryError, match="line 1, column 12"):
        parse_condition("deviceId = ")
    with pytest.raises(QueryError, match="unexpected 'SELECT'"):
        parse_condition("SELECT * FROM devices")
