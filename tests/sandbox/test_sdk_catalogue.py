"""Every public call of the five azure-iot-hub 2.7 service clients, once, against the sandbox with an Entra token.

The module-specific tests go into each call's details and errors; this file is the one place that shows the whole
catalogue works end to end through the real SDK (the calls of the reference catalogue and the remaining variants:
x509 / certificate-authority devices and modules, module twins, import/export jobs). Each client is wrapped in
``Exercised``, and each test ends by checking that no public method of its client was left out.
"""
# The hub tests' fixtures are imported by name (this file sits beside, not under, their conftest), which ruff reads
# as unused imports redefined by the test arguments.
# ruff: noqa: F401, F811

from __future__ import annotations

import base64
import inspect
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from azure.iot.hub import (
    DigitalTwinClient,
    IoTHubConfigurationManager,
    IoTHubHttpRuntimeManager,
    IoTHubJobManager,
    IoTHubRegistryManager,
)
from azure.iot.hub.models import (
    BulkRegistryOperationResult,
    CloudToDeviceMethod,
    CloudToDeviceMethodResult,
    Configuration,
    ConfigurationContent,
    ConfigurationQueriesTestInput,
    Device,
    ExportImportDevice,
    JobProperties,
    JobRequest,
    JobResponse,
    Module,
    QueryResult,
    QuerySpecification,
    RegistryStatistics,
    ServiceStatistics,
    Twin,
    TwinProperties,
)
from msrest.exceptions import HttpOperationError

from kit.sandbox.connection import Connection
from tests.sandbox.hub.conftest import (
    HubHttp,
    contributor_credential,
    hub,
    new_id,
    token_registry,
)
from tests.sandbox.hub.devices.test_c2d import ONLINE_DEVICE, drain_feedback, wait_for_feedback
from tests.sandbox.hub.devices.test_digital_twins import THERMOSTAT as PNP_THERMOSTAT
from tests.sandbox.hub.devices.test_digital_twins import controller
from tests.sandbox.hub.devices.test_methods import ONLINE as ONLINE_FOR_METHODS
from tests.sandbox.hub.devices.test_methods import call as method_call
from tests.sandbox.hub.jobs.test_import_export import finished

NEVER = datetime(1, 1, 1)  # msrest's reading of the hub's "0001-01-01T00:00:00"
THUMBPRINTS = ("A" * 40, "B" * 40)


def public_methods(client_type: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(client_type, inspect.isfunction)
            if not name.startswith("_") and not name.startswith("from_")}


