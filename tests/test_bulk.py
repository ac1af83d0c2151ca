"""kit.bulk: bulk creates and deletes in batches of 100 and waiting for a job, through the real SDK, with their bars."""

from __future__ import annotations

import datetime
import io
import uuid

import pytest
from azure.iot.hub import IoTHubJobManager
from azure.iot.hub.models import JobRequest, Twin, TwinProperties

from kit import bulk


def test_create_devices_in_batches_reports_each_failure(registry):
    prefix = "bulkp-" + uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{n:03d}" for n in range(150)]
    out = io.StringIO()
    try:
        outcome = bulk.create_devices(registry, ids, tags={"batch": prefix}, chosen="text", file=out)
        assert outcome.created == ids and outcome.failed == {}
        assert "Creating devices: 100%" in out.getvalue() and "150/150" in out.getvalue()
        assert registry.get_twin(ids[149]).tags == {"batch": prefix}

        again = bulk.create_devices(registry, [ids[0], f"{prefix}-new"], chosen="text", file=io.StringIO())
        assert again.created == [f"{prefix}-new"]
        assert again.failed[ids[0]].startswith("DeviceAlreadyExists")
        assert "1 created, 1 failed" in str(again)
    finally:
        deleted = bulk.delete_devices(registry, [*ids, f"{prefix}-new"], chosen="text",
                                          file=io.StringIO())
        assert len(deleted.created) == 151 and not deleted.failed
        assert str(deleted) == "151 deleted, 0 failed"


def test_create_devices_refuses_batches_over_the_hub_limit(registry):
    with pytest.raises(ValueError, match="batch_size: 101"):
        bulk.create_devices(registry, ["x"], batch_size=101)


def test_wait_for_job_follows_a_twin_job_to_the_end(sandbox, credential, registry):
    prefix = "jobp-" + uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{n}" for n in range(5)]
    bulk.create_devices(registry, ids, tags={"batch": prefix}, chosen="text", file=io.StringIO())
    jobs = IoTHubJobManager.from_token_credential(sandbox.hub_host, credential)
    request = JobRequest(job_id="job-" + uuid.uuid4().hex[:10], type="scheduleUpdateTwin",
                         start_time=datetime.datetime.now(datetime.UTC).isoformat(),
                         update_twin=Twin(etag="*", properties=TwinProperties(desired={"mode": "eco"})),
                         query_condition=f"tags.batch = '{prefix}'")
    out = io.StringIO()
    try:
        jobs.create_scheduled_job(request.job_id, request)
        done = bulk.wait_for_job(jobs, request.job_id, poll_s=0.1, timeout_s=20, chosen="text", file=out)
        assert done.status == "completed" and done.device_job_statistics.succeeded_count == 5
        assert "5/5" in out.getvalue() and "completed" in out.getvalue()
        assert registry.get_twin(ids[0]).properties.desired["mode"] == "eco"
    finally:
        bulk.delete_devices(registry, ids, chosen="text", file=io.StringIO())


def test_wait_for_job_times_out_with_the_next_step(sandbox, credential):
    jobs = IoTHubJobManager.from_token_credential(sandbox.hub_host, credential)
    request = JobRequest(job_id="job-" + uuid.uuid4().hex[:10], type="scheduleUpdateTwin",
                         start_time=(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat(),
                         update_twin=Twin(etag="*", properties=TwinProperties(desired={"later": 1})),
                         query_condition="deviceId = 'nobody'")
    jobs.create_scheduled_job(request.job_id, request)
    try:
        with pytest.raises(TimeoutError, match=r"still 'scheduled' after 0.3 s.*cancel_scheduled_job"):
            bulk.wait_for_job(jobs, request.job_id, poll_s=0.1, timeout_s=0.3, chosen="text",
                                  file=io.StringIO())
    finally:
        jobs.cancel_scheduled_job(request.job_id)
