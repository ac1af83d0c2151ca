"""kit.sandbox.db: transactions commit once; a failed nested transaction undoes only its own writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.sandbox.db import Database


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "state.sqlite3")
    database.ensure_schema("CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY)")
    yield database
    database.close()


def _names(db: Database) -> list[str]:
    return [row["name"] for row in db.all("SELECT name FROM items ORDER BY name")]


def test_failed_nested_transaction_keeps_the_outer_ones_writes(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO items VALUES ('first')")
        with pytest.raises(ValueError):
            with db.transaction() as inner:
                inner.execute("INSERT INTO items VALUES ('half-done')")
                raise ValueError("this item fails")
        with db.transaction() as inner:
            inner.execute("INSERT INTO items VALUES ('second')")
    assert _names(db) == ["first", "second"]


def test_failed_outer_transaction_rolls_everything_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO items VALUES ('lost')")
            with db.transaction() as inner:
                inner.execute("INSERT INTO items VALUES ('lost too')")
            raise RuntimeError("whole request fails")
    assert _names(db) == []


def test_writes_are_visible_to_a_second_connection(db: Database, tmp_path: Path) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO items VALUES ('shared')")
    other = Database(tmp_path / "state.sqlite3")
    try:
        assert other.scalar("SELECT COUNT(*) FROM items") == 1
    finally:
        other.close()


def test_schema_is_applied_once_and_never_inside_a_transaction(db: Database) -> None:
    ddl = "CREATE TABLE IF NOT EXISTS other (name TEXT)"
    db.ensure_schema(ddl)
    db.ensure_schema(ddl)  # a no-op the second time
    with db.transaction() as conn:
        conn.execute("INSERT INTO items VALUES ('kept')")
        db.ensure_schema(ddl)  # already applied: allowed, and commits nothing early
        with pytest.raises(RuntimeError, match="inside a transaction"):
            db.ensure_schema("CREATE TABLE IF NOT EXISTS third (name TEXT)")
    assert _names(db) == ["kept"]