class Exercised:
    """An SDK client that records which of its public methods a test called."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if callable(attribute) and not name.startswith("_"):
            self.called.add(name)
        return attribute

    def not_called(self, *elsewhere: str) -> set[str]:
        return public_methods(type(self.client)) - self.called - set(elsewhere)


def is_decimal_etag(etag: str) -> bool:
    return base64.b64decode(etag).decode().isdigit()


@pytest.fixture
def registry(token_registry: IoTHubRegistryManager) -> Exercised:
    return Exercised(token_registry)


@pytest.fixture
def scratch_device(token_registry: IoTHubRegistryManager, new_id: Callable[[str], str]) -> Iterator[str]:
    """A device id for a test; whatever the test left under it is deleted afterwards."""
    device_id = new_id("cat")
    yield device_id
    try:
        token_registry.delete_device(device_id)
    except Exception:  # already deleted by the test
        pass


def test_registry_manager_devices_and_modules(registry: Exercised, new_id: Callable[[str], str]) -> None:
    sas_id, x509_id, ca_id = new_id("cat-sas"), new_id("cat-x509"), new_id("cat-ca")
    device = registry.create_device_with_sas(sas_id, None, None, "enabled")
    assert isinstance(device, Device) and device.authentication.type == "sas"
    assert is_decimal_etag(device.etag) and len(device.generation_id) == 18 and device.generation_id.isdigit()
    assert device.connection_state == "Disconnected" and device.status_updated_time == NEVER
    assert device.connection_state_updated_time == NEVER and device.last_activity_time == NEVER
    assert registry.create_device_with_x509(x509_id, *THUMBPRINTS, "enabled").authentication.type == "selfSigned"
    assert registry.create_device_with_certificate_authority(ca_id, "enabled").authentication.type == (
        "certificateAuthority")

    keys = device.authentication.symmetric_key
    updated = registry.update_device_with_sas(sas_id, device.etag, keys.primary_key, keys.secondary_key, "disabled")
    assert updated.status == "disabled" and updated.etag != device.etag and is_decimal_etag(updated.etag)
    assert registry.update_device_with_x509(x509_id, "*", *reversed(THUMBPRINTS), "enabled").authentication \
        .x509_thumbprint.primary_thumbprint == THUMBPRINTS[1]
    assert registry.update_device_with_certificate_authority(ca_id, "*", "disabled").status == "disabled"
    assert registry.get_device(sas_id).etag == updated.etag
    listed = registry.get_devices(1000)
    assert all(isinstance(d, Device) for d in listed) and {sas_id, x509_id, ca_id} <= {d.device_id for d in listed}

    module = registry.create_module_with_sas(sas_id, "m-sas", "owner", None, None)
    assert isinstance(module, Module) and module.managed_by == "owner" and module.device_id == sas_id
    assert is_decimal_etag(module.etag) and len(module.generation_id) == 18
    registry.create_module_with_x509(sas_id, "m-x509", None, *THUMBPRINTS)
    registry.create_module_with_certificate_authority(sas_id, "m-ca", None)
    module_keys = module.authentication.symmetric_key
    assert registry.update_module_with_sas(sas_id, "m-sas", "other", module.etag, module_keys.primary_key,
                                           module_keys.secondary_key).managed_by == "other"
    assert registry.update_module_with_x509(sas_id, "m-x509", None, "*", *reversed(THUMBPRINTS)).authentication \
        .x509_thumbprint.primary_thumbprint == THUMBPRINTS[1]
    assert registry.update_module_with_certificate_authority(sas_id, "m-ca", "edge", "*").managed_by == "edge"
    assert registry.get_module(sas_id, "m-ca").authentication.type == "certificateAuthority"
    assert sorted(m.module_id for m in registry.get_modules(sas_id)) == ["m-ca", "m-sas", "m-x509"]

    assert registry.delete_module(sas_id, "m-x509") is None  # 204: the SDK returns nothing, so look again
    assert sorted(m.module_id for m in registry.get_modules(sas_id)) == ["m-ca", "m-sas"]
    bulk_id = new_id("cat-bulk")
    bulk = registry.bulk_create_or_update_devices([ExportImportDevice(id=bulk_id, import_mode="create")])
    assert isinstance(bulk, BulkRegistryOperationResult) and bulk.is_successful and bulk.errors == []
    statistics = registry.get_device_registry_statistics()
    assert isinstance(statistics, RegistryStatistics)
    assert statistics.total_device_count == statistics.enabled_device_count + statistics.disabled_device_count
    assert isinstance(registry.get_service_statistics(), ServiceStatistics)
    for device_id in (sas_id, x509_id, ca_id, bulk_id):
        assert registry.delete_device(device_id) is None
        with pytest.raises(HttpOperationError) as gone:
            registry.get_device(device_id)
        assert gone.value.response.status_code == 404

    exercise_twins_and_query(registry, new_id)
    exercise_direct_methods(registry, new_id)
    assert registry.not_called("send_c2d_message") == set()  # send_c2d_message: the next test (needs AMQP)


def exercise_twins_and_query(registry: Exercised, new_id: Callable[[str], str]) -> None:
    """Device and module twins, and a twin query."""
    device_id = new_id("cat-twin")
    registry.create_device_with_sas(device_id, None, None, "enabled")
    registry.create_module_with_sas(device_id, "m", None, None, None)
    try:
        twin = registry.get_twin(device_id)
        assert isinstance(twin, Twin) and twin.version == 1 and twin.etag == "AAAAAAAAAAE="
        assert twin.status_update_time == NEVER and twin.authentication_type == "sas"
        assert twin.additional_properties["modelId"] == ""
        patched = registry.update_twin(device_id, Twin(tags={"floor": 3},
                                                       properties=TwinProperties(desired={"fan": 1})), twin.etag)
        assert patched.version == 2 and patched.tags == {"floor": 3} and patched.properties.desired["fan"] == 1
        assert patched.properties.desired["$metadata"]["fan"]["$lastUpdatedVersion"] == 2
        replaced = registry.replace_twin(device_id, Twin(tags={"room": "b"},
                                                         properties=TwinProperties(desired={"light": True})))
        assert replaced.tags == {"room": "b"} and "fan" not in replaced.properties.desired

        module_twin = registry.get_module_twin(device_id, "m")
        assert module_twin.module_id == "m" and module_twin.version == 1
        assert registry.update_module_twin(device_id, "m", Twin(tags={"t": 1}), module_twin.etag).tags == {"t": 1}
        assert registry.replace_module_twin(device_id, "m", Twin(tags={"u": 2})).tags == {"u": 2}

        result = registry.query_iot_hub(QuerySpecification(query=f"SELECT * FROM devices WHERE deviceId = "
                                                                 f"'{device_id}'"), None, 10)
        assert result.type == "twin" and result.continuation_token is None  # the SDK's own QueryResult wrapper
        assert [item.tags for item in result.items] == [{"room": "b"}]
    finally:
        registry.delete_device(device_id)


def exercise_direct_methods(registry: Exercised, new_id: Callable[[str], str]) -> None:
    """Direct methods to a simulated thermostat and to a module on it (the device answers for its modules)."""
    result = registry.invoke_device_method(ONLINE_FOR_METHODS, method_call("getMaxMinReport", {}))
    assert isinstance(result, CloudToDeviceMethodResult) and result.status == 200 and "maxTemp" in result.payload
    module_id = new_id("cat-mod")
    registry.create_module_with_sas(ONLINE_FOR_METHODS, module_id, None, None, None)
    try:
        module_result = registry.invoke_device_module_method(ONLINE_FOR_METHODS, module_id,
                                                             method_call("getMaxMinReport"))
        assert module_result.status == 200
    finally:
        registry.delete_module(ONLINE_FOR_METHODS, module_id)


def test_registry_manager_cloud_to_device_and_feedback(sandbox: Connection, registry: Exercised, hub: HubHttp,
                                                       contributor_credential, amqp_ready: int) -> None:
    """``send_c2d_message`` (AMQP, port 5671) and the HTTP runtime manager's three feedback calls."""
    runtime = Exercised(IoTHubHttpRuntimeManager.from_token_credential(sandbox.hub_host, contributor_credential))
    assert runtime.receive_feedback_notification() is None  # the SDK returns None for a batch (200) and none (204)
    drain_feedback(hub)
    message_id = "cat-" + uuid.uuid4().hex[:8]
    registry.send_c2d_message(ONLINE_DEVICE, "catalogue", {"iothub-ack": "full", "messageId": message_id})
    reply, found = wait_for_feedback(hub, {message_id})
    assert found[message_id]["statusCode"] == "Success"
    assert runtime.abandon_feedback_notification(reply.headers["ETag"].strip('"')) is None
    again, _ = wait_for_feedback(hub, {message_id})
    assert again.headers["iothub-deliverycount"] == "2"  # abandoned: handed out again
    assert runtime.complete_feedback_notification(again.headers["ETag"].strip('"')) is None
    assert message_id not in {r["originalMessageId"] for r in drain_feedback(hub)}  # completed: gone
    assert registry.called == {"send_c2d_message"} and runtime.not_called() == set()


