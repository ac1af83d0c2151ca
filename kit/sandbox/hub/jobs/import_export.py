"""Import/export jobs (``POST /jobs/create``): the registry written to, or read from, a blob container.

Emulated: the blob container is a local folder. ``outputBlobContainerUri`` / ``inputBlobContainerUri`` may be a
``file://`` URI, an absolute path, or a container name (or a blob URL ``https://<account>.blob.core.windows.net/<name>
?<sas>``, of which only the container name is used), mapped to ``<state folder>/blobs/<name>/``. Storage
authentication (``keyBased`` / ``identityBased``) is recorded, not checked.

* Export writes ``outputBlobName`` (default ``devices.txt``): one ExportImportDevice JSON per line, each device
  followed by its modules; with ``excludeKeysInExport`` the symmetric keys are null. Twin sections are exported
  without ``$metadata``/``$version``.
* Import reads ``inputBlobName`` (default ``devices.txt``) and applies each line's ``importMode`` (default
  ``create``) as the bulk API does, but without its 100-device limit; failed lines are written to
  ``importErrors.log`` in the output container and the job still completes (as the real hub does).
* Status ``enqueued`` → ``running`` → ``completed`` / ``failed`` / ``cancelled``; one import/export job may be active
  at a time (all tiers). ``includeConfigurations`` is recorded but configurations are not exported (not emulated).
* ``DELETE /jobs/{id}`` cancels an active job and answers the job; a finished job is left as it is.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kit.sandbox.hub.devices.bulk import bulk_update
from kit.sandbox.hub.devices.registry import MAX_BULK, Registry, dumps
from kit.sandbox.hub.devices.twins import iso, strip_meta
from kit.sandbox.hub.jobs.store import JobTable, JobTasks, utcnow
from kit.sandbox.hub.transport.errors import HubError, argument_invalid

ACTIVE = ("enqueued", "running")
DEFAULT_BLOB = "devices.txt"
ERRORS_BLOB = "importErrors.log"
CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
YIELD_EVERY = 100


def container_folder(value: Any, field: str, state_dir: Path) -> Path:
    """The local folder standing in for the blob container named by ``value``."""
    if not isinstance(value, str) or not value.strip():
        raise argument_invalid(f"{field} is required: a file:// URI, a folder path or a container name.")
    text = value.strip()
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("http", "https"):
        text = unquote(parsed.path).strip("/").split("/")[0]
    elif os.path.isabs(text):
        return Path(text)
    if not CONTAINER_NAME.match(text):
        raise argument_invalid(
            f"{field} '{value}' is not a container the sandbox can map: give a file:// URI, an absolute folder path, "
            "or a container name of 3-63 lowercase letters, digits and hyphens.")
    return state_dir / "blobs" / text


def _blob_name(value: Any, field: str, default: str) -> str:
    name = value or default
    if not isinstance(name, str) or "/" in name or "\\" in name or name in (".", ".."):
        raise argument_invalid(f"{field} '{name}' must be a plain blob name such as {default}.")
    return name


def export_lines(registry: Registry, exclude_keys: bool) -> Iterator[dict[str, Any]]:
    """ExportImportDevice lines of every device (and its modules), in registry order."""
    def entry(identity: dict[str, Any], twin: dict[str, Any]) -> dict[str, Any]:
        auth = json.loads(json.dumps(identity.get("authentication") or {}))
        if exclude_keys and auth.get("symmetricKey"):
            auth["symmetricKey"] = {"primaryKey": None, "secondaryKey": None}
        line = {"id": identity["deviceId"]}
        if identity.get("moduleId"):
            line["moduleId"] = identity["moduleId"]
        line.update({"eTag": identity["etag"], "authentication": auth, "twinETag": twin["etag"]})
        if not identity.get("moduleId"):
            line.update({"status": identity["status"], "statusReason": identity.get("statusReason"),
                         "tags": twin.get("tags", {}), "capabilities": identity.get("capabilities"),
                         "deviceScope": identity.get("deviceScope"), "parentScopes": identity.get("parentScopes")})
        properties = twin["properties"]
        line["properties"] = {"desired": strip_meta(properties["desired"]),
                              "reported": strip_meta(properties["reported"])}
        return line

    for _, text in registry.twin_rows("hub_devices", 0):
        device_id = json.loads(text)["deviceId"]
        try:
            yield entry(registry.get_device(device_id), json.loads(text))
            for module in registry.list_modules(device_id):
                yield entry(module, registry.get_twin(device_id, module["moduleId"]))
        except HubError:  # deleted while exporting
            continue


class ImportExportJobs:
    """Creates and runs import/export jobs as asyncio tasks; job documents persist in ``hub_bulk_jobs``."""

    def __init__(self, registry: Registry, state_dir: Path) -> None:
        self.registry = registry
        self.state_dir = state_dir
        self.table = JobTable(registry.db, "hub_bulk_jobs")
        self.tasks = JobTasks()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a job request, store it as ``enqueued`` and start it (one active job per hub)."""
        kind = body.get("type")
        if kind not in ("export", "import"):
            raise argument_invalid(f"type '{kind}' is not an import/export job type; use 'export' or 'import'.")
        output = container_folder(body.get("outputBlobContainerUri"), "outputBlobContainerUri", self.state_dir)
        if kind == "import":
            container_folder(body.get("inputBlobContainerUri"), "inputBlobContainerUri", self.state_dir)
        auth_type = body.get("storageAuthenticationType") or "keyBased"
        if auth_type not in ("keyBased", "identityBased"):
            raise argument_invalid("storageAuthenticationType must be 'keyBased' or 'identityBased'.")
        doc = {
            "jobId": str(uuid.uuid4()), "startTimeUtc": iso(utcnow()), "endTimeUtc": None, "type": kind,
            "status": "enqueued", "progress": 0,
            "inputBlobContainerUri": body.get("inputBlobContainerUri"),
            "inputBlobName": _blob_name(body.get("inputBlobName"), "inputBlobName", DEFAULT_BLOB)
            if kind == "import" else None,
            "outputBlobContainerUri": body.get("outputBlobContainerUri"),
            "outputBlobName": _blob_name(body.get("outputBlobName"), "outputBlobName", DEFAULT_BLOB),
            "excludeKeysInExport": bool(body.get("excludeKeysInExport", False)),
            "storageAuthenticationType": auth_type, "identity": body.get("identity"), "failureReason": None,
            "includeConfigurations": bool(body.get("includeConfigurations", False)),
            "configurationsBlobName": body.get("configurationsBlobName") or "configurations.txt",
        }
        self.table.insert(doc, ACTIVE, 1, "import/export jobs")
        self.tasks.start(doc["jobId"], self._run(doc["jobId"], output))
        return doc

    def get(self, job_id: str) -> dict[str, Any]:
        return self.table.get(job_id)

    def list(self) -> list[dict[str, Any]]:
        return self.table.list()

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job that has not finished; a finished job is returned unchanged."""
        doc = self.table.get(job_id)
        if doc["status"] in ACTIVE:
            self.tasks.cancel(job_id)
            doc.update(status="cancelled", endTimeUtc=iso(utcnow()))
            self.table.save(doc)
        return doc

    def fail_interrupted(self) -> None:
        """At start: a job a previous run left active is failed (the folder may hold a partial file)."""
        for doc in self.table.list(statuses=ACTIVE):
            doc.update(status="failed", endTimeUtc=iso(utcnow()),
                       failureReason="The sandbox stopped while this job was running; run it again.")
            self.table.save(doc)

    def _update(self, job_id: str, **changes: Any) -> bool:
        doc = self.table.get(job_id)
        if doc["status"] not in ACTIVE:
            return False
        doc.update(changes)
        self.table.save(doc)
        return True

    async def _run(self, job_id: str, output: Path) -> None:
        await asyncio.sleep(0)
        if not self._update(job_id, status="running"):
            return
        doc = self.table.get(job_id)
        try:
            if doc["type"] == "export":
                await self._export(doc, output)
            else:
                await self._import(doc, output)
        except (OSError, HubError) as error:
            self._update(job_id, status="failed", endTimeUtc=iso(utcnow()), failureReason=str(error))
            return
        self._update(job_id, status="completed", progress=100, endTimeUtc=iso(utcnow()))

    async def _export(self, doc: dict[str, Any], output: Path) -> None:
        output.mkdir(parents=True, exist_ok=True)
        target = output / doc["outputBlobName"]
        partial = target.with_name(target.name + ".partial")
        with partial.open("w", encoding="utf-8") as stream:
            for count, line in enumerate(export_lines(self.registry, doc["excludeKeysInExport"]), 1):
                stream.write(dumps(line) + "\n")
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        if not doc["excludeKeysInExport"]:
            os.chmod(partial, 0o600)  # it holds device keys
        partial.replace(target)

    async def _import(self, doc: dict[str, Any], output: Path) -> None:
        source = container_folder(doc["inputBlobContainerUri"], "inputBlobContainerUri", self.state_dir)
        path = source / doc["inputBlobName"]
        if not path.is_file():
            raise HubError(400, "ArgumentInvalid", f"The input blob {path} does not exist.")
        errors: list[dict[str, Any]] = []
        batch: list[Any] = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                batch.append(json.loads(text))
            except json.JSONDecodeError as error:
                errors.append({"line": number, "errorCode": "IotHubFormatError", "errorStatus": str(error)})
            if len(batch) == MAX_BULK or number == len(lines):
                errors.extend(self._apply(batch))
                batch = []
                self._update(doc["jobId"], progress=int(100 * number / len(lines)))
                await asyncio.sleep(0)
        if batch:
            errors.extend(self._apply(batch))
        output.mkdir(parents=True, exist_ok=True)
        (output / ERRORS_BLOB).write_text("".join(dumps(e) + "\n" for e in errors), encoding="utf-8")

    def _apply(self, batch: list[Any]) -> list[dict[str, Any]]:
        if not batch:
            return []
        try:
            return bulk_update(self.registry, batch)[1]["errors"]
        except HubError as error:  # the whole batch was refused (e.g. an id listed twice)
            return [{"errorCode": error.code, "errorStatus": error.message}]
