"""Scheduled jobs (jobs v2): a twin update or a direct method run over the devices a query condition selects.

A job is an asyncio task in the sandbox; its document (``JobResponse``) and one document per device (the
``devices.jobs`` query collection) are stored in SQLite, so a restart still shows them.

Life of a job (swagger spellings): ``queued`` when created to start now, ``scheduled`` when ``startTime`` is in the
future; ``running`` from its start time; then ``completed`` (every device handled, even if some failed),
``failed`` (``maxExecutionTimeInSeconds`` elapsed first, or the sandbox stopped while it ran) or ``cancelled``.
Each device job goes ``pending`` → ``running`` → ``completed`` / ``failed`` / ``cancelled``.

Documented choices (UNCONFIRMED in the reference):

* The devices are those matching ``queryCondition`` when the job starts (a snapshot); up to ``DEVICE_CONCURRENCY``
  devices are handled at once and device operations are not throttled.
* A twin job applies ``updateTwin`` tags and desired properties as a PATCH; ``updateTwin.etag`` is required and only
  ``*`` is accepted. A method job's device job is ``completed`` whenever the device answered (its status and payload
  are in ``outcome.deviceMethodResponse``) and ``failed`` with ``error`` when the hub could not reach it.
* Queued, scheduled and running jobs count against the tier's active-job limit.
* ``maxExecutionTimeInSeconds`` defaults to 3600.
* After a restart, a job that was running is marked ``failed`` (its devices may be half done); queued and scheduled
  jobs are started again at their start time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

from kit.sandbox.hub.devices.methods import MethodInvoker, method_call_from_body
from kit.sandbox.hub.devices.registry import Registry, dumps
from kit.sandbox.hub.devices.twins import iso
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.jobs.store import JobTable, JobTasks, parse_time, utcnow
from kit.sandbox.hub.query import QueryError, parse_condition
from kit.sandbox.hub.transport.errors import HubError, argument_invalid

log = logging.getLogger("kit.sandbox.hub.jobs.scheduler")

TWIN_JOB = "scheduleUpdateTwin"
METHOD_JOB = "scheduleDeviceMethod"
JOB_TYPES = (TWIN_JOB, METHOD_JOB)
ACTIVE = ("queued", "scheduled", "running")
DEFAULT_MAX_EXECUTION_S = 3600
DEVICE_CONCURRENCY = 10
DEVICE_JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_device_jobs (
    rowid     INTEGER PRIMARY KEY,
    job_id    TEXT NOT NULL,
    device_id TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (job_id, device_id)
);
"""
STOPPED_REASON = "The sandbox stopped while this job was running; run it again."


def _statistics(count: int = 0) -> dict[str, int]:
    return {"deviceCount": count, "failedCount": 0, "succeededCount": 0, "runningCount": 0, "pendingCount": count}


