"""Small persistent hub settings (a key/value table): local-auth switch, counters, seeding marks."""

from __future__ import annotations

from kit.sandbox.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def get(db: Database, key: str, default: str | None = None) -> str | None:
    """A stored setting, or ``default`` when it was never set."""
    db.ensure_schema(SCHEMA)
    value = db.scalar("SELECT value FROM hub_settings WHERE key = ?", (key,))
    return default if value is None else value


def put(db: Database, key: str, value: str) -> None:
    """Store a setting, replacing any earlier value."""
    db.ensure_schema(SCHEMA)
    with db.transaction() as conn:
        conn.execute("INSERT INTO hub_settings (key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def next_counter(db: Database, key: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive values of a counter and return the first one (inside the caller's transaction)."""
    with db.transaction() as conn:
        row = conn.execute("SELECT value FROM hub_settings WHERE key = ?", (key,)).fetchone()
        first = int(row[0]) + 1 if row else 1
        conn.execute("INSERT INTO hub_settings (key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(first + count - 1)))
    return first
