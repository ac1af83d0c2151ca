"""Scheduled jobs through IoTHubJobManager: twin and method jobs, schedules, cancel, query, devices.jobs, limits
(kit/sandbox/hub/jobs/scheduler.py)."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, JobRequest, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.hub.jobs.scheduler import STOPPED_REASON
from tests.sandbox.hub.conftest import credential_for

THERMOSTATS_A = "tags.building = 'building-a' AND tags.deviceType = 'thermostat'"


@pytest.fixture(scope="module")
def jobs(sandbox: Connection, contributor_credential) -> IoTHubJobManager:
    return IoTHubJobManager.from_token_credential(sandbox.hub_host, contributor_credential)


def naive_utc_iso(hours: float = 0) -> str:
    """What the official sample sends as start time, ``datetime.utcnow().isoformat()``: UTC without a zone."""
    moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)
    return moment.replace(tzinfo=None).isoformat()


def job_id() -> str:
    return "job-" + uuid.uuid4().hex[:10]


def wait_for(jobs: IoTHubJobManager, job: str, status: str = "completed", seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while True:
        response = jobs.get_scheduled_job(job)
        if response.status == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def twin_job(condition: str, desired: dict, start: str | None = None) -> JobRequest:
    """A twin-update job as the official sample builds it (naive UTC start time as a string)."""
    job = JobRequest()
    job.job_id = job_id()
    job.type = "scheduleUpdateTwin"
    job.start_time = start or naive_utc_iso()
    job.update_twin = Twin(etag="*", properties=TwinProperties(desired=desired))
    job.query_condition = condition
    return job


def hub_error(error: pytest.ExceptionInfo) -> tuple[int, str]:
    return error.value.response.status_code, error.value.response.headers.get("iothub-errorcode", "")


def test_sample_twin_job_completes_within_seconds(jobs: IoTHubJobManager,
                                                   token_registry: IoTHubRegistryManager) -> None:
    value = uuid.uuid4().hex[:6]
    request = twin_job("*", {"jobMarker": value})
    created = jobs.create_scheduled_job(request.job_id, request)
    assert created.status in ("queued", "running") and created.type == "scheduleUpdateTwin"
    done = wait_for(jobs, request.job_id)
    assert done.status == "completed" and done.end_time is not None
    stats = done.device_job_statistics
    total = token_registry.get_device_registry_statistics().total_device_count
    assert stats.device_count == total == stats.succeeded_count
    assert stats.pending_count == stats.running_count == stats.failed_count == 0
    assert token_registry.get_twin("light-c-1").properties.desired["jobMarker"] == value


def test_method_job_outcomes_are_queryable_from_devices_jobs(jobs: IoTHubJobManager,
                                                            token_registry: IoTHubRegistryManager) -> None:
    request = JobRequest(job_id=job_id(), type="scheduleDeviceMethod",
                         cloud_to_device_method=CloudToDeviceMethod(method_name="getMaxMinReport", payload={},
                                                                    response_timeout_in_seconds=5),
                         query_condition="tags.building = 'building-a'")
    jobs.create_scheduled_job(request.job_id, request)
    done = wait_for(jobs, request.job_id)
    assert done.status == "completed"
    assert (done.device_job_statistics.device_count, done.device_job_statistics.succeeded_count,
            done.device_job_statistics.failed_count) == (4, 2, 2)  # two thermostats online, two devices offline
    rows = token_registry.query_iot_hub(QuerySpecification(
        query=f"SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '{request.job_id}'"))
    # rows come back as Twin models: deviceId and status are Twin fields, the rest additional properties
    outcomes = {row.device_id: {**row.additional_properties, "status": row.status} for row in rows.items}
    assert outcomes["thermostat-a-1"]["status"] == "completed"
    assert outcomes["thermostat-a-1"]["outcome"]["deviceMethodResponse"]["status"] == 200
    assert outcomes["humidity-a-1"]["status"] == "failed"
    assert outcomes["humidity-a-1"]["error"]["code"] == "DeviceNotOnline"
    assert outcomes["light-a-1"]["jobType"] == "scheduleDeviceMethod"


def test_future_job_is_scheduled_then_cancelled(jobs: IoTHubJobManager) -> None:
    start = naive_utc_iso(hours=1)
    request = twin_job(THERMOSTATS_A, {"neverApplied": True}, start)
    created = jobs.create_scheduled_job(request.job_id, request)
    assert created.status == "scheduled"
    assert created.start_time > datetime.datetime.now(datetime.UTC)
    try:
        second = twin_job("*", {"x": 1})
        with pytest.raises(HttpOperationError) as busy:
            jobs.create_scheduled_job(second.job_id, second)
        assert hub_error(busy) == (429, "ThrottlingMaxActiveJobCountExceeded")
    finally:
        cancelled = jobs.cancel_scheduled_job(request.job_id)
    assert cancelled.status == "cancelled"
    assert jobs.get_scheduled_job(request.job_id).status == "cancelled"


def test_query_scheduled_jobs_by_type_and_status(jobs: IoTHubJobManager) -> None:
    request = twin_job(THERMOSTATS_A, {"queried": 1})
    jobs.create_scheduled_job(request.job_id, request)
    wait_for(jobs, request.job_id)
    result = jobs.query_scheduled_jobs("scheduleUpdateTwin", "completed")
    assert result.type == "jobResponse"
    assert request.job_id in [item["jobId"] for item in result.items]  # QueryResult items stay plain JSON
    assert {(item["type"], item["status"]) for item in result.items} == {("scheduleUpdateTwin", "completed")}
    methods = jobs.query_scheduled_jobs("scheduleDeviceMethod", None).items
    assert request.job_id not in [item["jobId"] for item in methods]


def test_job_response_and_query_result_json_on_the_wire(hub) -> None:
    job = job_id()
    created = hub.call("PUT", f"/jobs/v2/{job}", {
        "jobId": job, "type": "scheduleUpdateTwin", "updateTwin": {"etag": "*", "tags": {"wire": 1}},
        "queryCondition": THERMOSTATS_A, "startTime": naive_utc_iso(hours=1), "maxExecutionTimeInSeconds": 60,
    }, authorization="bearer")
    try:
        assert created.status_code == 200, created.text
        body = created.json()
        assert {"jobId", "queryCondition", "createdTime", "startTime", "endTime", "maxExecutionTimeInSeconds", "type",
                "updateTwin", "status", "failureReason", "statusMessage", "deviceJobStatistics"} <= body.keys()
        assert set(body["deviceJobStatistics"]) == {"deviceCount", "failedCount", "succeededCount", "runningCount",
                                                    "pendingCount"}
        found = hub.call("GET", "/jobs/v2/query", authorization="bearer").json()
        assert set(found) == {"type", "items", "continuationToken"} and found["type"] == "jobResponse"
        assert found["continuationToken"] is None and job in [item["jobId"] for item in found["items"]]
    finally:
        cancelled = hub.call("POST", f"/jobs/v2/{job}/cancel", authorization="bearer")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_duplicate_unknown_and_invalid_jobs(jobs: IoTHubJobManager) -> None:
    request = twin_job("deviceId = 'thermostat-a-1'", {"dup": 1})
    jobs.create_scheduled_job(request.job_id, request)
    wait_for(jobs, request.job_id)
    with pytest.raises(HttpOperationError) as duplicate:
        jobs.create_scheduled_job(request.job_id, request)
    assert hub_error(duplicate) == (409, "JobAlreadyExists")
    with pytest.raises(HttpOperationError) as unknown:
        jobs.get_scheduled_job("no-such-job")
    assert hub_error(unknown) == (404, "JobNotFound")
    bad = twin_job("deviceId = ", {"x": 1})
    with pytest.raises(HttpOperationError) as invalid:
        jobs.create_scheduled_job(bad.job_id, bad)
    assert hub_error(invalid) == (400, "ArgumentInvalid") and "queryCondition" in invalid.value.response.text


@pytest.fixture
def tier_s2(sandbox: Connection) -> Iterator[None]:
    def set_tier(tier: str) -> None:
        subprocess.run([sys.executable, "-m", "kit.sandbox", "hub-tier", tier, "--state-dir", sandbox.state_dir],
                       check=True, capture_output=True)
    set_tier("S2")
    yield
    set_tier("S1")


def test_higher_tier_allows_concurrent_jobs(jobs: IoTHubJobManager, tier_s2: None) -> None:
    start = naive_utc_iso(hours=1)
    requests = [twin_job(THERMOSTATS_A, {"n": n}, start) for n in range(2)]
    try:
        assert [jobs.create_scheduled_job(r.job_id, r).status for r in requests] == ["scheduled", "scheduled"]
    finally:
        for r in requests:
            jobs.cancel_scheduled_job(r.job_id)


def test_rbac_jobs_read_and_write(sandbox: Connection, role_credential) -> None:
    reader = IoTHubJobManager.from_token_credential(sandbox.hub_host, role_credential("IoT Hub Data Reader"))
    assert reader.query_scheduled_jobs(None, None).type == "jobResponse"
    request = twin_job("*", {"denied": 1})
    with pytest.raises(HttpOperationError) as denied:
        reader.create_scheduled_job(request.job_id, request)
    assert hub_error(denied) == (401, "IotHubUnauthorized")
    registry_only = IoTHubJobManager.from_token_credential(sandbox.hub_host,
                                                           role_credential("IoT Hub Registry Contributor"))
    with pytest.raises(HttpOperationError) as no_read:
        registry_only.get_scheduled_job("anything")
    assert hub_error(no_read) == (401, "IotHubUnauthorized")


@pytest.mark.slow
def test_restart_fails_running_jobs_and_restarts_scheduled_ones(private_sandbox) -> None:
    """A real restart of the sandbox process: a job running when it stops is failed with the reason, a job scheduled
    for later is still scheduled and can be cancelled."""
    first = private_sandbox()
    subprocess.run([sys.executable, "-m", "kit.sandbox", "hub-tier", "S2", "--state-dir", first.state_dir],
                   check=True, capture_output=True)  # two active jobs at once
    credential = credential_for(first, first.client_id, first.client_secret)
    jobs = IoTHubJobManager.from_token_credential(first.hub_host, credential)
    later = twin_job(THERMOSTATS_A, {"neverApplied": True}, naive_utc_iso(hours=1))
    assert jobs.create_scheduled_job(later.job_id, later).status == "scheduled"
    slow = JobRequest(job_id=job_id(), type="scheduleDeviceMethod", query_condition="deviceId = 'thermostat-a-2'",
                      cloud_to_device_method=CloudToDeviceMethod(method_name="slow", payload={"seconds": 60},
                                                                 response_timeout_in_seconds=120))
    jobs.create_scheduled_job(slow.job_id, slow)
    assert wait_for(jobs, slow.job_id, status="running").status == "running"

    process.stop(first.state_dir)
    again = private_sandbox(state_dir=Path(first.state_dir))
    jobs = IoTHubJobManager.from_token_credential(again.hub_host, credential)

    stopped = jobs.get_scheduled_job(slow.job_id)
    assert stopped.status == "failed" and stopped.failure_reason == STOPPED_REASON
    assert jobs.get_scheduled_job(later.job_id).status == "scheduled"
    assert jobs.cancel_scheduled_job(later.job_id).status == "cancelled"
