"""Progress bars for long operations (paging through twins, bulk creates, jobs), in whatever can show them.

A notebook front end (JupyterLab, Notebook 7) gets tqdm's widget bar; anything that cannot render widgets (a
terminal, a script, nbval or another headless runner) gets tqdm's plain text bar on stdout. The choice is automatic:
a front end that renders widgets names the cell it runs in the request's metadata (``cellId``); headless runners
send none. ``KIT_PROGRESS=widgets|text`` overrides the guess, e.g. for a front end that renders widgets but sends no
``cellId``.

Long operations come with their bar: :func:`create_devices` and :func:`delete_devices`
(``bulk_create_or_update_devices``, 100 devices a request; a request the hub throttles with 429 is sent again after
the wait the hub asks for, through :func:`kit.retry.call`, and the bar says so) and :func:`wait_for_job`
(``get_scheduled_job`` polled until the job ends).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import AuthenticationMechanism, ExportImportDevice, SymmetricKey
from tqdm import tqdm
from tqdm.std import tqdm as text_tqdm

from kit import retry

__all__ = [
    "MODE_ENV", "bar", "batches", "create_devices", "delete_devices", "mode", "new_device", "paging_callback",
    "requests_a_widget_front_end", "wait_for_job"
]

MODE_ENV = "KIT_PROGRESS"
Mode = Literal["widgets", "text"]
BULK_LIMIT = 100  # IoT Hub takes at most 100 devices per bulk request (413 TooManyDevices beyond)
JOB_DONE = frozenset({"completed", "failed", "cancelled"})


def requests_a_widget_front_end(parent: Mapping[str, Any] | None) -> bool:
    """True when the kernel request came from a front end that renders widgets: it names its cell (``cellId``)."""
    metadata = (parent or {}).get("metadata") or {}
    return bool(metadata.get("cellId"))


def mode() -> Mode:
    """``widgets`` in a notebook front end that renders them, else ``text`` (or what ``KIT_PROGRESS`` says)."""
    chosen = os.environ.get(MODE_ENV, "").strip().lower()
    if chosen in ("widgets", "text"):
        return chosen  # type: ignore[return-value]
    if chosen:
        raise ValueError(f"{MODE_ENV}: '{chosen}' is neither 'widgets' nor 'text'; unset it to choose automatically.")
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:  # plain Python, a terminal IPython, pytest
        return "text"
    return "widgets" if requests_a_widget_front_end(kernel.get_parent()) else "text"


def bar(total: int | None = None, description: str = "", unit: str = "it", chosen: Mode | None = None,
        file: IO[str] | None = None, display: bool = True) -> tqdm:
    """A tqdm bar: the widget bar (``tqdm.notebook``) or plain text on ``file`` (stdout by default).

    ``display=False`` builds a widget bar without showing it, so a larger widget can place ``bar.container``."""
    if (chosen or mode()) == "widgets":
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(total=total, desc=description, unit=unit, display=display)
    return text_tqdm(total=total, desc=description, unit=unit, file=file or sys.stdout, ascii=True,
                     mininterval=0.5, dynamic_ncols=False, ncols=90)


def paging_callback(progress_bar: tqdm) -> Callable[[int, int], None]:
    """A ``progress`` callback for :func:`kit.twins.query_dataframe`: moves the bar to the rows read so far."""
    def update(rows: int, pages: int) -> None:
        progress_bar.set_postfix_str(f"{pages} pages", refresh=False)
        progress_bar.update(rows - progress_bar.n)
    return update


# --- bulk creates --------------------------------------------------------------------------------------------

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
          batch_size: int, chosen: Mode | None, file: IO[str] | None) -> BulkOutcome:
    if not 1 <= batch_size <= BULK_LIMIT:
        raise ValueError(f"batch_size: {batch_size} is out of range; IoT Hub takes 1 to {BULK_LIMIT} per request.")
    outcome = BulkOutcome(verb=verb)
    with bar(len(entries), description, "devices", chosen, file) as progress_bar:
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
                   chosen: Mode | None = None, file: IO[str] | None = None) -> BulkOutcome:
    """Create devices with ``registry.bulk_create_or_update_devices``, ``batch_size`` (≤ 100) per request, with a
    progress bar. A device that fails (e.g. DeviceAlreadyExists) is listed in ``failed``; the others are created."""
    entries = [new_device(device_id, tags) for device_id in device_ids]
    return _bulk(registry, entries, "Creating devices", "created", batch_size, chosen, file)


def delete_devices(registry: IoTHubRegistryManager, device_ids: Iterable[str], batch_size: int = BULK_LIMIT,
                   chosen: Mode | None = None, file: IO[str] | None = None) -> BulkOutcome:
    """Delete devices in bulk (``importMode: delete``), with a bar; ``created`` then lists the ids deleted."""
    entries = [ExportImportDevice(id=device_id, import_mode="delete") for device_id in device_ids]
    return _bulk(registry, entries, "Deleting devices", "deleted", batch_size, chosen, file)


# --- jobs ----------------------------------------------------------------------------------------------------

def wait_for_job(job_manager: IoTHubJobManager, job_id: str, poll_s: float = 0.5, timeout_s: float = 300,
                 chosen: Mode | None = None, file: IO[str] | None = None) -> Any:
    """Poll ``job_manager.get_scheduled_job(job_id)`` until the job is completed, failed or cancelled, with a bar
    over its devices (succeeded + failed of ``deviceJobStatistics.deviceCount``); returns the last JobResponse."""
    deadline = time.monotonic() + timeout_s
    with bar(None, f"Job {job_id}", "devices", chosen, file) as progress_bar:
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
