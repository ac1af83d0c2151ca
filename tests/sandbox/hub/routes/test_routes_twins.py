"""Device and module twins through the real SDK: merge, replace, etags, versions, metadata and limits."""

from __future__ import annotations

import base64

import pytest
from azure.iot.hub.models import Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from tests.sandbox.hub.conftest import enabled_device, error_code


@pytest.fixture
def device(registry, new_id):
    """Made through each way of building the registry manager (``registry`` is parametrized)."""
    yield from enabled_device(registry, new_id("twin"))


def _version_of(etag: str) -> int:
    return int.from_bytes(base64.b64decode(etag), "big")


def test_new_twin_shape(registry, device):
    twin = registry.get_twin(device)
    assert twin.etag == "AAAAAAAAAAE=" and twin.version == 1
    assert twin.device_etag == registry.get_device(device).etag
    desired = twin.properties.desired
    assert desired["$version"] == 1 and "$lastUpdated" in desired["$metadata"]
    assert twin.additional_properties["modelId"] == ""
    assert twin.status == "enabled" and twin.authentication_type == "sas"


def test_twin_json_on_the_wire(hub, device):
    """Twin root keys as the real hub sends them: ``statusUpdateTime`` (not the identity's ``statusUpdatedTime``), no
    ``generationId`` or ``connectionStateUpdatedTime``; ``$lastUpdatedVersion`` in desired metadata only."""
    twin = hub.call("GET", f"/twins/{device}", authorization="bearer").json()
    assert {"deviceId", "etag", "deviceEtag", "status", "statusReason", "statusUpdateTime", "connectionState",
            "lastActivityTime", "cloudToDeviceMessageCount", "authenticationType", "x509Thumbprint", "modelId",
            "version", "tags", "properties", "capabilities"} <= twin.keys()
    assert not {"generationId", "connectionStateUpdatedTime", "statusUpdatedTime", "moduleId"} & twin.keys()
    assert twin["statusUpdateTime"] == twin["lastActivityTime"] == "0001-01-01T00:00:00"
    assert twin["x509Thumbprint"] == {"primaryThumbprint": None, "secondaryThumbprint": None}
    assert twin["capabilities"] == {"iotEdge": False} and twin["authenticationType"] == "sas"
    desired, reported = twin["properties"]["desired"], twin["properties"]["reported"]
    assert desired["$metadata"]["$lastUpdatedVersion"] == desired["$version"] == 1
    assert desired["$metadata"]["$lastUpdated"].endswith("Z") and set(reported["$metadata"]) == {"$lastUpdated"}


def test_patch_merges_and_null_removes(registry, device):
    first = registry.update_twin(device, Twin(tags={"building": "b1", "room": {"n": 1, "m": 2}},
                                              properties=TwinProperties(desired={"mode": "eco", "fan": {"x": 1}})),
                                 "*")
    assert first.version == 2 and _version_of(first.etag) == 2
    assert first.properties.desired["$version"] == 2
    meta = first.properties.desired["$metadata"]
    assert meta["fan"]["x"]["$lastUpdatedVersion"] == 2 and meta["$lastUpdatedVersion"] == 2

    second = registry.update_twin(device, Twin(tags={"room": {"m": None}},
                                               properties=TwinProperties(desired={"mode": None, "fan": {"y": 2}})),
                                  first.etag)
    assert second.tags == {"building": "b1", "room": {"n": 1}}
    desired = {k: v for k, v in second.properties.desired.items() if not k.startswith("$")}
    assert desired == {"fan": {"x": 1, "y": 2}}
    assert "mode" not in second.properties.desired["$metadata"]
    assert second.properties.desired["$metadata"]["fan"]["x"]["$lastUpdatedVersion"] == 2
    assert second.properties.desired["$metadata"]["fan"]["y"]["$lastUpdatedVersion"] == 3

    with pytest.raises(HttpOperationError) as stale:
        registry.update_twin(device, Twin(tags={"a": 1}), first.etag)
    assert stale.value.response.status_code == 412


