"""SQLite for the sandbox's state: one file in the state folder, shared by both sides and by the admin commands.

WAL mode lets the admin command line write while the server reads. ``synchronous=NORMAL`` in WAL mode survives a
killed process (only a power cut could lose the last commits), so every write the sandbox acknowledges is kept.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kit.sandbox.paths import DATABASE_FILE


def _make_private(path: Path) -> None:
    """The database holds the hub's policy and device keys: create it 0600 (SQLite gives its ``-wal`` and ``-shm``
    files the database's mode) and tighten a file left readable by an older version."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            os.chmod(file, 0o600)


class Database:
    """One connection guarded by a lock; the sandbox's requests are short, so serialising them is simplest."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _make_private(path)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        self._schemas: set[str] = set()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Database:
        """The sandbox database of a state folder."""
        return cls(state_dir / DATABASE_FILE)

    def ensure_schema(self, ddl: str) -> None:
        """Run idempotent ``CREATE ... IF NOT EXISTS`` statements, once per connection.

        Callers may ask on every use (a command run without the server must find its tables); after the first
        time it costs nothing. ``executescript`` commits first, so it is refused inside a transaction rather than
        silently committing half of one.
        """
        with self._lock:
            if ddl in self._schemas:
                return
            if self._depth:
                raise RuntimeError("ensure_schema inside a transaction would commit it; ensure the schema first")
            self._conn.executescript(ddl)
            self._schemas.add(ddl)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. A nested use is a savepoint inside the outer one: when it fails, only its own
        writes are undone and the outer transaction goes on (one bulk request = one commit, per-item errors)."""
        with self._lock:
            if self._depth:
                savepoint = f"nested_{self._depth}"
                self._conn.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute(f"ROLLBACK TO {savepoint}")
                    raise
                finally:
                    self._depth -= 1
                    self._conn.execute(f"RELEASE {savepoint}")
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def execute(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        with self.transaction() as conn:
            conn.executemany(sql, rows)

    def one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def generation(self) -> tuple[int, int]:
        """A value that changes whenever the database was written: by another connection or process (SQLite's
        ``PRAGMA data_version``) or through this one (``total_changes``). Caches of what the database says compare
        it per request, so a change made anywhere applies at the next request."""
        with self._lock:
            return self._conn.execute("PRAGMA data_version").fetchone()[0], self._conn.total_changes

    def close(self) -> None:
        with self._lock:
            self._conn.close()
