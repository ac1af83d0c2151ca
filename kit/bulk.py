"""Changing many devices at once, and waiting for it: bulk creates and deletes, and jobs polled until they end.

:func:`create_devices` and :func:`delete_devices` send ``bulk_create_or_update_devices`` 100 devices a request (the
hub's limit); a request the hub throttles with 429 is sent again after the wait the hub asks for, through
:func:`kit.retry.call`. :func:`wait_for_job` polls ``get_scheduled_job`` until the job ends. Each shows a progress bar
(:func:`kit.progress.bar`: a widget in a notebook front end, plain text elsewhere).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import AuthenticationMechanism, ExportImportDevice, SymmetricKey

from kit import progress, retry

__all__ = ["BULK_LIMIT", "BulkOutcome", "batches", "create_devices", "delete_devices", "new_device", "wait_for_job"]

BULK_LIMIT = 100  # IoT Hub takes at most 100 devices per bulk request (413 TooManyDevices beyond)
JOB_DONE = frozenset({"completed", "failed", "cancelled"})


@dataclass
class BulkOutcome:
    """What a bulk operation did: the ids it applied to (``created``) and, per failed id, the hub's error code
    and message. ``verb`` names what was done to them in the printed summary ("created" or "deleted")."""

    created: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    verb: str = "created"

    def __str__(self) -> str:
        text = f"{len(self.created):,} {self.verb}, {len(self.failed):,} failed"
        if self.failed:
            first = next(iter(self.failed.items()))
            text += f" (first: {first[0]}: {first[1]})"
        return text


def new_device(device_id: str, tags: dict[str, Any] | None = None) -> ExportImportDevice:
    """One bulk entry: create ``device_id`` with keys the hub generates (SAS authentication), enabled."""
    return ExportImportDevice(id=device_id, import_mode="create", status="enabled", tags=tags,
                              authentication=AuthenticationMechanism(type="sas", symmetric_key=SymmetricKey()))


def batches(items: list[Any], size: int = BULK_LIMIT) -> Iterator[list[Any]]:
    """Slices of at most ``size`` items: the hub takes at most 100 devices per bulk call."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _bulk(registry: IoTHubRegistryManager, entries: list[ExportImportDevice], description: str, verb: str,
          batch_size: int, chosen: progress.Mode | None, file: IO[str] | None) -> BulkOutcome:
    if not 1 <= batch_size <= BULK_LIMIT:
        raise ValueError(f"batch_size: {batch_size} is out of range; IoT Hub takes 1 to {BULK_LIMIT} per request.")
    outcome = BulkOutcome(verb=verb)
    with progress.bar(len(entries), description, "devices", chosen, file) as progress_bar:
        def show_wait(seconds: float, error: BaseException) -> None:
            progress_bar.set_postfix_str(f"throttled (429), retrying in {seconds:g} s", refresh=True)

        for batch in batches(entries, batch_size):
            result = retry.call(lambda batch=batch: registry.bulk_create_or_update_devices(batch), on_wait=show_wait)
            progress_bar.set_postfix_str("", refresh=False)
            errors = {error.device_id: f"{error.error_code}: {error.error_status}" for error in result.errors or []}
            outcome.failed.update(errors)
            outcome.created.extend(entry.id for entry in batch if entry.id not in errors)
            progress_bar.update(len(batch))
    return outcome


def create_devices(registry: IoTHubRegistryManager, device_ids: Iterable[str],
                   tags: dict[str, Any] | None = None, batch_size: int = BULK_LIMIT,
                   chosen: progress.Mode | None = None, file: IO[str] | None = None) -> BulkOutcome:
    """Create devices with ``registry.bulk_create_or_update_devices``, ``batch_size`` (≤ 100) per request, with a
    progress bar. A device that fails (e.g. DeviceAlreadyExists) is listed in ``failed``; the others are created."""
    entries = [new_device(device_id, tags) for device_id in device_ids]
    return _bulk(registry, entries, "Creating devices", "created", batch_size, chosen, file)


def delete_devices(registry: IoTHubRegistryManager, device_ids: Iterable[str], batch_size: int = BULK_LIMIT,
                   chosen: progress.Mode | None = None, file: IO[str] | None = None) -> BulkOutcome:
    """Delete devices in bulk (``importMode: delete``), with a bar; ``created`` then lists the ids deleted."""
    entries = [ExportImportDevice(id=device_id, import_mode="delete") for device_id in device_ids]
    return _bulk(registry, entries, "Deleting devices", "deleted", batch_size, chosen, file)


# --- jobs ----------------------------------------------------------------------------------------------------

def wait_for_job(job_manager: IoTHubJobManager, job_id: str, poll_s: float = 0.5, timeout_s: float = 300,
                 chosen: progress.Mode | None = None, file: IO[str] | None = None) -> Any:
    """Poll ``job_manager.get_scheduled_job(job_id)`` until the job is completed, failed or cancelled, with a bar
    over its devices (succeeded + failed of ``deviceJobStatistics.deviceCount``); returns the last JobResponse."""
    deadline = time.monotonic() + timeout_s
    with progress.bar(None, f"Job {job_id}", "devices", chosen, file) as progress_bar:
        while True:
            job = job_manager.get_scheduled_job(job_id)
            stats = job.device_job_statistics
            if stats is not None and stats.device_count is not None:
                progress_bar.total = stats.device_count
                progress_bar.update((stats.succeeded_count or 0) + (stats.failed_count or 0) - progress_bar.n)
            progress_bar.set_postfix_str(job.status or "", refresh=True)
            if job.status in JOB_DONE:
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id}: still '{job.status}' after {timeout_s:g} s. Check it with "
                                   f"job_manager.get_scheduled_job('{job_id}'), or cancel it with "
                                   f"job_manager.cancel_scheduled_job('{job_id}').")
            time.sleep(poll_s)