def test_replace_sends_back_fetched_twin(registry, device):
    registry.update_twin(device, Twin(tags={"old": 1}, properties=TwinProperties(desired={"old": 1})), "*")
    fetched = registry.get_twin(device)
    fetched.tags = {"new": 2}
    fetched.properties = TwinProperties(desired={"new": 2, "$version": 99}, reported={"ignored": True})
    replaced = registry.replace_twin(device, fetched)
    assert replaced.tags == {"new": 2}
    assert {k for k in replaced.properties.desired if not k.startswith("$")} == {"new"}
    assert "ignored" not in replaced.properties.reported
    assert replaced.device_id == device and replaced.version == fetched.version + 1


def test_module_twin(registry, device):
    registry.create_module_with_sas(device, "m1", None, None, None)
    twin = registry.get_module_twin(device, "m1")
    assert twin.module_id == "m1" and twin.version == 1
    patched = registry.update_module_twin(device, "m1", Twin(properties=TwinProperties(desired={"rate": 5})), "*")
    assert patched.properties.desired["rate"] == 5
    replaced = registry.replace_module_twin(device, "m1", Twin(tags={"t": 1}))
    assert replaced.tags == {"t": 1} and replaced.properties.desired["rate"] == 5
    assert registry.get_twin(device).version == 1  # the device twin is separate


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for level in range(depth - 1):
        value = {f"l{level}": value}
    return value


@pytest.mark.parametrize("body, fragment", [
    ({"tags": {"a.b": 1}}, "contains '.'"),
    ({"tags": {"$a": 1}}, "contains '$'"),
    ({"tags": {"a b": 1}}, "spaces"),
    ({"tags": {"a\u0007": 1}}, "control"),
    ({"tags": {"k" * 1025: 1}}, "1024 bytes"),
    ({"tags": _nested(11)}, "deeper than 10"),
    ({"tags": {"big": "x" * 4000, "big2": "y" * 4000, "big3": "z" * 500}}, "8 KB"),
    ({"properties": {"desired": {"s": "x" * 4097}}}, "4096 bytes"),
    ({"properties": {"desired": {f"k{i}": "x" * 4000 for i in range(9)}}}, "32 KB"),
    ({"tags": ["not", "an", "object"]}, "must be a JSON object"),
])
def test_limits(hub, new_id, body, fragment):
    device_id = new_id("limits")
    hub.call("PUT", f"/devices/{device_id}", {})
    response = hub.call("PATCH", f"/twins/{device_id}", body, {"If-Match": "*"})
    assert response.status_code == 400 and error_code(response) == "ArgumentInvalid"
    assert fragment in response.json()["Message"]
    assert hub.call("GET", f"/twins/{device_id}").json()["version"] == 1  # nothing stored
    hub.call("DELETE", f"/devices/{device_id}", headers={"If-Match": "*"})


def test_depth_ten_is_accepted(hub, new_id):
    device_id = new_id("deep")
    hub.call("PUT", f"/devices/{device_id}", {})
    assert hub.call("PATCH", f"/twins/{device_id}", {"tags": _nested(10)}).status_code == 200
    hub.call("DELETE", f"/devices/{device_id}", headers={"If-Match": "*"})


def test_twin_of_missing_device(hub, new_id):
    for method in ("GET", "PATCH", "PUT"):
        response = hub.call(method, f"/twins/{new_id('ghost')}", None if method == "GET" else {"tags": {}})
        assert response.status_code == 404 and error_code(response) == "DeviceNotFound"


def test_identity_changes_reach_the_twin(registry, device):
    before = registry.get_twin(device)
    updated = registry.update_device_with_sas(device, "*", None, None, "disabled")
    twin = registry.get_twin(device)
    assert twin.status == "disabled" and twin.device_etag == updated.etag and twin.etag == before.etag
