"""Issue 11's "done when": a program that knows only the sandbox's endpoints and the administrator principal, and
uses only azure-identity, azure-mgmt-authorization and Graph REST calls (azure-iot-hub to read the twin), registers
an app, adds a secret, assigns IoT Hub Data Reader at the hub's scope, gets a token for the new app and reads a twin
after the propagation delay; removing the assignment brings the 401 back. No kit code runs in the program."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager
from azure.mgmt.authorization import AuthorizationManagementClient

from kit.sandbox.connection import Connection

DEVICE = "thermostat-a-1"
READER = "b447c946-2db7-41ec-983d-d8bf3b1c77e3"  # IoT Hub Data Reader, the same id in every tenant


def test_register_assign_read_then_revoke(sandbox: Connection, propagation) -> None:
    authority = {"authority": sandbox.authority_host, "disable_instance_discovery": True}
    admin = ClientSecretCredential(sandbox.tenant_id, sandbox.admin_client_id, sandbox.admin_client_secret,
                                   **authority)
    graph = requests.Session()
    graph.verify = sandbox.ca_bundle
    graph.headers["Authorization"] = "Bearer " + admin.get_token("https://graph.microsoft.com/.default").token
    v1 = sandbox.graph_endpoint + "/v1.0"

    app = graph.post(f"{v1}/applications", json={"displayName": f"done-when-{uuid.uuid4().hex[:6]}"}).json()
    sp = graph.post(f"{v1}/servicePrincipals", json={"appId": app["appId"]}).json()
    secret = graph.post(f"{v1}/applications/{app['id']}/addPassword",
                        json={"passwordCredential": {"displayName": "done-when"}}).json()["secretText"]

    with propagation(2):
        auth = AuthorizationManagementClient(admin, sandbox.subscription_id, base_url=sandbox.arm_endpoint)
        assignment = auth.role_assignments.create(sandbox.hub_resource_id, str(uuid.uuid4()), {
            "role_definition_id": f"/subscriptions/{sandbox.subscription_id}/providers/Microsoft.Authorization/"
                                  f"roleDefinitions/{READER}",
            "principal_id": sp["id"], "principal_type": "ServicePrincipal"})
        assigned_at = time.monotonic()

        app_credential = ClientSecretCredential(sandbox.tenant_id, app["appId"], secret, **authority)
        registry = IoTHubRegistryManager.from_token_credential(sandbox.hub_host, app_credential)
        refusals = 0
        while True:
            try:
                twin = registry.get_twin(DEVICE)
                break
            except Exception as error:  # the hub's 401 until the assignment has propagated
                assert "Unauthorized" in str(error) and time.monotonic() - assigned_at < 30, error
                refusals += 1
                time.sleep(0.5)
    assert twin.device_id == DEVICE
    assert refusals and time.monotonic() - assigned_at >= 2  # the first reads were refused, as on Azure

    auth.role_assignments.delete(sandbox.hub_resource_id, assignment.name)
    with pytest.raises(Exception, match="Unauthorized"):
        registry.get_twin(DEVICE)
