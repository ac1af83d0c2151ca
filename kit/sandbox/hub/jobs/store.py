"""Where the hub's jobs live: one SQLite table per job family (scheduled jobs, import/export jobs), each row the job
document as served, plus the hub tier that caps how many jobs may be active at once.

Tier limits (quotas-throttling docs): at most 1 active scheduled job on Free and S1, 5 on S2, 10 on S3; one
import/export job at a time on every tier. Going over answers 429 ThrottlingMaxActiveJobCountExceeded (429004,
troubleshoot-error-codes). The tier is a hub setting changed with ``python -m kit.sandbox hub-tier S1|S2|S3``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Coroutine
from typing import Any

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.hub.devices.registry import dumps
from kit.sandbox.hub.transport.errors import HubError, argument_invalid

TIER_KEY = "hub_tier"
DEFAULT_TIER = "S1"
MAX_ACTIVE_JOBS = {"F1": 1, "S1": 1, "S2": 5, "S3": 10}


def tier(db: Database) -> str:
    """The hub's pricing tier (default S1), which caps how many jobs may run at once."""
    return settings_store.get(db, TIER_KEY, DEFAULT_TIER) or DEFAULT_TIER


def set_tier(db: Database, name: str) -> None:
    """Change the tier (admin command) to try the higher job limits of S2/S3."""
    if name not in MAX_ACTIVE_JOBS:
        raise ValueError(f"tier: '{name}' is not a hub tier; use one of {', '.join(MAX_ACTIVE_JOBS)}.")
    settings_store.put(db, TIER_KEY, name)


def max_active_jobs(db: Database) -> int:
    """How many scheduled jobs may be active at once on the current tier."""
    return MAX_ACTIVE_JOBS[tier(db)]


def too_many_active(limit: int, what: str) -> HubError:
    """The hub's 429 when the tier's limit of active jobs is reached."""
    return HubError(429, "ThrottlingMaxActiveJobCountExceeded",
                    f"The maximum number of active {what} ({limit}) has been reached. Wait for a job to finish, "
                    "or cancel one, and try again.")


def parse_time(value: Any, field: str) -> dt.datetime:
    """An ISO-8601 time as an aware UTC datetime; a time without a zone is UTC (the SDK sample sends one)."""
    if not isinstance(value, str):
        raise argument_invalid(f"{field} must be an ISO-8601 time string, e.g. 2030-01-01T00:00:00Z.")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # Python's parser takes at most 6 fraction digits; the hub writes 7
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:min(digits, 6)] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argument_invalid(f"{field} '{value}' is not an ISO-8601 time, e.g. 2030-01-01T00:00:00Z.") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JobTable:
    """Job documents by id in one table; ``doc["status"]`` and ``doc["type"]`` are mirrored in columns for filters."""

    def __init__(self, db: Database, table: str) -> None:
        self.db = db
        self.table = table
        db.ensure_schema(f"""
            CREATE TABLE IF NOT EXISTS {table} (
                rowid  INTEGER PRIMARY KEY,
                job_id TEXT NOT NULL UNIQUE,
                type   TEXT NOT NULL,
                status TEXT NOT NULL,
                doc    TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS {table}_status ON {table} (status);
        """)

    def insert(self, doc: dict[str, Any], active: tuple[str, ...], limit: int, what: str) -> None:
        """Store a new job unless its id exists (409) or ``limit`` jobs are already active (429)."""
        with self.db.transaction() as conn:
            if conn.execute(f"SELECT 1 FROM {self.table} WHERE job_id = ?", (doc["jobId"],)).fetchone():
                raise HubError(409, "JobAlreadyExists", f"A job with id '{doc['jobId']}' already exists.")
            marks = ",".join("?" * len(active))
            count = conn.execute(f"SELECT COUNT(*) FROM {self.table} WHERE status IN ({marks})", active).fetchone()[0]
            if count >= limit:
                raise too_many_active(limit, what)
            conn.execute(f"INSERT INTO {self.table} (job_id, type, status, doc) VALUES (?, ?, ?, ?)",
                         (doc["jobId"], doc["type"], doc["status"], dumps(doc)))

    def get(self, job_id: str) -> dict[str, Any]:
        """A job document by id, or 404 JobNotFound."""
        text = self.db.scalar(f"SELECT doc FROM {self.table} WHERE job_id = ?", (job_id,))
        if text is None:
            raise HubError(404, "JobNotFound", f"The job '{job_id}' does not exist on this hub.")
        return json.loads(text)

    def save(self, doc: dict[str, Any]) -> None:
        self.db.execute(f"UPDATE {self.table} SET status = ?, doc = ? WHERE job_id = ?",
                        (doc["status"], dumps(doc), doc["jobId"]))

    def list(self, job_type: str | None = None, status: str | None = None,
             statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Job documents in creation order, optionally of one type and status (or one of ``statuses``)."""
        clauses, params = [], []
        if job_type:
            clauses.append("type = ?")
            params.append(job_type)
        if status:
            clauses.append("status = ?")
            params.append(status)
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(statuses)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.all(f"SELECT doc FROM {self.table}{where} ORDER BY rowid", params)
        return [json.loads(row["doc"]) for row in rows]


class JobTasks:
    """The asyncio tasks running jobs, by job id, so a cancel can stop one and nothing is garbage-collected."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}

    def start(self, job_id: str, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` as the job's task and forget it when it ends."""
        task = asyncio.get_running_loop().create_task(coroutine, name=f"job {job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._tasks

    def cancel(self, job_id: str) -> None:
        """Cancel the job's task if it is still running (a finished job has none)."""
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
