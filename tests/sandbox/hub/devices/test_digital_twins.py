"""IoT Plug and Play digital twins through DigitalTwinClient (kit/sandbox/hub/devices/digital_twins.py), with a
thermostat of the seeded fleet and a simulated temperature controller (two thermostat components)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.iot.hub import DigitalTwinClient, IoTHubRegistryManager
from msrest.exceptions import HttpOperationError

from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub.devices import temperature_controller
from kit.sandbox.hub.devices.registry import Registry

THERMOSTAT = "thermostat-c-1"


@pytest.fixture(scope="module")
def twins(sandbox: Connection, contributor_credential) -> DigitalTwinClient:
    return DigitalTwinClient.from_token_credential(sandbox.hub_host, contributor_credential)


@pytest.fixture(scope="module")
def controller(sandbox: Connection, token_registry: IoTHubRegistryManager) -> Iterator[str]:
    """A simulated temperature controller registered for this module (admin function, as the CLI does)."""
    device_id = "tc-" + uuid.uuid4().hex[:6]
    db = Database.in_state_dir(Path(sandbox.state_dir))
    try:
        temperature_controller.add(Registry(db), device_id)
    finally:
        db.close()
    yield device_id
    token_registry.delete_device(device_id)


def hub_error(error: pytest.ExceptionInfo) -> tuple[int, str]:
    return error.value.response.status_code, error.value.response.headers.get("iothub-errorcode", "")


def eventually(check, seconds: float = 3.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_thermostat_digital_twin_shape(twins: DigitalTwinClient) -> None:
    twin = twins.get_digital_twin(THERMOSTAT)
    assert twin["$dtId"] == THERMOSTAT
    assert twin["$metadata"]["$model"] == "dtmi:com:example:Thermostat;1"
    assert isinstance(twin["temperature"], float)
    assert twin["$metadata"]["temperature"]["lastUpdateTime"].endswith("Z")


def test_patch_is_acknowledged_by_the_device(twins: DigitalTwinClient) -> None:
    target = 30 + uuid.uuid4().int % 10
    assert twins.update_digital_twin(THERMOSTAT, [{"op": "add", "path": "/targetTemperature", "value": target}]) \
        is None  # 202

    def acknowledged():
        twin = twins.get_digital_twin(THERMOSTAT)
        meta = twin["$metadata"]["targetTemperature"]
        return twin if meta.get("ackVersion") == meta["desiredVersion"] else None

    twin = eventually(acknowledged)
    assert twin["targetTemperature"] == target
    meta = twin["$metadata"]["targetTemperature"]
    assert (meta["desiredValue"], meta["ackCode"], meta["ackDescription"]) == (target, 200,
                                                                                "Target temperature accepted")


def test_patch_returns_etag_and_location_and_checks_if_match(twins: DigitalTwinClient) -> None:
    raw = twins.protocol.digital_twin.get_digital_twin(THERMOSTAT, raw=True)
    etag = raw.headers["ETag"]
    update = twins.protocol.digital_twin.update_digital_twin(
        THERMOSTAT, [{"op": "add", "path": "/fanSpeed", "value": 2}], etag, raw=True)
    assert update.headers["ETag"] != etag and update.headers["Location"].endswith(f"/digitaltwins/{THERMOSTAT}")
    with pytest.raises(HttpOperationError) as stale:
        twins.update_digital_twin(THERMOSTAT, [{"op": "replace", "path": "/fanSpeed", "value": 3}], etag)
    assert hub_error(stale) == (412, "PreconditionFailed")
    twins.update_digital_twin(THERMOSTAT, [{"op": "remove", "path": "/fanSpeed"}])
    assert "fanSpeed" not in twins.get_digital_twin(THERMOSTAT)["$metadata"]


@pytest.mark.parametrize("patch", [
    [{"op": "move", "path": "/a", "from": "/b"}],
    [{"op": "add", "path": "targetTemperature", "value": 1}],
    [{"op": "replace", "path": "/noSuchProperty", "value": 1}],
    [{"op": "add", "path": "/x"}],
    [],
])
def test_invalid_patches_are_refused(twins: DigitalTwinClient, patch: list) -> None:
    with pytest.raises(HttpOperationError) as error:
        twins.update_digital_twin(THERMOSTAT, patch)
    assert hub_error(error) == (400, "ArgumentInvalid")


def test_components_and_component_patch(twins: DigitalTwinClient, controller: str) -> None:
    twin = twins.get_digital_twin(controller)
    assert twin["$metadata"]["$model"] == "dtmi:com:example:TemperatureController;2"
    assert twin["serialNumber"] == "SN-TC-0001"
    assert {"thermostat1", "thermostat2"} <= set(twin) and "__t" not in twin["thermostat1"]
    assert "$metadata" in twin["thermostat1"] and "temperature" in twin["thermostat1"]
    twins.update_digital_twin(controller, [{"op": "add", "path": "/thermostat1/targetTemperature", "value": 25}])
    acked = eventually(lambda: twins.get_digital_twin(controller)["thermostat1"].get("targetTemperature") == 25)
    assert acked
    assert "targetTemperature" not in twins.get_digital_twin(controller)["thermostat2"]


def test_root_and_component_commands(twins: DigitalTwinClient, controller: str) -> None:
    reboot = twins.protocol.digital_twin.invoke_root_level_command(controller, "reboot", {"delay": 5}, raw=True)
    assert reboot.output == {"rebooting": True, "delay": 5}
    assert reboot.headers["x-ms-command-statuscode"] == 200 and reboot.headers["x-ms-request-id"]
    report = twins.invoke_component_command(controller, "thermostat2", "getMaxMinReport", "2026-01-01T00:00:00Z",
                                            response_timeout_in_seconds=5)
    assert set(report) == {"maxTemp", "minTemp", "avgTemp"}
    assert twins.invoke_command(THERMOSTAT, "getMaxMinReport", {})["maxTemp"] == 30.0


def test_command_errors(twins: DigitalTwinClient, controller: str) -> None:
    with pytest.raises(HttpOperationError) as offline:
        twins.invoke_command("light-a-1", "reboot", {})
    assert hub_error(offline) == (404, "DeviceNotOnline")
    with pytest.raises(HttpOperationError) as bad_timeout:
        twins.invoke_command(controller, "reboot", {}, response_timeout_in_seconds=1)
    assert hub_error(bad_timeout) == (400, "ArgumentInvalid")
    unknown = twins.protocol.digital_twin.invoke_component_command(controller, "thermostat9", "getMaxMinReport",
                                                                   {}, raw=True)
    assert unknown.headers["x-ms-command-statuscode"] == 501


def test_rbac_digital_twins(sandbox: Connection, role_credential) -> None:
    reader = DigitalTwinClient.from_token_credential(sandbox.hub_host, role_credential("IoT Hub Data Reader"))
    assert reader.get_digital_twin(THERMOSTAT)["$dtId"] == THERMOSTAT
    with pytest.raises(HttpOperationError) as no_write:
        reader.update_digital_twin(THERMOSTAT, [{"op": "add", "path": "/x", "value": 1}])
    assert hub_error(no_write) == (401, "IotHubUnauthorized")
    twin_writer = DigitalTwinClient.from_token_credential(sandbox.hub_host,
                                                          role_credential("IoT Hub Twin Contributor"))
    with pytest.raises(HttpOperationError) as no_invoke:
        twin_writer.invoke_command(THERMOSTAT, "getMaxMinReport", {})
    assert hub_error(no_invoke) == (401, "IotHubUnauthorized")