def test_job_manager_scheduled_and_import_export_jobs(sandbox: Connection, contributor_credential,
                                                      tmp_path: Path) -> None:
    jobs = Exercised(IoTHubJobManager.from_token_credential(sandbox.hub_host, contributor_credential))
    job_id = "cat-" + uuid.uuid4().hex[:8]
    request = JobRequest(job_id=job_id, type="scheduleUpdateTwin", update_twin=Twin(etag="*", tags={"cat": 1}),
                         query_condition="deviceId = 'nobody-at-all'", start_time="2099-01-01T00:00:00.000Z",
                         max_execution_time_in_seconds=60)
    created = jobs.create_scheduled_job(job_id, request)
    try:
        assert isinstance(created, JobResponse) and created.job_id == job_id and created.status == "scheduled"
        assert created.device_job_statistics.device_count == 0 and created.end_time is None
        assert jobs.get_scheduled_job(job_id).type == "scheduleUpdateTwin"
        found = jobs.query_scheduled_jobs("scheduleUpdateTwin", "scheduled")
        assert isinstance(found, QueryResult) and found.type == "jobResponse"
        assert job_id in {item["jobId"] for item in found.items}  # items stay plain dicts in the SDK
    finally:
        cancelled = jobs.cancel_scheduled_job(job_id)
    assert cancelled.status == "cancelled" and cancelled.end_time is not None

    export = jobs.create_import_export_job(JobProperties(type="export", output_blob_container_uri=tmp_path.as_uri(),
                                                         exclude_keys_in_export=True))
    assert isinstance(export, JobProperties) and export.status == "enqueued" and export.type == "export"
    done = finished(jobs, export.job_id)
    assert jobs.get_import_export_job(export.job_id).status == done.status == "completed"
    assert export.job_id in {job.job_id for job in jobs.get_import_export_jobs()}
    assert jobs.cancel_import_export_job(export.job_id)["status"] == "completed"  # a finished job stays as it is
    assert (tmp_path / "devices.txt").exists()
    assert jobs.not_called() == set()


