"""Devices and modules through the real IoTHubRegistryManager (token credential and connection string)."""

from __future__ import annotations

import base64

import pytest
from msrest.exceptions import HttpOperationError

from tests.sandbox.hub.conftest import error_code


def _status(call) -> tuple[int, str]:
    with pytest.raises(HttpOperationError) as caught:
        call()
    response = caught.value.response
    return response.status_code, response.headers.get("iothub-errorcode")


def test_create_get_update_delete_sas_device(registry, new_id):
    device_id = new_id("sas")
    created = registry.create_device_with_sas(device_id, None, None, "enabled")
    keys = created.authentication.symmetric_key
    assert len(base64.b64decode(keys.primary_key)) == 32 and keys.primary_key != keys.secondary_key
    assert base64.b64decode(created.etag).decode().isdigit()
    assert len(created.generation_id) == 18 and created.connection_state == "Disconnected"

    fetched = registry.get_device(device_id)
    assert fetched.etag == created.etag and fetched.authentication.type == "sas"

    updated = registry.update_device_with_sas(device_id, created.etag, keys.primary_key, keys.secondary_key,
                                              "disabled")
    assert updated.status == "disabled" and updated.etag != created.etag
    assert updated.generation_id == created.generation_id

    assert _status(lambda: registry.update_device_with_sas(device_id, created.etag, None, None, "enabled")) == (
        412, "PreconditionFailed")
    assert _status(lambda: registry.create_device_with_sas(device_id, None, None, "enabled")) == (
        409, "DeviceAlreadyExists")
    registry.delete_device(device_id)
    assert _status(lambda: registry.get_device(device_id)) == (404, "DeviceNotFound")
    assert _status(lambda: registry.delete_device(device_id)) == (404, "DeviceNotFound")


def test_given_keys_are_kept_and_bad_keys_refused(registry, new_id):
    key = base64.b64encode(b"k" * 32).decode()
    device = registry.create_device_with_sas(new_id("keys"), key, key, "enabled")
    assert device.authentication.symmetric_key.primary_key == key
    assert _status(lambda: registry.create_device_with_sas(new_id("bad"), "not-base64!", None, "enabled")) == (
        400, "ArgumentInvalid")
    registry.delete_device(device.device_id)


def test_x509_and_ca_and_edge_devices(registry, new_id):
    self_signed = registry.create_device_with_x509(new_id("x509"), "a" * 40, "b" * 64, "enabled")
    assert self_signed.authentication.type == "selfSigned"
    assert self_signed.authentication.x509_thumbprint.primary_thumbprint == "A" * 40
    assert self_signed.authentication.symmetric_key.primary_key is None

    ca = registry.create_device_with_certificate_authority(new_id("ca"), "enabled")
    assert ca.authentication.type == "certificateAuthority"

    edge_id = new_id("edge")
    edge = registry.create_device_with_sas(edge_id, None, None, "enabled", iot_edge=True)
    assert edge.capabilities.iot_edge is True
    assert edge.device_scope == f"ms-azure-iot-edge://{edge_id}-{edge.generation_id}"

    child = registry.create_device_with_sas(new_id("child"), None, None, "enabled", device_scope=edge.device_scope)
    assert child.device_scope == edge.device_scope
    assert _status(lambda: registry.create_device_with_x509(new_id("bad"), "xyz", None, "enabled")) == (
        400, "ArgumentInvalid")
    for device in (self_signed, ca, edge, child):
        registry.delete_device(device.device_id)


def test_list_devices(registry):
    devices = registry.get_devices(5)
    assert 1 <= len(devices) <= 5 and all(d.device_id for d in devices)


def test_modules(registry, new_id):
    device_id, module_id = new_id("mods"), "sensor"
    registry.create_device_with_sas(device_id, None, None, "enabled")
    module = registry.create_module_with_sas(device_id, module_id, "owner", None, None)
    assert module.module_id == module_id and module.managed_by == "owner"
    assert module.authentication.symmetric_key.primary_key
    assert _status(lambda: registry.create_module_with_sas(device_id, module_id, None, None, None)) == (
        409, "ModuleAlreadyExistsOnDevice")

    updated = registry.update_module_with_x509(device_id, module_id, None, module.etag, "c" * 40, "d" * 40)
    assert updated.authentication.type == "selfSigned" and updated.etag != module.etag
    assert [m.module_id for m in registry.get_modules(device_id)] == [module_id]
    assert registry.get_module(device_id, module_id).etag == updated.etag
    assert _status(lambda: registry.delete_module(device_id, module_id, module.etag)) == (412, "PreconditionFailed")

    registry.delete_module(device_id, module_id)
    assert _status(lambda: registry.get_module(device_id, module_id)) == (404, "ModuleNotFound")
    assert _status(lambda: registry.get_module(new_id("none"), module_id)) == (404, "DeviceNotFound")
    registry.delete_device(device_id)


