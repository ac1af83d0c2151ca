"""Configurations (automatic device management) through IoTHubConfigurationManager
(kit/sandbox/hub/devices/configurations.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.iot.hub import IoTHubConfigurationManager, IoTHubRegistryManager
from azure.iot.hub.models import (
    Configuration,
    ConfigurationContent,
    ConfigurationMetrics,
    ConfigurationQueriesTestInput,
)
from msrest.exceptions import HttpOperationError

from kit.sandbox.connection import Connection
from kit.sandbox.hub.jobs import store as job_store

BUILDING_B_THERMOSTATS = "tags.building = 'building-b' AND tags.deviceType = 'thermostat'"


@pytest.fixture(scope="module")
def configurations(sandbox: Connection, contributor_credential) -> IoTHubConfigurationManager:
    return IoTHubConfigurationManager.from_token_credential(sandbox.hub_host, contributor_credential)


@pytest.fixture
def made(configurations: IoTHubConfigurationManager) -> Iterator[list[str]]:
    """Ids of configurations a test created; deleted afterwards."""
    ids: list[str] = []
    yield ids
    for config_id in ids:
        try:
            configurations.delete_configuration(config_id)
        except HttpOperationError:
            pass


def configuration(made: list[str], priority: int, desired: dict, condition: str = BUILDING_B_THERMOSTATS,
                  metrics: dict | None = None) -> Configuration:
    config_id = "cfg-" + uuid.uuid4().hex[:8]
    made.append(config_id)
    return Configuration(
        id=config_id, schema_version="1.0", labels={"team": "ops"}, priority=priority, target_condition=condition,
        content=ConfigurationContent(device_content={f"properties.desired.{k}": v for k, v in desired.items()}),
        metrics=ConfigurationMetrics(queries=metrics or {}),
    )


def hub_error(error: pytest.ExceptionInfo) -> tuple[int, str]:
    return error.value.response.status_code, error.value.response.headers.get("iothub-errorcode", "")


def test_create_applies_content_and_counts_metrics(configurations: IoTHubConfigurationManager,
                                                   token_registry: IoTHubRegistryManager, made: list[str]) -> None:
    marker = uuid.uuid4().hex[:6]
    config = configuration(made, 10, {"fanSettings": {"mode": marker}}, metrics={
        "modeSet": f"SELECT deviceId FROM devices WHERE properties.desired.fanSettings.mode = '{marker}'"})
    created = configurations.create_configuration(config)
    assert created.etag and created.created_time_utc
    assert created.system_metrics.results == {"targetedCount": 2, "appliedCount": 2}
    assert "building-b" in created.system_metrics.queries["targetedCount"]
    assert created.metrics.results == {"modeSet": 2}
    assert token_registry.get_twin("thermostat-b-2").properties.desired["fanSettings"] == {"mode": marker}
    assert "fanSettings" not in token_registry.get_twin("thermostat-a-2").properties.desired
    fetched = configurations.get_configuration(config.id)
    assert (fetched.labels, fetched.priority, fetched.etag) == ({"team": "ops"}, 10, created.etag)
    assert config.id in [c.id for c in configurations.get_configurations(100)]
    assert len(configurations.get_configurations(1)) == 1


def test_configuration_json_on_the_wire(hub, made: list[str]) -> None:
    config = configuration(made, 3, {"wire": 1})
    reply = hub.call("PUT", f"/configurations/{config.id}", config.serialize(), authorization="bearer")
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert {"id", "schemaVersion", "labels", "content", "targetCondition", "createdTimeUtc", "lastUpdatedTimeUtc",
            "priority", "systemMetrics", "metrics", "etag"} <= body.keys()
    assert set(body["systemMetrics"]) == set(body["metrics"]) == {"results", "queries"}
    assert body["createdTimeUtc"].endswith("Z") and body["content"]["deviceContent"] == {"properties.desired.wire": 1}


def test_highest_priority_wins(configurations: IoTHubConfigurationManager, token_registry: IoTHubRegistryManager,
                               made: list[str]) -> None:
    low = configurations.create_configuration(configuration(made, 1, {"firmware": "low"}))
    high = configurations.create_configuration(configuration(made, 50, {"firmware": "high"}))
    assert token_registry.get_twin("thermostat-b-1").properties.desired["firmware"] == "high"
    assert configurations.get_configuration(low.id).system_metrics.results["appliedCount"] == 0
    assert configurations.get_configuration(high.id).system_metrics.results["appliedCount"] == 2


def test_update_with_etag_and_immutable_fields(configurations: IoTHubConfigurationManager, made: list[str]) -> None:
    created = configurations.create_configuration(configuration(made, 5, {"x": 1}))
    created.priority = 7
    created.labels = {"team": "field"}
    updated = configurations.update_configuration(created, created.etag)  # bare etag, as the SDK sends it
    assert (updated.priority, updated.labels) == (7, {"team": "field"}) and updated.etag != created.etag
    with pytest.raises(HttpOperationError) as stale:
        configurations.update_configuration(updated, f'"{created.etag}"')
    assert hub_error(stale) == (412, "PreconditionFailed")
    updated.content = ConfigurationContent(device_content={"properties.desired.x": 2})
    with pytest.raises(HttpOperationError) as immutable:
        configurations.update_configuration(updated, updated.etag)
    assert hub_error(immutable)[0] == 400 and "cannot be updated" in immutable.value.response.text
    with pytest.raises(HttpOperationError) as exists:
        configurations.create_configuration(updated)
    assert hub_error(exists) == (409, "ConfigurationAlreadyExists")


def test_delete_and_not_found(configurations: IoTHubConfigurationManager, made: list[str]) -> None:
    created = configurations.create_configuration(configuration(made, 0, {"y": 1}))
    configurations.delete_configuration(created.id)
    with pytest.raises(HttpOperationError) as gone:
        configurations.get_configuration(created.id)
    assert hub_error(gone) == (404, "ConfigurationNotFound")


def test_invalid_target_condition_is_refused(configurations: IoTHubConfigurationManager, made: list[str]) -> None:
    with pytest.raises(HttpOperationError) as error:
        configurations.create_configuration(configuration(made, 0, {"z": 1}, condition="tags.building = "))
    assert hub_error(error) == (400, "ArgumentInvalid") and "targetCondition" in error.value.response.text


def test_test_configuration_queries(configurations: IoTHubConfigurationManager) -> None:
    good = configurations.test_configuration_queries(ConfigurationQueriesTestInput(
        target_condition="tags.building = 'building-a'",
        custom_metric_queries={"ok": "SELECT deviceId FROM devices WHERE tags.floor = 1"}))
    assert (good.target_condition_error, good.custom_metric_query_errors) == ("", {})
    bad = configurations.test_configuration_queries(ConfigurationQueriesTestInput(
        target_condition="tags.building = ", custom_metric_queries={"broken": "SELECT FROM devices"}))
    assert bad.target_condition_error.startswith("targetCondition:")
    assert set(bad.custom_metric_query_errors) == {"broken"}


def test_apply_configuration_on_edge_device(configurations: IoTHubConfigurationManager,
                                            token_registry: IoTHubRegistryManager) -> None:
    edge_id, plain_id = "edge-" + uuid.uuid4().hex[:6], "plain-" + uuid.uuid4().hex[:6]
    token_registry.create_device_with_sas(edge_id, None, None, "enabled", iot_edge=True)
    token_registry.create_device_with_sas(plain_id, None, None, "enabled")
    content = ConfigurationContent(modules_content={
        "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1", "modules": {}}},
        "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {}}},
    })
    try:
        assert configurations.apply_configuration_on_edge_device(edge_id, content) is None  # 204
        agent = token_registry.get_module_twin(edge_id, "$edgeAgent")
        assert agent.properties.desired["schemaVersion"] == "1.1"
        with pytest.raises(HttpOperationError) as not_edge:
            configurations.apply_configuration_on_edge_device(plain_id, content)
        assert hub_error(not_edge) == (400, "ArgumentInvalid")
    finally:
        token_registry.delete_device(edge_id)
        token_registry.delete_device(plain_id)


def test_rbac_configurations(sandbox: Connection, role_credential, made: list[str]) -> None:
    reader = IoTHubConfigurationManager.from_token_credential(sandbox.hub_host, role_credential("IoT Hub Data Reader"))
    assert isinstance(reader.get_configurations(10), list)
    with pytest.raises(HttpOperationError) as denied:
        reader.create_configuration(configuration(made, 0, {"r": 1}))
    assert hub_error(denied) == (401, "IotHubUnauthorized")
    with pytest.raises(HttpOperationError) as no_test:
        reader.test_configuration_queries(ConfigurationQueriesTestInput(target_condition="tags.a = 1"))
    assert hub_error(no_test) == (401, "IotHubUnauthorized")


def test_a_free_hub_holds_at_most_10_configurations(configurations: IoTHubConfigurationManager, state_db,
                                                     made: list[str]) -> None:
    """quotas-throttling "Other limits": 10 configurations on a free hub, 100 on basic and standard hubs."""
    existing = len(configurations.get_configurations(1000))
    job_store.set_tier(state_db, "F1")
    try:
        for _ in range(10 - existing):
            configurations.create_configuration(configuration(made, 0, {"free": 1}))
        with pytest.raises(HttpOperationError) as full:
            configurations.create_configuration(configuration(made, 0, {"free": 1}))
        assert hub_error(full) == (413, "ConfigurationCountLimitExceeded") and "F1 hub" in full.value.response.text
        job_store.set_tier(state_db, "S1")
        configurations.create_configuration(configuration(made, 0, {"free": 1}))  # S1: up to 100
    finally:
        job_store.set_tier(state_db, "S1")