def job_document(job_id: str, body: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Validate a JobRequest and build the JobResponse stored for it."""
    if body.get("jobId") not in (None, job_id):
        raise argument_invalid(f"jobId '{body['jobId']}' in the body differs from '{job_id}' in the URL.")
    job_type = body.get("type")
    if job_type not in JOB_TYPES:
        raise argument_invalid(f"type '{job_type}' is not a scheduled job type; use {' or '.join(JOB_TYPES)}.")
    condition = body.get("queryCondition")
    if not isinstance(condition, str) or not condition.strip():
        raise argument_invalid("queryCondition is required, e.g. \"deviceId IN ['a', 'b']\" or \"*\" for all devices.")
    try:
        parse_condition(condition)
    except QueryError as error:
        raise argument_invalid(f"queryCondition: {error}") from None
    start = parse_time(body["startTime"], "startTime") if body.get("startTime") else now
    max_seconds = body.get("maxExecutionTimeInSeconds", DEFAULT_MAX_EXECUTION_S)
    if not isinstance(max_seconds, int) or isinstance(max_seconds, bool) or max_seconds < 1:
        raise argument_invalid("maxExecutionTimeInSeconds must be a positive whole number of seconds.")
    doc: dict[str, Any] = {
        "jobId": job_id, "queryCondition": condition, "createdTime": iso(now), "startTime": iso(start),
        "endTime": None, "maxExecutionTimeInSeconds": max_seconds, "type": job_type,
        "status": "scheduled" if start > now else "queued", "failureReason": None, "statusMessage": None,
        "deviceJobStatistics": _statistics(),
    }
    if job_type == TWIN_JOB:
        doc["updateTwin"] = _twin_update(body.get("updateTwin"))
    else:
        method = body.get("cloudToDeviceMethod")
        if not isinstance(method, dict):
            raise argument_invalid("cloudToDeviceMethod is required for a scheduleDeviceMethod job.")
        call = method_call_from_body(method)
        doc["cloudToDeviceMethod"] = {"methodName": call.name, "payload": call.payload,
                                      "responseTimeoutInSeconds": call.response_timeout,
                                      "connectTimeoutInSeconds": call.connect_timeout}
    return doc


def _twin_update(update: Any) -> dict[str, Any]:
    if not isinstance(update, dict):
        raise argument_invalid("updateTwin is required for a scheduleUpdateTwin job (tags and/or desired properties).")
    if update.get("etag") != "*":
        raise argument_invalid("updateTwin.etag must be \"*\" (a job updates every matching twin, whatever its etag).")
    desired = (update.get("properties") or {}).get("desired")
    if update.get("tags") is None and desired is None:
        raise argument_invalid("updateTwin has neither tags nor properties.desired; give what the job should set.")
    patch: dict[str, Any] = {"etag": "*"}
    if update.get("tags") is not None:
        patch["tags"] = update["tags"]
    if desired is not None:
        patch["properties"] = {"desired": desired}
    return patch


class JobScheduler:
    """Creates, runs, cancels and lists scheduled jobs; publishes per-device outcomes as ``devices.jobs``."""

    def __init__(self, registry: Registry, invoker: MethodInvoker) -> None:
        self.registry = registry
        self.db = registry.db
        self.invoker = invoker
        self.table = JobTable(self.db, "hub_jobs")
        self.db.ensure_schema(DEVICE_JOBS_SCHEMA)
        self.tasks = JobTasks()

    # ---- API operations -----------------------------------------------------------------------------------------

    def create(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = job_document(job_id, body, utcnow())
        self.table.insert(doc, ACTIVE, job_store.max_active_jobs(self.db), "jobs")
        self.tasks.start(job_id, self._run(job_id))
        return doc

    def get(self, job_id: str) -> dict[str, Any]:
        return self.table.get(job_id)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: it and its unfinished device jobs end ``cancelled``; those devices are not touched."""
        doc = self.table.get(job_id)
        if doc["status"] not in ACTIVE:
            return doc
        self.tasks.cancel(job_id)
        now = iso(utcnow())
        with self.db.transaction():
            doc = self.table.get(job_id)
            for device_id, device_job in self._device_jobs(job_id):
                if device_job["status"] in ("pending", "running"):
                    self._finish_device(doc, device_id, device_job, "cancelled", now)
            doc.update(status="cancelled", endTime=now)
            self.table.save(doc)
        return doc

    def query(self, job_type: str | None, status: str | None) -> dict[str, Any]:
        return {"type": "jobResponse", "items": self.table.list(job_type, status), "continuationToken": None}

    def device_job_rows(self, after_rowid: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """The ``devices.jobs`` query collection: device-job documents in rowid order."""
        last = after_rowid
        while True:
            rows = self.db.all("SELECT rowid, doc FROM hub_device_jobs WHERE rowid > ? ORDER BY rowid LIMIT 256",
                               (last,))
            for row in rows:
                yield row[0], json.loads(row[1])
            if len(rows) < 256:
                return
            last = rows[-1][0]

    async def resume(self) -> None:
        """At start: fail jobs a previous run left running, start again the queued and scheduled ones."""
        for doc in self.table.list(status="running"):
            doc.update(status="failed", failureReason=STOPPED_REASON, endTime=iso(utcnow()))
            self.table.save(doc)
        for doc in self.table.list(statuses=("queued", "scheduled")):
            self.tasks.start(doc["jobId"], self._run(doc["jobId"]))

    # ---- running ------------------------------------------------------------------------------------------------

    def _device_jobs(self, job_id: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.all("SELECT device_id, doc FROM hub_device_jobs WHERE job_id = ? ORDER BY rowid", (job_id,))
        return [(row[0], json.loads(row[1])) for row in rows]

    def _save_device_job(self, device_job: dict[str, Any]) -> None:
        self.db.execute("UPDATE hub_device_jobs SET doc = ? WHERE job_id = ? AND device_id = ?",
                        (dumps(device_job), device_job["jobId"], device_job["deviceId"]))

    def _finish_device(self, doc: dict[str, Any], device_id: str, device_job: dict[str, Any], status: str,
                       now: str) -> None:
        stats = doc["deviceJobStatistics"]
        stats["runningCount" if device_job["status"] == "running" else "pendingCount"] -= 1
        if status == "completed":
            stats["succeededCount"] += 1
        elif status == "failed":
            stats["failedCount"] += 1
        device_job.update(status=status, endTimeUtc=now, lastUpdatedDateTimeUtc=now)
        self._save_device_job(device_job)

    def _matching_devices(self, condition_text: str) -> list[str]:
        condition = parse_condition(condition_text)
        fragment = None if condition.selects_all else condition.sql_prefilter("twin")
        where, params = fragment if fragment else (None, ())
        twins = (json.loads(text) for _, text in self.registry.twin_rows("hub_devices", 0, where, tuple(params)))
        return [twin["deviceId"] for twin in twins if condition.matches(twin)]

    async def _run(self, job_id: str) -> None:
        doc = self.table.get(job_id)
        delay = (parse_time(doc["startTime"], "startTime") - utcnow()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await self._execute(job_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a job that breaks is failed, the sandbox keeps going
            log.exception("job %s failed", job_id)
            doc = self.table.get(job_id)
            doc.update(status="failed", failureReason=f"The sandbox could not run the job: {error}",
                       endTime=iso(utcnow()))
            self.table.save(doc)

    async def _execute(self, job_id: str) -> None:
        started = utcnow()
        device_ids = self._matching_devices(self.table.get(job_id)["queryCondition"])
        now = iso(started)
        with self.db.transaction():
            doc = self.table.get(job_id)
            if doc["status"] not in ("queued", "scheduled"):
                return
            doc.update(status="running", deviceJobStatistics=_statistics(len(device_ids)))
            self.table.save(doc)
            self.db.executemany(
                "INSERT OR IGNORE INTO hub_device_jobs (job_id, device_id, doc) VALUES (?, ?, ?)",
                [(job_id, device_id, dumps({
                    "deviceId": device_id, "jobId": job_id, "jobType": doc["type"], "status": "pending",
                    "startTimeUtc": None, "endTimeUtc": None, "createdDateTimeUtc": now,
                    "lastUpdatedDateTimeUtc": now, "outcome": {"deviceMethodResponse": None},
                })) for device_id in device_ids])
        deadline = started + dt.timedelta(seconds=doc["maxExecutionTimeInSeconds"])
        gate = asyncio.Semaphore(DEVICE_CONCURRENCY)

        async def one(device_id: str) -> None:
            async with gate:
                remaining = (deadline - utcnow()).total_seconds()
                if remaining > 0:
                    await asyncio.wait_for(self._run_device(doc, device_id), remaining)

        try:
            await asyncio.gather(*(one(device_id) for device_id in device_ids))
        except TimeoutError:
            pass
        with self.db.transaction():
            doc = self.table.get(job_id)
            if doc["status"] != "running":
                return
            end = iso(utcnow())
            unfinished = [(d, j) for d, j in self._device_jobs(job_id) if j["status"] in ("pending", "running")]
            for device_id, device_job in unfinished:
                self._finish_device(doc, device_id, device_job, "failed", end)
            if unfinished:
                doc.update(status="failed", failureReason=(
                    f"maxExecutionTimeInSeconds ({doc['maxExecutionTimeInSeconds']}) elapsed before "
                    f"{len(unfinished)} device(s) were handled."))
            else:
                doc["status"] = "completed"
            doc["endTime"] = end
            self.table.save(doc)

    async def _run_device(self, job: dict[str, Any], device_id: str) -> None:
        job_id = job["jobId"]
        with self.db.transaction():
            doc = self.table.get(job_id)
            if doc["status"] != "running":
                return
            device_job = dict(self._device_jobs_one(job_id, device_id))
            now = iso(utcnow())
            device_job.update(status="running", startTimeUtc=now, lastUpdatedDateTimeUtc=now)
            doc["deviceJobStatistics"]["pendingCount"] -= 1
            doc["deviceJobStatistics"]["runningCount"] += 1
            self._save_device_job(device_job)
            self.table.save(doc)
        status, error, response = "completed", None, None
        try:
            if job["type"] == TWIN_JOB:
                body = {k: v for k, v in job["updateTwin"].items() if k != "etag"}
                self.registry.update_twin(device_id, body, "*")
            else:
                call = method_call_from_body(job["cloudToDeviceMethod"])
                response = await self.invoker.invoke(device_id, call)
        except HubError as failure:
            status, error = "failed", {"code": failure.code, "description": failure.message}
        with self.db.transaction():
            doc = self.table.get(job_id)
            device_job = dict(self._device_jobs_one(job_id, device_id))
            if doc["status"] != "running" or device_job["status"] != "running":
                return
            device_job["outcome"] = {"deviceMethodResponse": response}
            if error:
                device_job["error"] = error
            self._finish_device(doc, device_id, device_job, status, iso(utcnow()))
            self.table.save(doc)
        await asyncio.sleep(0)  # let requests in between devices

    def _device_jobs_one(self, job_id: str, device_id: str) -> dict[str, Any]:
        text = self.db.scalar("SELECT doc FROM hub_device_jobs WHERE job_id = ? AND device_id = ?",
                              (job_id, device_id))
        return json.loads(text)