def test_configuration_manager(sandbox: Connection, contributor_credential, token_registry: IoTHubRegistryManager,
                               scratch_device: str) -> None:
    configurations = Exercised(IoTHubConfigurationManager.from_token_credential(sandbox.hub_host,
                                                                                contributor_credential))
    config_id = "cat-" + uuid.uuid4().hex[:8]
    created = configurations.create_configuration(Configuration(
        id=config_id, labels={"k": "v"}, priority=5, target_condition=f"deviceId = '{scratch_device}'",
        content=ConfigurationContent(device_content={"properties.desired.catalogue": 1})))
    try:
        assert isinstance(created, Configuration) and created.etag and created.schema_version == "1.0"
        assert created.system_metrics.results["targetedCount"] == 0
        fetched = configurations.get_configuration(config_id)
        fetched.priority = 6
        assert configurations.update_configuration(fetched, fetched.etag).priority == 6
        assert config_id in {c.id for c in configurations.get_configurations(100)}
        tested = configurations.test_configuration_queries(ConfigurationQueriesTestInput(
            target_condition="tags.x = 1", custom_metric_queries={"m": "SELECT deviceId FROM devices"}))
        assert tested.target_condition_error in (None, "") and not any(tested.custom_metric_query_errors.values())
    finally:
        assert configurations.delete_configuration(config_id) is None
    with pytest.raises(HttpOperationError) as gone:
        configurations.get_configuration(config_id)
    assert gone.value.response.status_code == 404

    token_registry.create_device_with_sas(scratch_device, None, None, "enabled", iot_edge=True)
    content = ConfigurationContent(modules_content={"$edgeAgent": {"properties.desired": {"schemaVersion": "1.1"}}})
    assert configurations.apply_configuration_on_edge_device(scratch_device, content) is None  # 204
    edge_agent = token_registry.get_module_twin(scratch_device, "$edgeAgent")
    assert edge_agent.properties.desired["schemaVersion"] == "1.1"
    assert configurations.not_called() == set()


def test_digital_twin_client(sandbox: Connection, contributor_credential, controller: str) -> None:
    twins = Exercised(DigitalTwinClient.from_token_credential(sandbox.hub_host, contributor_credential))
    twin = twins.get_digital_twin(PNP_THERMOSTAT)
    assert twin["$dtId"] == PNP_THERMOSTAT and twin["$metadata"]["$model"].startswith("dtmi:")
    assert twins.update_digital_twin(PNP_THERMOSTAT, [{"op": "add", "path": "/targetTemperature",
                                                       "value": 21}]) is None  # 202
    target = twins.get_digital_twin(PNP_THERMOSTAT)["$metadata"]["targetTemperature"]
    assert target["desiredValue"] == 21
    report = twins.invoke_command(PNP_THERMOSTAT, "getMaxMinReport", {}, connect_timeout_in_seconds=5,
                                  response_timeout_in_seconds=10)
    assert {"maxTemp", "minTemp", "avgTemp"} <= set(report)
    component_report = twins.invoke_component_command(controller, "thermostat1", "getMaxMinReport",
                                                      "2026-01-01T00:00:00Z", response_timeout_in_seconds=5)
    assert {"maxTemp", "minTemp", "avgTemp"} <= set(component_report)
    assert twins.not_called() == set()
