"""COUNT() and GROUP BY computed by SQLite over the registry's generated columns (query/sql.py ``count_plan``,
registry.py ``count_groups``) must give exactly the rows the engine gives when it reads every twin."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kit.sandbox.db import Database
from kit.sandbox.hub.devices.registry import GENERATED, TAG_LEAVES, Registry
from kit.sandbox.hub.query import parse
from kit.sandbox.hub.routes.query import aggregate, run_page

TAGS = [
    {"building": "b1", "floor": 1, "kind": "t"},
    {"building": "b2", "floor": 1.0, "kind": "t"},  # 1 and 1.0 are one group to the engine
    {"building": "b1", "floor": True},  # a boolean is not the number 1
    {"building": None, "floor": "1"},
    {"floor": 2, "place": {"x": 1, "y": 2}},
    {"building": "b2", "floor": 2, "place": {"y": 2, "x": 1}},  # the same object in another key order
    {"building": "b1", "floor": [1, 2]},
    {},
    {"building": "B1", "floor": 3},
]

QUERIES = [
    "SELECT COUNT() AS n FROM devices",
    "SELECT COUNT() FROM devices",
    "SELECT COUNT() AS n FROM devices WHERE tags.building = 'b1'",
    "SELECT COUNT() AS n FROM devices WHERE tags.floor = 1",
    "SELECT COUNT() AS n FROM devices WHERE tags.floor >= 1 AND tags.building != 'b2'",
    "SELECT COUNT() AS n FROM devices WHERE 2 > tags.floor",
    "SELECT COUNT() AS n FROM devices WHERE status = 'disabled'",
    "SELECT COUNT() AS n FROM devices WHERE connectionState = 'Disconnected' AND tags.kind = 't'",
    "SELECT COUNT() AS n FROM devices WHERE tags.building = 'nowhere'",
    "SELECT tags.building, COUNT() AS n FROM devices GROUP BY tags.building",
    "SELECT tags.floor AS f, COUNT() AS n FROM devices GROUP BY tags.floor",
    "SELECT tags.place, COUNT() AS n FROM devices GROUP BY tags.place",
    "SELECT status, COUNT() AS n FROM devices GROUP BY status",
    "SELECT modelId, tags.building, COUNT() AS n FROM devices WHERE tags.floor < 3 GROUP BY modelId, tags.building",
    "SELECT TOP 2 tags.building, COUNT() AS n FROM devices GROUP BY tags.building",
    "SELECT deviceId, COUNT() AS n FROM devices WHERE properties.desired.level > 1 GROUP BY deviceId",
    "SELECT COUNT() AS n FROM devices WHERE tags.place.x = 1",
    "SELECT tags.kind, COUNT() AS n FROM devices WHERE tags.floor < 2.5 AND tags.building > 'a' GROUP BY tags.kind",
]
ENGINE_ONLY = [  # shapes the SQL plan leaves to the engine
    "SELECT COUNT() AS n FROM devices WHERE tags.building = 'b1' OR tags.floor = 2",
    "SELECT COUNT() AS n FROM devices WHERE tags.floor = true",
    "SELECT COUNT() AS n FROM devices WHERE tags.building IN ['b1', 'b2']",
    "SELECT SUM(tags.floor) AS s FROM devices",
]


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    db = Database.in_state_dir(tmp_path_factory.mktemp("counts"))
    registry = Registry(db)
    for number, tags in enumerate(TAGS):
        device = f"dev-{number}"
        registry.put_device(device, {"status": "disabled" if number % 3 == 0 else "enabled"}, None)
        registry.update_twin(device, {"tags": tags, "properties": {"desired": {"level": number}}}, None)
    return registry


def engine_rows(registry: Registry, text: str) -> list[dict]:
    query = parse(text)
    return query.aggregate(registry.get_twin(row["device_id"]) for row in
                           registry.db.all("SELECT device_id FROM hub_devices ORDER BY rowid"))


@pytest.mark.parametrize("text", QUERIES)
def test_sql_counts_equal_the_engine(registry, text):
    query = parse(text)
    assert query.count_plan(registry.query_columns("hub_devices")) is not None
    assert aggregate({}, registry, query) == engine_rows(registry, text)


@pytest.mark.parametrize("text", ENGINE_ONLY)
def test_other_shapes_stay_with_the_engine(registry, text):
    query = parse(text)
    assert query.count_plan(registry.query_columns("hub_devices")) is None
    assert aggregate({}, registry, query) == engine_rows(registry, text)


FILTERS = ["tags.building = 'b1'", "tags.floor = 1", "tags.floor >= 1 AND tags.kind = 't'", "tags.place.y = 2",
           "tags.building IN ['b1', 'B1']", "tags.floor IN [1, 2]", "tags.building = 'b1' OR status = 'disabled'"]


def page_ids(registry: Registry, condition: str) -> list[str]:
    body, _, _ = run_page({}, registry, f"SELECT deviceId FROM devices WHERE {condition}", 100, None)
    return [row["deviceId"] for row in json.loads(body)]


def engine_ids(registry: Registry, condition: str) -> list[str]:
    query = parse(f"SELECT * FROM devices WHERE {condition}")
    twins = (registry.get_twin(row["device_id"]) for row in
             registry.db.all("SELECT device_id FROM hub_devices ORDER BY rowid"))
    return [twin["deviceId"] for twin in twins if query.matches(twin)]


@pytest.mark.parametrize("condition", FILTERS)
def test_tag_filters_looked_up_in_the_leaves_select_what_the_engine_selects(registry, condition):
    if "OR" not in condition:
        sql, _ = parse(f"SELECT * FROM devices WHERE {condition}").sql_prefilter(registry.query_columns("hub_devices"))
        assert TAG_LEAVES in sql
    assert page_ids(registry, condition) == engine_ids(registry, condition)


def test_the_leaves_follow_tag_changes_and_deletes(tmp_path):
    registry = Registry(Database.in_state_dir(tmp_path))
    for number in range(3):
        registry.put_device(f"d{number}", {}, None)
        registry.update_twin(f"d{number}", {"tags": {"role": "gateway"}}, None)
    registry.update_twin("d1", {"tags": {"role": "sensor"}}, None)
    registry.update_reported("d2", {"temperature": 20})  # not a tag change: the leaves stay
    registry.delete_device("d0", None)
    assert page_ids(registry, "tags.role = 'gateway'") == ["d2"]
    assert page_ids(registry, "tags.role = 'sensor'") == ["d1"]
    assert registry.db.scalar(f"SELECT COUNT(*) FROM {TAG_LEAVES}") == 2
    registry.db.close()


def test_counts_group_rows_counted_by_the_caller_into_the_same_groups(registry):
    query = parse("SELECT tags.building, COUNT() AS n FROM devices GROUP BY tags.building")
    plan = query.count_plan(registry.query_columns("hub_devices"))
    first = registry.db.scalar("SELECT rowid FROM hub_devices WHERE device_id = 'dev-0'")
    counted = registry.count_groups("hub_devices", plan, excluded=[first])
    rows = query.aggregate_counts(counted, [(first, registry.get_twin("dev-0"))])
    assert rows == engine_rows(registry, query.text)


def test_group_by_tags_reads_only_the_index(registry):
    query = parse("SELECT tags.building, COUNT() AS n FROM devices GROUP BY tags.building")
    plan = query.count_plan(registry.query_columns("hub_devices"))
    assert plan.index == "hub_devices_q_tags"


def test_an_older_database_gets_the_generated_columns(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE hub_devices (rowid INTEGER PRIMARY KEY, device_id TEXT NOT NULL UNIQUE, enabled INTEGER "
                "NOT NULL DEFAULT 1, connected INTEGER NOT NULL DEFAULT 0, behaviour TEXT, identity TEXT NOT NULL, "
                "twin TEXT NOT NULL)")
    old.execute("""INSERT INTO hub_devices (device_id, identity, twin) VALUES ('x', '{}', '{"tags": {"a": 1}}')""")
    old.commit()
    old.close()
    db = Database(path)
    Registry(db)
    Registry(db)  # a second registry on the same database finds them there
    columns = {row[1] for row in db.all("PRAGMA table_xinfo(hub_devices)")}
    assert {column for column, _ in GENERATED} <= columns
    assert db.scalar("SELECT json_extract(q_tags, '$.a') FROM hub_devices") == 1
    assert [tuple(row) for row in db.all(f"SELECT path, type, value FROM {TAG_LEAVES}")] == [("$.tags.a", "integer", 1)]
    db.close()
