"""kit.progress: the automatic widget/text choice, and bars over bulk creates and jobs through the real SDK."""

from __future__ import annotations

import datetime
import io
import uuid
from collections.abc import Iterator

import pytest
from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import JobRequest, Twin, TwinProperties
from tqdm.notebook import tqdm as widget_tqdm

from kit import clients, progress
from kit.sandbox.connection import Connection


@pytest.fixture(scope="module")
def credential(sandbox: Connection) -> ClientSecretCredential:
    return ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                  authority=sandbox.authority_host, disable_instance_discovery=True)


@pytest.fixture(scope="module")
def registry(sandbox: Connection, credential) -> Iterator[IoTHubRegistryManager]:
    with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as rm:
        yield rm


def test_front_end_detection_from_the_request():
    assert progress.requests_a_widget_front_end({"metadata": {"cellId": "4b1d", "deletedCells": []}})
    assert not progress.requests_a_widget_front_end({"metadata": {}, "header": {"msg_type": "execute_request"}})
    assert not progress.requests_a_widget_front_end(None)


def test_mode_is_text_without_a_kernel_and_follows_the_override(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    assert progress.mode() == "text"
    monkeypatch.setenv(progress.MODE_ENV, "widgets")
    assert progress.mode() == "widgets"
    monkeypatch.setenv(progress.MODE_ENV, "fancy")
    with pytest.raises(ValueError, match="KIT_PROGRESS: 'fancy'"):
        progress.mode()


def test_text_bar_writes_plain_lines():
    out = io.StringIO()
    with progress.bar(3, "Counting", "rows", "text", file=out) as bar:
        bar.update(3)
    assert "Counting: 100%" in out.getvalue() and "3/3" in out.getvalue()


def test_widget_bar_can_be_placed_in_another_widget(monkeypatch):
    monkeypatch.setenv(progress.MODE_ENV, "widgets")
    bar = progress.bar(10, "Reading", "rows", display=False)
    try:
        assert isinstance(bar, widget_tqdm)
        bar.update(4)
        bar.refresh()
        assert bar.container.children[1].value == 4 and bar.container.children[1].max == 10
    finally:
        bar.close()


def test_paging_callback_moves_to_rows_read():
    out = io.StringIO()
    with progress.bar(250, "Reading", "rows", "text", file=out) as bar:
        update = progress.paging_callback(bar)
        update(100, 1)
        update(250, 3)
        assert bar.n == 250
    assert "250/250" in out.getvalue() and "3 pages" in out.getvalue()


def test_create_devices_in_batches_reports_each_failure(registry):
    prefix = "bulkp-" + uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{n:03d}" for n in range(150)]
    out = io.StringIO()
    try:
        outcome = progress.create_devices(registry, ids, tags={"batch": prefix}, chosen="text", file=out)
        assert outcome.created == ids and outcome.failed == {}
        assert "Creating devices: 100%" in out.getvalue() and "150/150" in out.getvalue()
        assert registry.get_twin(ids[149]).tags == {"batch": prefix}

        again = progress.create_devices(registry, [ids[0], f"{prefix}-new"], chosen="text", file=io.StringIO())
        assert again.created == [f"{prefix}-new"]
        assert again.failed[ids[0]].startswith("DeviceAlreadyExists")
        assert "1 created, 1 failed" in str(again)
    finally:
        deleted = progress.delete_devices(registry, [*ids, f"{prefix}-new"], chosen="text",
                                          file=io.StringIO())
        assert len(deleted.created) == 151 and not deleted.failed
        assert str(deleted) == "151 deleted, 0 failed"


def test_create_devices_refuses_batches_over_the_hub_limit(registry):
    with pytest.raises(ValueError, match="batch_size: 101"):
        progress.create_devices(registry, ["x"], batch_size=101)


def test_wait_for_job_follows_a_twin_job_to_the_end(sandbox, credential, registry):
    prefix = "jobp-" + uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{n}" for n in range(5)]
    progress.create_devices(registry, ids, tags={"batch": prefix}, chosen="text", file=io.StringIO())
    jobs = IoTHubJobManager.from_token_credential(sandbox.hub_host, credential)
    request = JobRequest(job_id="job-" + uuid.uuid4().hex[:10], type="scheduleUpdateTwin",
                         start_time=datetime.datetime.now(datetime.UTC).isoformat(),
                         update_twin=Twin(etag="*", properties=TwinProperties(desired={"mode": "eco"})),
                         query_condition=f"tags.batch = '{prefix}'")
    out = io.StringIO()
    try:
        jobs.create_scheduled_job(request.job_id, request)
        done = progress.wait_for_job(jobs, request.job_id, poll_s=0.1, timeout_s=20, chosen="text", file=out)
        assert done.status == "completed" and done.device_job_statistics.succeeded_count == 5
        assert "5/5" in out.getvalue() and "completed" in out.getvalue()
        assert registry.get_twin(ids[0]).properties.desired["mode"] == "eco"
    finally:
        progress.delete_devices(registry, ids, chosen="text", file=io.StringIO())


def test_wait_for_job_times_out_with_the_next_step(sandbox, credential):
    jobs = IoTHubJobManager.from_token_credential(sandbox.hub_host, credential)
    request = JobRequest(job_id="job-" + uuid.uuid4().hex[:10], type="scheduleUpdateTwin",
                         start_time=(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).isoformat(),
                         update_twin=Twin(etag="*", properties=TwinProperties(desired={"later": 1})),
                         query_condition="deviceId = 'nobody'")
    jobs.create_scheduled_job(request.job_id, request)
    try:
        with pytest.raises(TimeoutError, match=r"still 'scheduled' after 0.3 s.*cancel_scheduled_job"):
            progress.wait_for_job(jobs, request.job_id, poll_s=0.1, timeout_s=0.3, chosen="text",
                                  file=io.StringIO())
    finally:
        jobs.cancel_scheduled_job(request.job_id)
