"""ARM's Microsoft.Devices/IotHubs subset (kit/sandbox/arm/iothub.py) through azure-mgmt-iothub 4.0: the hub
resource, disableLocalAuth and the SKU driving the hub side, and listkeys for Owner and Contributor only."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.iot.hub import IoTHubRegistryManager

from kit import clients
from tests.sandbox.arm.conftest import iothub_client, role_definition_id
from tests.sandbox.graph.conftest import app_credential


def sandbox_command(sandbox, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "kit.sandbox", *args, "--state-dir", sandbox.state_dir],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_get_shows_the_hub_without_its_keys(sandbox, hubs):
    hub = hubs.iot_hub_resource.get(sandbox.resource_group, sandbox.hub_name)
    assert hub.id == sandbox.hub_resource_id and hub.type == "Microsoft.Devices/IotHubs"
    assert hub.properties.host_name == sandbox.hub_host and hub.properties.provisioning_state == "Succeeded"
    assert hub.properties.authorization_policies is None and hub.etag
    assert (hub.sku.name, hub.sku.tier, hub.sku.capacity) == ("S1", "Standard", 1)
    with pytest.raises(ResourceNotFoundError) as missing:
        hubs.iot_hub_resource.get(sandbox.resource_group, "no-such-hub")
    assert missing.value.error.code == "ResourceNotFound" and "no-such-hub" in missing.value.error.message
    with pytest.raises(ResourceNotFoundError) as group:
        hubs.iot_hub_resource.get("no-such-group", sandbox.hub_name)
    assert group.value.error.code == "ResourceGroupNotFound"
    assert [h.name for h in hubs.iot_hub_resource.list_by_subscription()] == [sandbox.hub_name]


def test_disable_local_auth_through_put_refuses_sas_on_the_hub(sandbox, hubs):
    hub = hubs.iot_hub_resource.get(sandbox.resource_group, sandbox.hub_name)
    hub.properties.disable_local_auth = True
    try:
        updated = hubs.iot_hub_resource.begin_create_or_update(sandbox.resource_group, sandbox.hub_name, hub,
                                                               if_match=hub.etag).result()
        assert updated.properties.disable_local_auth is True and updated.etag != hub.etag
        with clients.closing(IoTHubRegistryManager.from_connection_string(sandbox.hub_connection_string)) as rm:
            with pytest.raises(Exception, match="Unauthorized"):  # the hub side's own switch is what PUT set
                rm.get_service_statistics()
        with pytest.raises(HttpResponseError) as stale:
            hubs.iot_hub_resource.begin_create_or_update(sandbox.resource_group, sandbox.hub_name, hub,
                                                         if_match=hub.etag).result()
        assert stale.value.status_code == 412
    finally:
        sandbox_command(sandbox, "local-auth", "enable")
    assert hubs.iot_hub_resource.get(sandbox.resource_group, sandbox.hub_name).properties.disable_local_auth is False


def test_sku_change_is_the_hub_tier(sandbox, hubs):
    hub = hubs.iot_hub_resource.get(sandbox.resource_group, sandbox.hub_name)
    hub.sku.name, hub.sku.capacity = "S2", 2
    try:
        updated = hubs.iot_hub_resource.begin_create_or_update(sandbox.resource_group, sandbox.hub_name, hub).result()
        assert (updated.sku.name, updated.sku.capacity) == ("S2", 2)
        assert sandbox_command(sandbox, "hub-tier") == {"tier": "S2", "units": 2, "max_active_jobs": 5}
        hub.sku.name = "B1"
        with pytest.raises(HttpResponseError, match="sku.name"):
            hubs.iot_hub_resource.begin_create_or_update(sandbox.resource_group, sandbox.hub_name, hub).result()
    finally:
        sandbox_command(sandbox, "hub-tier", "S1", "--units", "1")
    assert hubs.iot_hub_resource.get(sandbox.resource_group, sandbox.hub_name).sku.name == "S1"


def test_patch_changes_tags(sandbox, hubs):
    updated = hubs.iot_hub_resource.begin_update(sandbox.resource_group, sandbox.hub_name,
                                                 {"tags": {"course": "entra"}}).result()
    assert updated.tags == {"course": "entra"}


def test_listkeys_for_owner_and_contributor_only(sandbox, hubs, auth, registered):
    keys = {k.key_name: k for k in hubs.iot_hub_resource.list_keys(sandbox.resource_group, sandbox.hub_name)}
    assert keys["iothubowner"].rights == "RegistryRead, RegistryWrite, ServiceConnect, DeviceConnect"
    assert sandbox.hub_connection_string.endswith(keys["iothubowner"].primary_key)
    one = hubs.iot_hub_resource.get_keys_for_key_name(sandbox.resource_group, sandbox.hub_name, "service")
    assert one.rights == "ServiceConnect"

    made = registered()
    their_hubs = iothub_client(sandbox, app_credential(sandbox, made["app"]["appId"], made["secret"]))
    auth.role_assignments.create(sandbox.hub_resource_id, str(uuid.uuid4()), {
        "role_definition_id": role_definition_id(sandbox, "IoT Hub Data Contributor"),
        "principal_id": made["sp"]["id"], "principal_type": "ServicePrincipal"})
    with pytest.raises(HttpResponseError) as refused:  # a data role holds no listkeys action
        list(their_hubs.iot_hub_resource.list_keys(sandbox.resource_group, sandbox.hub_name))
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Devices/IotHubs/listkeys/action" in refused.value.error.message
    auth.role_assignments.create(sandbox.hub_resource_id, str(uuid.uuid4()), {
        "role_definition_id": role_definition_id(sandbox, "Contributor"),
        "principal_id": made["sp"]["id"], "principal_type": "ServicePrincipal"})
    assert len(list(their_hubs.iot_hub_resource.list_keys(sandbox.resource_group, sandbox.hub_name))) == len(keys)
