"""Import/export jobs through IoTHubJobManager, with a local folder standing in for the blob container
(kit/sandbox/hub/jobs/import_export.py)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import JobProperties
from msrest.exceptions import HttpOperationError

from kit.sandbox.connection import Connection


@pytest.fixture(scope="module")
def jobs(sandbox: Connection, contributor_credential) -> IoTHubJobManager:
    return IoTHubJobManager.from_token_credential(sandbox.hub_host, contributor_credential)


def finished(jobs: IoTHubJobManager, job_id: str, seconds: float = 5.0) -> JobProperties:
    deadline = time.monotonic() + seconds
    while True:
        job = jobs.get_import_export_job(job_id)
        if job.status not in ("enqueued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def export(jobs: IoTHubJobManager, container: str, exclude_keys: bool) -> JobProperties:
    created = jobs.create_import_export_job(JobProperties(type="export", output_blob_container_uri=container,
                                                          exclude_keys_in_export=exclude_keys,
                                                          storage_authentication_type="keyBased"))
    assert created.status == "enqueued" and created.job_id
    return finished(jobs, created.job_id)


def test_export_writes_devices_txt_to_a_file_uri(jobs: IoTHubJobManager, tmp_path: Path) -> None:
    done = export(jobs, tmp_path.as_uri(), exclude_keys=False)
    assert (done.status, done.progress, done.output_blob_name) == ("completed", 100, "devices.txt")
    lines = [json.loads(line) for line in (tmp_path / "devices.txt").read_text().splitlines()]
    thermostat = next(line for line in lines if line["id"] == "thermostat-a-1")
    assert thermostat["tags"]["building"] == "building-a"
    assert thermostat["authentication"]["symmetricKey"]["primaryKey"]
    assert "$metadata" not in thermostat["properties"]["reported"]
    assert oct((tmp_path / "devices.txt").stat().st_mode & 0o777) == "0o600"
    assert done.job_id in [job.job_id for job in jobs.get_import_export_jobs()]


def test_export_to_a_named_container_excludes_keys(jobs: IoTHubJobManager, sandbox: Connection) -> None:
    name = "exports-" + uuid.uuid4().hex[:6]
    assert export(jobs, name, exclude_keys=True).status == "completed"
    blob = Path(sandbox.state_dir) / "blobs" / name / "devices.txt"
    first = json.loads(blob.read_text().splitlines()[0])
    assert first["authentication"]["symmetricKey"] == {"primaryKey": None, "secondaryKey": None}


def test_import_applies_each_line_and_logs_failures(jobs: IoTHubJobManager, token_registry: IoTHubRegistryManager,
                                                   tmp_path: Path) -> None:
    new_device = "imported-" + uuid.uuid4().hex[:6]
    lines = [
        {"id": new_device, "importMode": "create", "status": "enabled", "tags": {"source": "import"}},
        {"id": "thermostat-a-1", "importMode": "create"},  # exists already: an error line
        {"id": "light-b-1", "importMode": "updateTwin", "tags": {"imported": True}},
    ]
    (tmp_path / "devices.txt").write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    created = jobs.create_import_export_job(JobProperties(
        type="import", input_blob_container_uri=str(tmp_path), output_blob_container_uri=str(tmp_path)))
    try:
        assert finished(jobs, created.job_id).status == "completed"
        assert token_registry.get_twin(new_device).tags == {"source": "import"}
        assert token_registry.get_twin("light-b-1").tags["imported"] is True
        errors = [json.loads(line) for line in (tmp_path / "importErrors.log").read_text().splitlines()]
        assert {e["errorCode"] for e in errors} == {"DeviceAlreadyExists", "IotHubFormatError"}
    finally:
        token_registry.delete_device(new_device)


def test_cancel_unknown_and_invalid_jobs(jobs: IoTHubJobManager, tmp_path: Path) -> None:
    done = export(jobs, str(tmp_path), exclude_keys=True)
    answer = jobs.cancel_import_export_job(done.job_id)  # the SDK returns the job as a plain dict
    assert (answer["jobId"], answer["status"]) == (done.job_id, "completed")  # a finished job stays as it was
    with pytest.raises(HttpOperationError) as unknown:
        jobs.get_import_export_job("no-such-job")
    assert unknown.value.response.status_code == 404
    assert unknown.value.response.headers["iothub-errorcode"] == "JobNotFound"
    with pytest.raises(HttpOperationError) as invalid:
        jobs.create_import_export_job(JobProperties(type="export", output_blob_container_uri="Not A Container!"))
    assert invalid.value.response.status_code == 400 and "outputBlobContainerUri" in invalid.value.response.text


def test_rbac_import_export(sandbox: Connection, role_credential, tmp_path: Path) -> None:
    reader = IoTHubJobManager.from_token_credential(sandbox.hub_host, role_credential("IoT Hub Data Reader"))
    assert isinstance(reader.get_import_export_jobs(), list)
    with pytest.raises(HttpOperationError) as denied:
        reader.create_import_export_job(JobProperties(type="export", output_blob_container_uri=str(tmp_path)))
    assert denied.value.response.status_code == 401
    assert denied.value.response.headers["iothub-errorcode"] == "IotHubUnauthorized"
