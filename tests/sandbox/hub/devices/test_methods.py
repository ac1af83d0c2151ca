"""Direct methods through IoTHubRegistryManager against the sandbox's simulated devices
(kit/sandbox/hub/devices/methods.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod
from msrest.exceptions import HttpOperationError

from kit import clients
from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub.devices.registry import Registry

ONLINE = "thermostat-b-1"   # a simulated thermostat (online)
OFFLINE = "humidity-a-1"    # a seeded device without a simulator: never online


def call(name: str, payload=None, response_timeout: int | None = None, connect_timeout: int | None = None):
    return CloudToDeviceMethod(method_name=name, payload=payload, response_timeout_in_seconds=response_timeout,
                               connect_timeout_in_seconds=connect_timeout)


def hub_error(error: pytest.ExceptionInfo) -> tuple[int, str]:
    response = error.value.response
    return response.status_code, response.headers.get("iothub-errorcode", "")


def test_thermostat_answers_with_status_and_payload(registry: IoTHubRegistryManager) -> None:
    result = registry.invoke_device_method(ONLINE, call("getMaxMinReport", {"since": "2026-01-01T00:00:00Z"}))
    assert result.status == 200
    assert set(result.payload) == {"maxTemp", "minTemp", "avgTemp"}
    reboot = registry.invoke_device_method(ONLINE, call("reboot", {"delay": 3}))
    assert reboot.payload == {"rebooting": True, "delay": 3}


def test_unknown_method_is_answered_by_the_device_with_501(token_registry: IoTHubRegistryManager) -> None:
    result = token_registry.invoke_device_method(ONLINE, call("selfDestruct"))
    assert result.status == 501
    assert "selfDestruct" in result.payload["message"]


def test_module_method_is_answered(token_registry: IoTHubRegistryManager, new_id) -> None:
    module_id = new_id("mod")
    token_registry.create_module_with_sas(ONLINE, module_id, None, None, None)
    try:
        result = token_registry.invoke_device_module_method(ONLINE, module_id, call("getMaxMinReport"))
        assert result.status == 200 and "maxTemp" in result.payload
        with pytest.raises(HttpOperationError) as missing:
            token_registry.invoke_device_module_method(ONLINE, "no-such-module", call("getMaxMinReport"))
        assert hub_error(missing) == (404, "ModuleNotFound")
    finally:
        token_registry.delete_module(ONLINE, module_id)


@pytest.mark.parametrize("device_id, code", [(OFFLINE, "DeviceNotOnline"), ("no-such-device", "DeviceNotFound")])
def test_unreachable_devices(token_registry: IoTHubRegistryManager, device_id: str, code: str) -> None:
    with pytest.raises(HttpOperationError) as error:
        token_registry.invoke_device_method(device_id, call("reboot"))
    assert hub_error(error) == (404, code)


def test_disabled_device_is_not_found(token_registry: IoTHubRegistryManager, new_id) -> None:
    device_id = new_id("off")
    token_registry.create_device_with_sas(device_id, None, None, "disabled")
    try:
        with pytest.raises(HttpOperationError) as error:
            token_registry.invoke_device_method(device_id, call("reboot"))
        assert hub_error(error) == (404, "DeviceNotFound")
        assert "disabled" in error.value.response.text
    finally:
        token_registry.delete_device(device_id)


def test_slow_device_times_out_with_504(token_registry: IoTHubRegistryManager) -> None:
    with pytest.raises(HttpOperationError) as error:
        token_registry.invoke_device_method(ONLINE, call("slow", {"seconds": 30}, response_timeout=5))
    assert hub_error(error) == (504, "GatewayTimeout")
    quick = token_registry.invoke_device_method(ONLINE, call("slow", {"seconds": 0.2}, response_timeout=5))
    assert quick.status == 200 and quick.payload == {"answeredAfterSeconds": 0.2}


@pytest.mark.parametrize("field, value", [("response_timeout", 4), ("response_timeout", 301), ("connect_timeout", 301)])
def test_timeouts_out_of_range_are_refused(token_registry: IoTHubRegistryManager, field: str, value: int) -> None:
    with pytest.raises(HttpOperationError) as error:
        token_registry.invoke_device_method(ONLINE, call("reboot", **{field: value}))
    assert hub_error(error) == (400, "ArgumentInvalid")
    assert "between" in error.value.response.text


def test_payload_over_128_kb_is_refused(token_registry: IoTHubRegistryManager) -> None:
    with pytest.raises(HttpOperationError) as error:
        token_registry.invoke_device_method(ONLINE, call("reboot", {"blob": "x" * (129 * 1024)}))
    assert hub_error(error)[0] == 413


def test_device_coming_online_within_connect_timeout_is_reached(sandbox: Connection,
                                                                token_registry: IoTHubRegistryManager) -> None:
    device_id = "thermostat-c-2"
    db = Database.in_state_dir(Path(sandbox.state_dir))
    registry = Registry(db)
    try:
        registry.set_connection(device_id, False)
        with pytest.raises(HttpOperationError) as offline:
            token_registry.invoke_device_method(device_id, call("reboot"))
        assert hub_error(offline) == (404, "DeviceNotOnline")
        timer = threading.Timer(1.0, registry.set_connection, (device_id, True))
        timer.start()
        result = token_registry.invoke_device_method(device_id, call("reboot", connect_timeout=5))
        timer.join()
        assert result.status == 200
    finally:
        registry.set_connection(device_id, True)
        db.close()


def test_rbac_direct_methods_need_the_invoke_action(sandbox: Connection, role_credential) -> None:
    for role, allowed in (("IoT Hub Data Contributor", True), ("IoT Hub Data Reader", False),
                          ("IoT Hub Twin Contributor", False)):
        credential = role_credential(role)
        with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as rm:
            if allowed:
                assert rm.invoke_device_method(ONLINE, call("getMaxMinReport")).status == 200
            else:
                with pytest.raises(HttpOperationError) as error:
                    rm.invoke_device_method(ONLINE, call("getMaxMinReport"))
                assert hub_error(error) == (401, "IotHubUnauthorized")