def test_deleting_a_device_deletes_its_modules(sas_registry, new_id):
    device_id = new_id("cascade")
    sas_registry.create_device_with_sas(device_id, None, None, "enabled")
    sas_registry.create_module_with_sas(device_id, "m1", None, None, None)
    sas_registry.delete_device(device_id)
    sas_registry.create_device_with_sas(device_id, None, None, "enabled")
    assert sas_registry.get_modules(device_id) == []
    sas_registry.delete_device(device_id)


def test_exact_success_codes_and_if_match_forms(hub, new_id):
    device_id = new_id("codes")
    created = hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id})
    assert created.status_code == 200
    etag = created.json()["etag"]
    for shape in ('"{}"', "{}", 'W/"{}"', "*", '"*"'):
        form = shape.format(etag)
        response = hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id}, {"If-Match": form})
        assert response.status_code == 200, form
        etag = response.json()["etag"]
    stale = hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id}, {"If-Match": '"MQ=="'})
    assert stale.status_code == 412 and error_code(stale) == "PreconditionFailed"
    assert stale.json()["Message"].startswith("ErrorCode:PreconditionFailed;")

    module = hub.call("PUT", f"/devices/{device_id}/modules/m", {"moduleId": "m"})
    assert module.status_code == 201
    assert hub.call("PUT", f"/devices/{device_id}/modules/m", {"moduleId": "m"}, {"If-Match": "*"}).status_code == 200
    assert hub.call("DELETE", f"/devices/{device_id}/modules/m", headers={"If-Match": "*"}).status_code == 204
    missing = hub.call("PUT", f"/devices/{new_id('ghost')}", {}, {"If-Match": '"*"'})
    assert missing.status_code == 404 and error_code(missing) == "DeviceNotFound"
    assert hub.call("DELETE", f"/devices/{device_id}", headers={"If-Match": '"*"'}).status_code == 204


def test_device_and_module_json_on_the_wire(hub, new_id):
    device_id = new_id("wire")
    device = hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id}, authorization="bearer").json()
    assert list(device) == ["deviceId", "generationId", "etag", "connectionState", "status", "statusReason",
                            "connectionStateUpdatedTime", "statusUpdatedTime", "lastActivityTime",
                            "cloudToDeviceMessageCount", "authentication", "capabilities", "deviceScope",
                            "parentScopes"]
    assert base64.b64decode(device["etag"]).decode().isdigit()
    assert len(device["generationId"]) == 18 and device["generationId"].isdigit()
    for never_set in ("connectionStateUpdatedTime", "statusUpdatedTime", "lastActivityTime"):
        assert device[never_set] == "0001-01-01T00:00:00"
    assert (device["status"], device["connectionState"], device["statusReason"]) == ("enabled", "Disconnected", None)
    assert device["authentication"]["type"] == "sas" and device["parentScopes"] == []

    module = hub.call("PUT", f"/devices/{device_id}/modules/m", {"moduleId": "m"}, authorization="bearer").json()
    assert set(module) == {"moduleId", "managedBy", "deviceId", "generationId", "etag", "connectionState",
                           "connectionStateUpdatedTime", "lastActivityTime", "cloudToDeviceMessageCount",
                           "authentication"}  # no status: modules cannot be disabled
    assert base64.b64decode(module["etag"]).decode().isdigit() and len(module["generationId"]) == 18
    assert hub.call("DELETE", f"/devices/{device_id}", headers={"If-Match": "*"}).status_code == 204


def test_bad_bodies_and_ids(hub, new_id):
    bad_json = hub.call("PUT", f"/devices/{new_id()}", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and error_code(bad_json) == "ArgumentNull"
    response = hub.session.put(
        f"https://{hub.conn.hub_host}/devices/{new_id()}", params={"api-version": "2021-04-12"}, data="{nope",
        headers={"Authorization": hub.sas(), "Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "IotHubFormatError"
    wrong = hub.call("PUT", "/devices/a", {"deviceId": "b"})
    assert wrong.status_code == 400 and "differs" in wrong.json()["Message"]
    too_long = hub.call("PUT", "/devices/" + "x" * 129, {})
    assert too_long.status_code == 400 and error_code(too_long) == "ArgumentInvalid"
    bad_status = hub.call("PUT", f"/devices/{new_id()}", {"status": "paused"})
    assert bad_status.status_code == 400 and "status" in bad_status.json()["Message"]
