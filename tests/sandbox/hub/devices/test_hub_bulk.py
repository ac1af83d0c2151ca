"""Bulk registry operations through IoTHubRegistryManager.bulk_create_or_update_devices."""

from __future__ import annotations

import pytest
from azure.iot.hub.models import AuthenticationMechanism, ExportImportDevice, SymmetricKey
from msrest.exceptions import HttpOperationError

from tests.sandbox.hub.conftest import error_code


def test_bulk_create_update_twin_and_delete(registry, new_id):
    ids = [new_id("bulk") for _ in range(3)]
    created = registry.bulk_create_or_update_devices([
        ExportImportDevice(id=device_id, import_mode="create", status="enabled", tags={"batch": "one"},
                           authentication=AuthenticationMechanism(type="sas", symmetric_key=SymmetricKey()))
        for device_id in ids
    ])
    assert created.is_successful and created.errors == []
    twin = registry.get_twin(ids[0])
    assert twin.tags == {"batch": "one"} and registry.get_device(ids[0]).authentication.symmetric_key.primary_key

    changed = registry.bulk_create_or_update_devices([
        ExportImportDevice(id=ids[0], import_mode="update", status="disabled"),
        ExportImportDevice(id=ids[1], import_mode="updateTwin", tags={"batch": "two"}),
        ExportImportDevice(id=ids[2], import_mode="updateIfMatchETag", e_tag="bm9wZQ==", status="disabled"),
    ])
    assert not changed.is_successful
    assert [(e.device_id, e.error_code, e.operation) for e in changed.errors] == [
        (ids[2], "PreconditionFailed", "updateIfMatchETag")]
    assert registry.get_device(ids[0]).status == "disabled"
    assert registry.get_twin(ids[1]).tags == {"batch": "two"}

    deleted = registry.bulk_create_or_update_devices(
        [ExportImportDevice(id=device_id, import_mode="delete") for device_id in ids])
    assert deleted.is_successful
    for device_id in ids:
        with pytest.raises(HttpOperationError):
            registry.get_device(device_id)


def test_bulk_errors_per_device(sas_registry, new_id):
    existing = new_id("exists")
    sas_registry.create_device_with_sas(existing, None, None, "enabled")
    fresh = new_id("fresh")
    result = sas_registry.bulk_create_or_update_devices([
        ExportImportDevice(id=existing, import_mode="create"),
        ExportImportDevice(id=fresh, import_mode="create"),
        ExportImportDevice(id=new_id("ghost"), import_mode="update"),
        ExportImportDevice(id=new_id("ghost"), import_mode="deleteIfMatchETag", e_tag="MQ=="),
    ])
    assert not result.is_successful
    assert [e.error_code for e in result.errors] == ["DeviceAlreadyExists", "DeviceNotFound", "DeviceNotFound"]
    assert sas_registry.get_device(fresh).device_id == fresh  # not atomic: the good entry was applied
    sas_registry.bulk_create_or_update_devices([ExportImportDevice(id=d, import_mode="delete")
                                               for d in (existing, fresh)])


def test_bulk_limits(hub, new_id):
    too_many = hub.call("POST", "/devices", [{"id": new_id(), "importMode": "create"} for _ in range(101)])
    assert too_many.status_code == 413 and error_code(too_many) == "TooManyDevices"
    twice = hub.call("POST", "/devices", [{"id": "same", "importMode": "create"}] * 2)
    assert twice.status_code == 400 and error_code(twice) == "DeviceDefinedMultipleTimes"
    not_a_list = hub.call("POST", "/devices", {"id": "x"})
    assert not_a_list.status_code == 400 and error_code(not_a_list) == "IotHubFormatError"
