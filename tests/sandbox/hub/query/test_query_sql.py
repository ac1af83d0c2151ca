"""The SQLite pre-filter: run in a real SQLite database, it must keep every row the engine selects."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kit.sandbox.hub.query import parse, parse_condition

DOCS = [
    {
        "deviceId": "a",
        "status": "enabled",
        "tags": {"site": "north", "n": 1},
        "properties": {"desired": {"$version": 3}},
    },
    {
        "deviceId": "b",
        "status": "disabled",
        "tags": {"site": "south", "n": 2.5},
        "properties": {"desired": {"$version": 5}},
    },
    {"deviceId": "c", "status": "enabled", "tags": {"site": {"x": 1}, "n": "2"}},
    {"deviceId": "d", "status": "enabled", "tags": {"site": None, "n": True, "a.b": "dot"}},
    {"deviceId": "é", "status": "enabled", "tags": {"site": "north", "n": 10}},
]


@pytest.fixture
def db() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE twins (device_id TEXT, twin_json TEXT)")
    connection.executemany("INSERT INTO twins VALUES (?, ?)", [(d["deviceId"], json.dumps(d)) for d in DOCS])
    return connection


def prefiltered(db: sqlite3.Connection, fragment: tuple[str, list]) -> set[str]:
    sql, params = fragment
    return {row[0] for row in db.execute(f"SELECT device_id FROM twins WHERE {sql}", params)}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("deviceId = 'a'", {"a"}),
        ("STATUS = 'enabled'", {"a", "c", "d", "é"}),
        ("tags.site = 'north'", {"a", "é"}),
        ("tags.n > 1", {"b", "é"}),
        ("2 <= tags.n", {"b", "é"}),
        ("tags.n != 1", {"b", "é"}),
        ("tags.n <> 1", {"b", "é"}),
        ("properties.desired.$version >= 4", {"b"}),
        ("tags.[[a.b]] = 'dot'", {"d"}),
        ("deviceId IN ['a', 'é']", {"a", "é"}),
        ("deviceId = 'é'", {"é"}),
        ("tags.site = 'north' AND tags.n < 5", {"a"}),
        ("tags.site = 'south' OR deviceId = 'a'", {"a", "b"}),
        ("is_defined(tags.site)", {"a", "b", "c", "d", "é"}),
        ("deviceId IN []", set()),
    ],
)
def test_translated_conditions_select_a_superset_of_matches(db, condition, expected):
    query = parse(f"SELECT * FROM devices WHERE {condition}")
    fragment = query.sql_prefilter("twin_json")
    assert fragment is not None
    matched = {doc["deviceId"] for doc in DOCS if query.matches(doc)}
    assert matched == expected
    assert prefiltered(db, fragment) >= matched


@pytest.mark.parametrize(
    "condition",
    [
        "NOT deviceId = 'a'",
        "tags.n NIN [1]",
        "LOWER(deviceId) = 'a'",
        "tags.n = true",
        "tags.site = null",
        "tags.n + 1 = 2",
        "deviceId = 'a' OR NOT deviceId = 'b'",
        "tags.n IN [1, true]",
    ],
)
def test_untranslatable_conditions_give_none(condition):
    assert parse(f"SELECT * FROM devices WHERE {condition}").sql_prefilter("twin_json") is None


def test_and_keeps_the_translatable_half(db):
    query = parse("SELECT * FROM devices WHERE tags.site = 'north' AND NOT tags.n = 10")
    fragment = query.sql_prefilter("twin_json")
    assert fragment is not None and prefiltered(db, fragment) == {"a", "é"}
    assert {doc["deviceId"] for doc in DOCS if query.matches(doc)} == {"a"}


def test_no_where_and_bad_column_names():
    assert parse("SELECT * FROM devices").sql_prefilter("twin_json") is None
    with pytest.raises(ValueError, match="json_column"):
        parse("SELECT * FROM devices WHERE deviceId = 'a'").sql_prefilter("twin_json; DROP TABLE twins")


def test_conditions_have_a_prefilter_too(db):
    fragment = parse_condition("deviceId IN ['b', 'c']").sql_prefilter("t.twin_json")
    assert fragment is not None
    sql, params = fragment
    assert "t.twin_json" in sql
    assert prefiltered(db, (sql.replace("t.twin_json", "twin_json"), params)) == {"b", "c"}
