"""Aggregates and GROUP BY: empty inputs, undefined group keys, mixed values, WHERE and TOP."""

from __future__ import annotations

from kit.sandbox.hub.query import parse

DOCS = [
    {"deviceId": "a", "tags": {"site": "north"}, "v": 1},
    {"deviceId": "b", "tags": {"site": "north"}, "v": 4.5},
    {"deviceId": "c", "tags": {"site": "south"}, "v": "text"},
    {"deviceId": "d", "v": 10},
    {"deviceId": "e", "tags": {"site": "south"}},
    {"deviceId": "f", "tags": {"site": {"building": 1}}, "v": -3},
    {"deviceId": "g", "tags": {"site": {"building": 1}}, "v": True},
]


def rows(text: str, docs: list[dict] = DOCS) -> list[dict]:
    query = parse(text)
    assert query.is_aggregate and query.item_type == "raw"
    return query.aggregate(iter(docs))  # a generator is enough: one pass


def test_every_aggregate_over_all_rows():
    assert rows("SELECT COUNT() AS n, SUM(v) AS s, AVG(v) AS a, MIN(v) AS lo, MAX(v) AS hi FROM devices") == [
        {"n": 7, "s": 12.5, "a": 12.5 / 4, "lo": True, "hi": "text"}
    ]


def test_min_max_order_kinds_null_bool_number_string():
    numbers = [{"v": 3}, {"v": -1}, {"v": 2.5}]
    assert rows("SELECT MIN(v) AS lo, MAX(v) AS hi FROM devices", numbers) == [{"lo": -1, "hi": 3}]
    mixed = [{"v": "b"}, {"v": None}, {"v": 5}, {"v": "a"}, {"v": {"x": 1}}]
    assert rows("SELECT MIN(v) AS lo, MAX(v) AS hi FROM devices", mixed) == [{"lo": None, "hi": "b"}]


def test_no_rows_count_is_zero_and_other_aggregates_are_left_out():
    assert rows("SELECT COUNT() AS n, AVG(v) AS a, SUM(v) AS s, MIN(v), MAX(v) FROM devices", []) == [
        {"n": 0}
    ]
    assert rows("SELECT COUNT() AS n FROM devices WHERE v = 999") == [{"n": 0}]
    assert rows("SELECT AVG(missing) AS a, COUNT() AS n FROM devices") == [{"n": 7}]


def test_group_by_with_no_rows_gives_no_groups():
    assert rows("SELECT tags.site, COUNT() AS n FROM devices GROUP BY tags.site", []) == []


def test_group_by_undefined_key_and_object_keys():
    result = rows("SELECT tags.site AS site, COUNT() AS n, SUM(v) AS total FROM devices GROUP BY tags.site")
    assert result == [
        {"site": "north", "n": 2, "total": 5.5},
        {"site": "south", "n": 2},  # "text" and a missing v are not numbers
        {"n": 1, "total": 10},  # device d has no tags.site: its group omits the key
        {"site": {"building": 1}, "n": 2, "total": -3},
    ]


def test_group_keys_of_different_kinds_stay_apart():
    docs = [{"k": 1}, {"k": True}, {"k": 1.0}, {"k": "1"}, {"k": None}]
    assert rows("SELECT k, COUNT() AS n FROM devices GROUP BY k", docs) == [
        {"k": 1, "n": 2},
        {"k": True, "n": 1},
        {"k": "1", "n": 1},
        {"k": None, "n": 1},
    ]


def test_group_by_several_keys_and_unnamed_columns():
    docs = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "x"}]
    assert rows("SELECT a, b, COUNT(), MAX(a) FROM devices GROUP BY a, b", docs) == [
        {"a": 1, "b": "x", "$1": 2, "$2": 1},
        {"a": 1, "b": "y", "$1": 1, "$2": 1},
    ]


def test_group_by_without_aggregates_lists_distinct_values():
    assert rows("SELECT tags.site FROM devices WHERE v > 0 GROUP BY tags.site") == [{"site": "north"}, {}]


def test_where_and_top_apply_to_aggregates():
    assert rows("SELECT COUNT() AS n FROM devices WHERE IS_NUMBER(v)") == [{"n": 4}]
    assert rows("SELECT TOP 2 tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site") == [
        {"site": "north", "n": 2},
        {"site": "south", "n": 2},
    ]


def test_group_by_keys_use_canonical_root_names():
    docs = [{"status": "enabled"}, {"status": "disabled"}, {"status": "enabled"}]
    assert rows("SELECT Status, COUNT() AS n FROM devices GROUP BY STATUS", docs) == [
        {"status": "enabled", "n": 2},
        {"status": "disabled", "n": 1},
    ]
