"""The simulated thermostats: online, reporting, and acknowledging desired targetTemperature, whichever write path
changed it (the registry tells the simulator about every desired change)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from azure.iot.hub import DigitalTwinClient, IoTHubConfigurationManager, IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import (
    Configuration,
    ConfigurationContent,
    ExportImportDevice,
    JobProperties,
    JobRequest,
    PropertyContainer,
    Twin,
    TwinProperties,
)

from kit import clients
from kit.sandbox.connection import Connection
from kit.sandbox.hub.devices.simulator import ACK_DELAY_S, BEHAVIOURS, Thermostat


def _twin_at(twin: dict) -> dict:
    return {"properties": {"desired": twin.get("desired", {"$version": 1}), "reported": twin.get("reported", {})}}


def test_thermostat_moves_towards_target_and_acknowledges_once():
    thermostat = BEHAVIOURS["thermostat"]
    twin = _twin_at({"desired": {"targetTemperature": 30, "$version": 4}, "reported": {"temperature": 20.0}})
    assert 22 < thermostat.report(twin)["temperature"] < 24
    ack = thermostat.on_desired(twin)["targetTemperature"]
    assert ack["value"] == 30 and ack["ac"] == 200 and ack["av"] == 4
    twin["properties"]["reported"]["targetTemperature"] = ack
    assert thermostat.on_desired(twin) == {}
    assert "getMaxMinReport" in thermostat.methods and Thermostat.model_id == "dtmi:com:example:Thermostat;1"


def test_online_thermostat_acknowledges_through_the_hub(registry):
    device_id = "thermostat-c-2"
    twin = registry.get_twin(device_id)
    assert twin.connection_state == "Connected"
    assert twin.additional_properties["modelId"] == "dtmi:com:example:Thermostat;1"
    target = 18 + twin.properties.desired["$version"] % 7
    patched = registry.update_twin(device_id, Twin(properties=TwinProperties(desired={"targetTemperature": target})),
                                   "*")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ack = registry.get_twin(device_id).properties.reported.get("targetTemperature") or {}
        if ack.get("av") == patched.properties.desired["$version"]:
            break
        time.sleep(0.1)
    assert ack == {"value": target, "ac": 200, "av": patched.properties.desired["$version"],
                   "ad": "Target temperature accepted"}


def new_target() -> int:
    return 16 + uuid.uuid4().int % 14


def wait_for(check: Callable[[], object], seconds: float = 10.0) -> object:
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def assert_acknowledged(registry: IoTHubRegistryManager, device_id: str, target: int) -> None:
    """The desired target was written (by whatever path), then the simulated thermostat acknowledged that version."""
    desired = wait_for(lambda: (d := registry.get_twin(device_id).properties.desired).get("targetTemperature")
                       == target and d)
    assert desired, f"{device_id}'s desired targetTemperature never became {target}"
    reported = wait_for(lambda: (r := registry.get_twin(device_id).properties.reported)
                        .get("targetTemperature", {}).get("av") == desired["$version"] and r)
    assert reported, f"{device_id} never acknowledged desired version {desired['$version']}"
    assert reported["targetTemperature"] == {"value": target, "ac": 200, "av": desired["$version"],
                                             "ad": "Target temperature accepted"}
    acked_at, reported_at = reported["$metadata"]["targetTemperature"], reported["$metadata"]["temperature"]
    told = acked_at["$lastUpdated"] != reported_at["$lastUpdated"]  # the periodic report sends both in one patch
    soon = stamp(acked_at) - stamp(desired["$metadata"]["targetTemperature"]) < ACK_DELAY_S + 0.5
    assert told or soon, "acknowledged only by the simulator's periodic report, not when the desired property changed"


def stamp(metadata: dict) -> float:
    """A twin ``$lastUpdated`` (7 fractional digits) as seconds since the epoch."""
    text = metadata["$lastUpdated"].rstrip("Z")
    whole, _, fraction = text.partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + float(f"0.{fraction or 0}")


def desired_twin(target: int) -> Twin:
    return Twin(properties=TwinProperties(desired={"targetTemperature": target}))


def test_a_rest_patch_is_acknowledged(token_registry: IoTHubRegistryManager) -> None:
    target = new_target()
    token_registry.update_twin("thermostat-a-1", desired_twin(target), "*")
    assert_acknowledged(token_registry, "thermostat-a-1", target)


def test_a_rest_put_is_acknowledged(token_registry: IoTHubRegistryManager) -> None:
    target, current = new_target(), token_registry.get_twin("thermostat-a-2")
    token_registry.replace_twin("thermostat-a-2", Twin(
        tags=current.tags, properties=TwinProperties(desired={"targetTemperature": target})))
    assert_acknowledged(token_registry, "thermostat-a-2", target)


def test_a_bulk_twin_update_is_acknowledged(token_registry: IoTHubRegistryManager) -> None:
    target = new_target()
    result = token_registry.bulk_create_or_update_devices([ExportImportDevice(
        id="thermostat-b-1", import_mode="updateTwin",
        properties=PropertyContainer(desired={"targetTemperature": target}))])
    assert result.is_successful, result.errors
    assert_acknowledged(token_registry, "thermostat-b-1", target)


def test_an_import_job_is_acknowledged(sandbox: Connection, contributor_credential,
                                       token_registry: IoTHubRegistryManager, tmp_path: Path) -> None:
    target = new_target()
    line = {"id": "thermostat-b-2", "importMode": "updateTwin",
            "properties": {"desired": {"targetTemperature": target}}}
    (tmp_path / "devices.txt").write_text(json.dumps(line) + "\n")
    with clients.closing(IoTHubJobManager.from_token_credential(sandbox.hub_host, contributor_credential)) as jobs:
        jobs.create_import_export_job(JobProperties(
            type="import", input_blob_container_uri=str(tmp_path), output_blob_container_uri=str(tmp_path)))
        assert_acknowledged(token_registry, "thermostat-b-2", target)


def test_a_twin_job_is_acknowledged(sandbox: Connection, contributor_credential,
                                    token_registry: IoTHubRegistryManager) -> None:
    target = new_target()
    job = JobRequest(job_id="ack-" + uuid.uuid4().hex[:8], type="scheduleUpdateTwin",
                     start_time=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                     update_twin=Twin(etag="*", properties=TwinProperties(desired={"targetTemperature": target})),
                     query_condition="deviceId = 'thermostat-c-1'")
    with clients.closing(IoTHubJobManager.from_token_credential(sandbox.hub_host, contributor_credential)) as jobs:
        jobs.create_scheduled_job(job.job_id, job)
        assert_acknowledged(token_registry, "thermostat-c-1", target)


def test_a_configuration_is_acknowledged(sandbox: Connection, contributor_credential,
                                         token_registry: IoTHubRegistryManager) -> None:
    target, config_id = new_target(), "ack-" + uuid.uuid4().hex[:8]
    with clients.closing(IoTHubConfigurationManager.from_token_credential(sandbox.hub_host,
                                                                          contributor_credential)) as manager:
        manager.create_configuration(Configuration(
            id=config_id, schema_version="1.0", priority=1000, target_condition="deviceId='thermostat-c-2'",
            content=ConfigurationContent(device_content={"properties.desired.targetTemperature": target})))
        try:
            assert_acknowledged(token_registry, "thermostat-c-2", target)
        finally:
            manager.delete_configuration(config_id)


def test_a_digital_twin_patch_is_acknowledged(sandbox: Connection, contributor_credential,
                                              token_registry: IoTHubRegistryManager) -> None:
    target = new_target()
    twins = DigitalTwinClient.from_token_credential(sandbox.hub_host, contributor_credential)
    twins.update_digital_twin("thermostat-a-1", [{"op": "add", "path": "/targetTemperature", "value": target}])
    assert_acknowledged(token_registry, "thermostat-a-1", target)
