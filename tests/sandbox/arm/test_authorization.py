"""ARM's Microsoft.Authorization subset (kit/sandbox/arm/authorization.py) through azure-mgmt-authorization 4.0:
role definitions, role assignments, and their effect on the hub's data plane."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError
from azure.identity import DeviceCodeCredential

from tests.sandbox.arm.conftest import authorization_client, data_plane, role_definition_id
from tests.sandbox.graph.conftest import GRAPH_SCOPE, app_credential


def assign(auth, conn, principal_id: str, role: str, name: str | None = None, principal_type="ServicePrincipal"):
    return auth.role_assignments.create(conn.hub_resource_id, name or str(uuid.uuid4()), {
        "role_definition_id": role_definition_id(conn, role), "principal_id": principal_id,
        "principal_type": principal_type})


def test_role_definitions_are_the_built_ins_with_their_real_ids(sandbox, auth):
    found = list(auth.role_definitions.list(sandbox.hub_resource_id, filter="roleName eq 'iot hub data reader'"))
    assert [(d.role_name, d.name, d.role_type) for d in found] == [
        ("IoT Hub Data Reader", "b447c946-2db7-41ec-983d-d8bf3b1c77e3", "BuiltInRole")]
    assert found[0].id == role_definition_id(sandbox, "IoT Hub Data Reader")
    assert found[0].permissions[0].data_actions == ["Microsoft.Devices/IotHubs/*/read",
                                                    "Microsoft.Devices/IotHubs/fileUpload/notifications/action"]
    assert list(auth.role_definitions.list(sandbox.hub_resource_id, filter="roleName eq 'Hub Admin'")) == []
    owner = auth.role_definitions.get_by_id(role_definition_id(sandbox, "Owner"))
    assert owner.role_name == "Owner" and owner.permissions[0].actions == ["*"]
    names = {d.role_name for d in auth.role_definitions.list(sandbox.hub_resource_id)}
    assert {"Owner", "Contributor", "Reader", "IoT Hub Twin Contributor"} <= names


def test_assignment_reaches_the_data_plane_and_its_removal_brings_back_401(sandbox, auth, registered):
    made = registered()
    credential = app_credential(sandbox, made["app"]["appId"], made["secret"])
    assert data_plane(sandbox, credential) == (401, "IotHubUnauthorized")
    name = str(uuid.uuid4())
    created = assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader", name)
    assert created.name == name and created.scope == sandbox.hub_resource_id
    assert created.id == f"{sandbox.hub_resource_id}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.principal_type == "ServicePrincipal" and created.created_by is None
    assert data_plane(sandbox, credential) == (200, "")

    with pytest.raises(ResourceExistsError) as conflict:
        assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader")
    assert conflict.value.error.code == "RoleAssignmentExists"
    again = assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader", name)  # same name, same values
    assert again.name == name
    assert auth.role_assignments.get(sandbox.hub_resource_id, name).created_by  # filled in after the PUT
    at_scope = [a.name for a in auth.role_assignments.list_for_scope(sandbox.hub_resource_id, filter="atScope()")]
    assert name in at_scope
    mine = list(auth.role_assignments.list_for_scope(sandbox.hub_resource_id,
                                                     filter=f"principalId eq '{made['sp']['id']}'"))
    assert [a.name for a in mine] == [name]

    deleted = auth.role_assignments.delete(sandbox.hub_resource_id, name)
    assert deleted.name == name
    assert auth.role_assignments.delete(sandbox.hub_resource_id, name) is None  # 204 when already gone
    assert data_plane(sandbox, credential) == (401, "IotHubUnauthorized")


def test_refusals_have_arm_codes(sandbox, auth, registered):
    made = registered()
    with pytest.raises(HttpResponseError) as unknown:
        assign(auth, sandbox, str(uuid.uuid4()), "IoT Hub Data Reader")
    assert unknown.value.status_code == 400 and unknown.value.error.code == "PrincipalNotFound"
    with pytest.raises(HttpResponseError) as app_id:  # the common mistake: the appId instead of the object id
        assign(auth, sandbox, made["app"]["appId"], "IoT Hub Data Reader")
    assert app_id.value.error.code == "PrincipalNotFound"
    name = str(uuid.uuid4())
    assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader", name)
    with pytest.raises(HttpResponseError) as changed:
        assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Contributor", name)
    assert changed.value.error.code == "RoleAssignmentUpdateNotPermitted"

    not_owner = authorization_client(sandbox, app_credential(sandbox, made["app"]["appId"], made["secret"]))
    with pytest.raises(HttpResponseError) as refused:
        assign(not_owner, sandbox, made["sp"]["id"], "IoT Hub Data Contributor")
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Authorization/roleAssignments/write" in refused.value.error.message
    assert refused.value.response.headers["x-ms-failure-cause"] == "gateway"


def test_arm_checks_the_token_and_the_api_version(sandbox, admin_credential):
    url = f"{sandbox.arm_endpoint}{sandbox.hub_resource_id}/providers/Microsoft.Authorization/roleAssignments"
    plain = requests.Session()
    plain.verify = sandbox.ca_bundle
    missing = plain.get(url, params={"api-version": "2022-04-01"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "AuthenticationFailed"
    graph_token = admin_credential.get_token(GRAPH_SCOPE).token
    wrong = plain.get(url, params={"api-version": "2022-04-01"}, headers={"Authorization": f"Bearer {graph_token}"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert "'https://graph.microsoft.com'" in wrong.json()["error"]["message"]
    with pytest.raises(ClientAuthenticationError):
        authorization_client(sandbox, app_credential(sandbox, sandbox.client_id, "not-the-secret")
                             ).role_assignments.get(sandbox.hub_resource_id, str(uuid.uuid4()))
    arm_token = admin_credential.get_token("https://management.azure.com/.default").token
    old = plain.get(url, params={"api-version": "2015-07-01"}, headers={"Authorization": f"Bearer {arm_token}"})
    assert old.status_code == 400 and old.json()["error"]["code"] == "InvalidApiVersionParameter"
    for header in ("x-ms-request-id", "x-ms-correlation-request-id", "x-ms-routing-request-id"):
        assert old.headers[header]
    other = plain.get(url.replace(sandbox.subscription_id, str(uuid.uuid4())), params={"api-version": "2022-04-01"},
                      headers={"Authorization": f"Bearer {arm_token}"})
    assert other.status_code == 404 and other.json()["error"]["code"] == "SubscriptionNotFound"


def test_a_new_assignment_applies_after_the_propagation_delay(sandbox, auth, registered, propagation):
    made = registered()
    credential = app_credential(sandbox, made["app"]["appId"], made["secret"])
    with propagation(2):
        assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader")
        assert data_plane(sandbox, credential) == (401, "IotHubUnauthorized")  # as on Azure, for a while
        time.sleep(2.2)
        assert data_plane(sandbox, credential) == (200, "")


def test_deleting_the_app_keeps_its_assignments_as_identity_not_found(sandbox, graph, auth, registered):
    made = registered()
    name = assign(auth, sandbox, made["sp"]["id"], "IoT Hub Data Reader").name
    assert graph("DELETE", f"/applications/{made['app']['id']}").status_code == 204
    kept = auth.role_assignments.get(sandbox.hub_resource_id, name)
    assert kept.principal_id == made["sp"]["id"] and kept.principal_type == "ServicePrincipal"
    assert name in [a.name for a in auth.role_assignments.list_for_scope(sandbox.hub_resource_id,
                                                                         filter="atScope()")]
    assert graph("GET", f"/servicePrincipals/{made['sp']['id']}").status_code == 404
    listed = subprocess.run([sys.executable, "-m", "kit.sandbox", "role", "list", "--state-dir", sandbox.state_dir],
                            capture_output=True, text=True, check=True).stdout
    assert f'"name": "{name}"' in listed and "Identity not found" in listed
    auth.role_assignments.delete(sandbox.hub_resource_id, name)  # harmless, and deleted like any other


def test_the_signed_in_user_is_owner_too(sandbox, registered):
    """The device-code user stands in for a person with Owner on the subscription."""
    user = DeviceCodeCredential(tenant_id=sandbox.tenant_id, authority=sandbox.authority_host,
                                disable_instance_discovery=True, prompt_callback=lambda *args: None)
    as_user = authorization_client(sandbox, user)
    made = registered()
    created = assign(as_user, sandbox, made["sp"]["id"], "IoT Hub Data Reader")
    assert created.created_by is None and as_user.role_assignments.get(sandbox.hub_resource_id, created.name)
    owners = [a for a in as_user.role_assignments.list_for_scope(sandbox.hub_resource_id, filter="atScope()")
              if a.scope == f"/subscriptions/{sandbox.subscription_id}" and a.principal_type == "User"]
    assert owners and owners[0].role_definition_id == role_definition_id(sandbox, "Owner")
    user_id = owners[0].principal_id
    without_type = assign(as_user, sandbox, user_id, "IoT Hub Twin Contributor", principal_type=None)
    assert without_type.principal_type == "User"  # ARM finds it in the directory
    as_user.role_assignments.delete(sandbox.hub_resource_id, without_type.name)
