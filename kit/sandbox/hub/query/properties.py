"""Which collection a query reads and how its property paths map onto the documents of that collection.

Root system properties of a twin are matched case-insensitively and read under their canonical casing
(``SELECT DeviceId`` returns ``deviceId``), as the query-twins documentation shows. Everything below the
root (tags, desired and reported keys) keeps its exact casing. In ``FROM devices.jobs`` a condition names
a job property as ``devices.jobs.<property>``; ``createdTimeUtc`` there is the device job's
``createdDateTimeUtc``.
"""

from __future__ import annotations

from .errors import invalid_at
from .nodes import Path

DEVICES = "devices"
MODULES = "devices.modules"
JOBS = "devices.jobs"
COLLECTIONS = (DEVICES, MODULES, JOBS)

TWIN_ROOT_NAMES = (
    "deviceId",
    "moduleId",
    "etag",
    "deviceEtag",
    "status",
    "statusReason",
    "statusUpdateTime",
    "connectionState",
    "lastActivityTime",
    "cloudToDeviceMessageCount",
    "authenticationType",
    "x509Thumbprint",
    "modelId",
    "version",
    "capabilities",
    "deviceScope",
    "parentScopes",
    "tags",
    "properties",
)
DEVICE_JOB_NAMES = (
    "deviceId",
    "jobId",
    "jobType",
    "status",
    "startTimeUtc",
    "endTimeUtc",
    "createdDateTimeUtc",
    "lastUpdatedDateTimeUtc",
    "outcome",
)
_TWIN_ROOTS = {name.lower(): name for name in TWIN_ROOT_NAMES}
_JOB_ROOTS = {name.lower(): name for name in DEVICE_JOB_NAMES} | {
    "createdtimeutc": "createdDateTimeUtc",
    "lastupdatedtimeutc": "lastUpdatedDateTimeUtc",
}


def collection_of(path: Path) -> str:
    """The FROM clause's collection name, or a QueryError naming the three that exist."""
    name = ".".join(path.segments).lower()
    if name not in COLLECTIONS or not all(path.bare):
        raise invalid_at(
            path.pos,
            f"unknown collection '{'.'.join(path.segments)}'; use devices, devices.modules or devices.jobs",
        )
    return name


def document_keys(path: Path, collection: str) -> tuple[str, ...]:
    """The keys to follow in a document of ``collection`` for ``path``."""
    if collection == JOBS:
        return _job_keys(path)
    first = path.segments[0]
    if path.bare[0]:
        first = _TWIN_ROOTS.get(first.lower(), first)
    return (first, *path.segments[1:])


def _job_keys(path: Path) -> tuple[str, ...]:
    prefix = [name.lower() for name in path.segments[:2]]
    if prefix != ["devices", "jobs"] or not all(path.bare[:2]) or len(path.segments) < 3:
        raise invalid_at(
            path.pos,
            f"a devices.jobs query can only test job properties, written devices.jobs.<property> "
            f"(for example devices.jobs.deviceId), not '{'.'.join(path.segments)}'",
        )
    first = path.segments[2]
    if path.bare[2]:
        first = _JOB_ROOTS.get(first.lower(), first)
    return (first, *path.segments[3:])
