"""Registry and service statistics through the SDK."""

from __future__ import annotations


def test_registry_statistics_follow_the_registry(registry, new_id):
    before = registry.get_device_registry_statistics()
    device_id = new_id("stats")
    registry.create_device_with_sas(device_id, None, None, "disabled")
    after = registry.get_device_registry_statistics()
    registry.delete_device(device_id)
    assert after.total_device_count - before.total_device_count == 1
    assert after.disabled_device_count - before.disabled_device_count == 1
    assert after.enabled_device_count + after.disabled_device_count == after.total_device_count


def test_service_statistics_count_simulated_devices(registry):
    assert registry.get_service_statistics().connected_device_count >= 6
