"""The simulated thermostats: online, reporting, and acknowledging desired targetTemperature."""

from __future__ import annotations

import time

from azure.iot.hub.models import Twin, TwinProperties

from kit.sandbox.hub.simulator import BEHAVIOURS, Thermostat


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
