"""Documents for the query-engine tests: twins in the GET /twins shape, module twins and device jobs.

The fleet follows the reference's example data: the documentation's twin (myDeviceId, region US, plant
Redmond43, cellular connectivity, sendFrequencyInSecs 300) plus devices that make each example selective.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kit.sandbox.hub.query import parse


def make_twin(
    device_id: str,
    *,
    tags: dict | None = None,
    desired: dict | None = None,
    reported: dict | None = None,
    module_id: str | None = None,
    **root: Any,
) -> dict:
    twin: dict[str, Any] = {"deviceId": device_id}
    if module_id is not None:
        twin["moduleId"] = module_id
    twin |= {
        "etag": "AAAAAAAAAAc=",
        "deviceEtag": "MzE4NzUxOTU1",
        "status": "enabled",
        "statusReason": None,
        "statusUpdateTime": "0001-01-01T00:00:00",
        "connectionState": "Disconnected",
        "lastActivityTime": "0001-01-01T00:00:00",
        "cloudToDeviceMessageCount": 0,
        "authenticationType": "sas",
        "x509Thumbprint": {"primaryThumbprint": None, "secondaryThumbprint": None},
        "modelId": "",
        "version": 2,
    }
    twin |= root
    if tags is not None:
        twin["tags"] = tags
    twin["properties"] = {
        "desired": {
            **(desired or {}),
            "$metadata": {"$lastUpdated": "2016-03-30T16:24:48.789Z"},
            "$version": (desired or {}).get("$version", 1),
        },
        "reported": {
            **(reported or {}),
            "$metadata": {"$lastUpdated": "2016-04-01T16:24:48.789Z"},
            "$version": (reported or {}).get("$version", 1),
        },
    }
    twin["capabilities"] = {"iotEdge": False}
    return twin


def doc_twin() -> dict:
    """The twin of the query-language documentation."""
    return make_twin(
        "myDeviceId",
        tags={"location": {"region": "US", "plant": "Redmond43"}},
        desired={"telemetryConfig": {"sendFrequency": "5m"}, "$version": 4},
        reported={
            "connectivity": {"type": "cellular"},
            "telemetryConfig": {"sendFrequencyInSecs": 300, "status": "Success"},
            "batteryLevel": 55,
            "$version": 7,
        },
    )


@pytest.fixture
def fleet() -> list[dict]:
    return [
        doc_twin(),
        make_twin(
            "dev-eu-1",
            tags={"location": {"region": "EU"}},
            reported={"connectivity": "wifi", "telemetryConfig": {"status": "Success"}, "batteryLevel": 40},
        ),
        make_twin(
            "dev-eu-2",
            tags={"location": {"region": "EU"}},
            reported={"connectivity": "wired", "telemetryConfig": {"status": "Pending"}, "batteryLevel": 71},
        ),
        make_twin(
            "dev-asia",
            tags={"location": {"region": "Asia"}},
            status="disabled",
            reported={"telemetryConfig": {"status": "Pending", "sendFrequencyInSecs": 30}},
        ),
        make_twin(
            "AZ3166Device",
            lastActivityTime="2021-05-07T00:50:38.0543092Z",
            reported={"telemetryConfig": {"status": "Error"}, "batteryLevel": 12},
        ),
        make_twin(
            "dev-group",
            tags={"group": {"name": "some_value"}},
            connectionState="Connected",
            desired={"config": "a"},
            reported={"config": "a", "telemetryConfig": {"status": "Success"}},
        ),
    ]


@pytest.fixture
def module_twins() -> list[dict]:
    return [
        make_twin("device1", module_id="scanner", reported={"status": "scanning"}),
        make_twin("device2", module_id="scanner", reported={"status": "scanning"}),
        make_twin("device3", module_id="scanner", reported={"status": "scanning"}),
        make_twin("device1", module_id="uploader", reported={"status": "idle"}),
    ]


def device_job(device_id: str, job_id: str, job_type: str, status: str, created: str) -> dict:
    return {
        "deviceId": device_id,
        "jobId": job_id,
        "jobType": job_type,
        "status": status,
        "startTimeUtc": created,
        "endTimeUtc": created,
        "createdDateTimeUtc": created,
        "lastUpdatedDateTimeUtc": created,
        "outcome": {"deviceMethodResponse": None},
    }


@pytest.fixture
def device_jobs() -> list[dict]:
    return [
        device_job("myDeviceId", "myJobId", "scheduleUpdateTwin", "completed", "2016-10-01T10:00:00Z"),
        device_job("myDeviceId", "oldJob", "scheduleUpdateTwin", "completed", "2016-08-01T10:00:00Z"),
        device_job("myDeviceId", "reboot", "scheduleDeviceMethod", "failed", "2017-01-01T10:00:00Z"),
        device_job("otherDevice", "myJobId", "scheduleUpdateTwin", "running", "2016-10-01T10:00:00Z"),
    ]


def run_query(text: str, docs: list[dict]) -> list[dict]:
    """What the hub endpoint does with a parsed query: filter, project, cap at TOP (or aggregate)."""
    query = parse(text)
    if query.is_aggregate:
        return query.aggregate(docs)
    rows = [query.project(doc) for doc in docs if query.matches(doc)]
    return rows if query.top is None else rows[: query.top]


@pytest.fixture
def run() -> Callable[[str, list[dict]], list[dict]]:
    return run_query


@pytest.fixture
def twin_factory() -> Callable[..., dict]:
    return make_twin
