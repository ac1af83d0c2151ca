"""Persistence of the registry (kit/sandbox/hub/devices/registry.py): a restarted sandbox keeps devices, twins and
roles."""

from __future__ import annotations

from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import Twin

from kit import clients
from kit.sandbox import process, rbac
from kit.sandbox.db import Database


def test_restart_keeps_devices_twins_and_role_assignments(tmp_path, monkeypatch):
    first = process.start(tmp_path)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", first.ca_bundle)
        with clients.closing(IoTHubRegistryManager.from_connection_string(first.hub_connection_string)) as rm:
            rm.create_device_with_sas("kept", None, None, "enabled")
            rm.update_twin("kept", Twin(tags={"kept": True}), "*")
        process.stop(tmp_path)
        db = Database.in_state_dir(tmp_path)
        rbac.assign(db, "object-kept", "IoT Hub Data Reader")
        db.close()
        second = process.start(tmp_path)
        key = first.hub_connection_string.split("SharedAccessKey=")[1]
        assert second.hub_connection_string.endswith("SharedAccessKey=" + key)  # policy keys are stored
        with clients.closing(IoTHubRegistryManager.from_connection_string(second.hub_connection_string)) as rm:
            assert rm.get_twin("kept").tags == {"kept": True}
            assert rm.get_device_registry_statistics().total_device_count == 13  # 12 seeded + 1, not reseeded
        db = Database.in_state_dir(tmp_path)
        assert [role.name for role in rbac.roles_of(db, "object-kept")] == ["IoT Hub Data Reader"]
        db.close()
    finally:
        process.stop(tmp_path)
