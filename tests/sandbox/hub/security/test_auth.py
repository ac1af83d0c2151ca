"""Authentication (Entra ID bearer tokens, SAS of each policy, local auth off) and RBAC per built-in role."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification, Twin
from azure.iot.hub.sastoken import SasToken
from msrest.exceptions import HttpOperationError

from kit import clients
from kit.sandbox.identity.issuance import mint_access_token
from tests.sandbox.hub.conftest import credential_for, error_code, policy_key

ROLES = ("IoT Hub Data Reader", "IoT Hub Data Contributor", "IoT Hub Registry Contributor", "IoT Hub Twin Contributor")

# operation -> roles allowed to do it
EXPECTED = {
    "get_device": {"IoT Hub Data Reader", "IoT Hub Data Contributor", "IoT Hub Registry Contributor"},
    "create_device": {"IoT Hub Data Contributor", "IoT Hub Registry Contributor"},
    "get_twin": {"IoT Hub Data Reader", "IoT Hub Data Contributor", "IoT Hub Twin Contributor"},
    "update_twin": {"IoT Hub Data Contributor", "IoT Hub Twin Contributor"},
    "query": {"IoT Hub Data Reader", "IoT Hub Data Contributor", "IoT Hub Twin Contributor"},
    "statistics": {"IoT Hub Data Reader", "IoT Hub Data Contributor"},
}

OPERATIONS = {
    "get_device": lambda rm: rm.get_device("thermostat-a-1"),
    "create_device": lambda rm: rm.create_device_with_sas(f"rbac-{uuid.uuid4().hex[:8]}", None, None, "enabled"),
    "get_twin": lambda rm: rm.get_twin("light-b-1"),
    "update_twin": lambda rm: rm.update_twin("light-b-1", Twin(tags={"checkedBy": "rbac"}), "*"),
    "query": lambda rm: rm.query_iot_hub(QuerySpecification(query="SELECT * FROM devices"), None, 1),
    "statistics": lambda rm: rm.get_device_registry_statistics(),
}

PATHS = {"get_device": ("GET", "/devices/thermostat-a-1"), "create_device": ("PUT", "/devices/"),
         "get_twin": ("GET", "/twins/light-b-1"), "update_twin": ("PATCH", "/twins/light-b-1"),
         "query": ("POST", "/devices/query"), "statistics": ("GET", "/statistics/devices")}


@pytest.fixture(scope="module")
def role_registries(sandbox, role_app):
    made = {}
    for role in (*ROLES, None):
        app = role_app(role)
        credential = credential_for(sandbox, app["client_id"], app["client_secret"])
        made[role] = (app, IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential))
    yield made
    for _, rm in made.values():
        clients.close(rm)


@pytest.mark.parametrize("role", [*ROLES, None])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_role_allows_or_denies(role_registries, role, operation):
    app, rm = role_registries[role]
    if role in EXPECTED[operation]:
        OPERATIONS[operation](rm)
        return
    with pytest.raises(HttpOperationError) as denied:
        OPERATIONS[operation](rm)
    response = denied.value.response
    method, path = PATHS[operation]
    assert response.status_code == 401 and error_code(response) == "IotHubUnauthorized"
    message = response.json()["Message"]
    assert message.startswith(f"ErrorCode:IotHubUnauthorized;Principal {app['object_id']} is not authorized for "
                              f"{method} on {path}")
    assert message.endswith("due to no assigned permissions")


def test_bulk_needs_write_and_delete(role_registries):
    from azure.iot.hub.models import ExportImportDevice

    _, reader = role_registries["IoT Hub Data Reader"]
    with pytest.raises(HttpOperationError) as denied:
        reader.bulk_create_or_update_devices([ExportImportDevice(id="never", import_mode="create")])
    assert denied.value.response.status_code == 401
    _, registry_contributor = role_registries["IoT Hub Registry Contributor"]
    result = registry_contributor.bulk_create_or_update_devices(
        [ExportImportDevice(id=f"bulk-rbac-{uuid.uuid4().hex[:6]}", import_mode="create")])
    assert result.is_successful


def _token(sandbox, **changes) -> str:
    return mint_access_token(sandbox.state_dir, role_object_id(sandbox), **changes)


def role_object_id(sandbox) -> str:
    return jwt.decode(credential_for(sandbox, sandbox.client_id, sandbox.client_secret)
                      .get_token("https://iothubs.azure.net/.default").token,
                      options={"verify_signature": False})["oid"]


@pytest.mark.parametrize("changes, fragment", [
    ({"issued_at": time.time() - 7200, "lifetime_s": 600}, "expired"),
    ({"audience": "https://management.azure.com"}, "another resource"),
    ({"forged": True}, "signature"),
    ({"tenant_id": "11111111-2222-3333-4444-555555555555"}, "another tenant"),
])
def test_bad_bearer_tokens(hub, sandbox, changes, fragment):
    response = hub.call("GET", "/statistics/devices", authorization="Bearer " + _token(sandbox, **changes))
    assert response.status_code == 401 and error_code(response) == "IotHubUnauthorizedAccess"
    assert fragment in response.json()["Message"]


def test_audience_with_trailing_slash_and_small_skew_accepted(hub, sandbox):
    token = _token(sandbox, audience="https://iothubs.azure.net/")
    assert hub.call("GET", "/statistics/devices", authorization="Bearer " + token).status_code == 200
    recently_expired = _token(sandbox, issued_at=time.time() - 700, lifetime_s=600)  # 100 s ago: within 5 min
    assert hub.call("GET", "/statistics/devices", authorization="Bearer " + recently_expired).status_code == 200


def test_unsigned_and_hs256_tokens_refused(hub, sandbox):
    claims = jwt.decode(_token(sandbox), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    hs256 = jwt.encode(claims, key="a-shared-secret-of-32-bytes-long!", algorithm="HS256")
    for token in (unsigned, hs256, "not-a-jwt"):
        response = hub.call("GET", "/statistics/devices", authorization="Bearer " + token)
        assert response.status_code == 401 and error_code(response) == "IotHubUnauthorizedAccess"


def test_missing_or_unknown_authorization(hub):
    for header in (None, "Basic abc"):
        response = hub.call("GET", "/statistics/devices", authorization=header)
        assert response.status_code == 401 and error_code(response) == "IotHubUnauthorizedAccess"


@pytest.mark.parametrize("policy, allowed", [
    ("iothubowner", {"registry_read", "registry_write", "twin"}),
    ("service", {"twin"}),
    ("registryRead", {"registry_read"}),
    ("registryReadWrite", {"registry_read", "registry_write"}),
])
def test_sas_rights_per_policy(sandbox, policy, allowed):
    connection_string = (f"HostName={sandbox.hub_host};SharedAccessKeyName={policy};"
                         f"SharedAccessKey={policy_key(sandbox, policy)}")
    calls = {
        "registry_read": lambda rm: rm.get_device("thermostat-a-1"),
        "registry_write": lambda rm: rm.update_device_with_sas("light-c-1", "*", None, None, "enabled"),
        "twin": lambda rm: rm.get_twin("thermostat-a-1"),
    }
    with clients.closing(IoTHubRegistryManager.from_connection_string(connection_string)) as rm:
        for name, call in calls.items():
            if name in allowed:
                call(rm)
                continue
            with pytest.raises(HttpOperationError) as denied:
                call(rm)
            assert denied.value.response.status_code == 401
            assert error_code(denied.value.response) == "IotHubUnauthorizedAccess"
            assert f"'{policy}'" in denied.value.response.json()["Message"]


def test_bad_sas_tokens(hub, sandbox):
    good = hub.sas()
    tampered = good.replace("sig=", "sig=A")
    expired = str(SasToken(sandbox.hub_host, policy_key(sandbox, "iothubowner"), "iothubowner", ttl=-10))
    unknown = good.replace("skn=iothubowner", "skn=nobody")
    for token, fragment in ((tampered, "signature"), (expired, "expired"), (unknown, "does not exist")):
        response = hub.call("GET", "/statistics/devices", authorization=token)
        assert response.status_code == 401 and error_code(response) == "IotHubUnauthorizedAccess"
        assert fragment in response.json()["Message"]


def test_local_auth_disable_refuses_sas(hub, sandbox):
    def local_auth(action: str) -> None:
        subprocess.run([sys.executable, "-m", "kit.sandbox", "local-auth", action, "--state-dir", sandbox.state_dir],
                       check=True, capture_output=True)

    local_auth("disable")
    try:
        refused = hub.call("GET", "/statistics/devices")
        assert refused.status_code == 401 and "disableLocalAuth" in refused.json()["Message"]
        assert hub.call("GET", "/statistics/devices", authorization="bearer").status_code == 200
    finally:
        local_auth("enable")
    assert hub.call("GET", "/statistics/devices").status_code == 200


def test_api_version_checked(hub):
    for version in (None, "2018-06-30"):
        response = hub.call("GET", "/statistics/devices", api_version=version)
        assert response.status_code == 400 and error_code(response) == "InvalidProtocolVersion"


def test_a_role_removed_or_assigned_by_the_admin_command_applies_at_the_next_request(sandbox, hub):
    """The hub remembers its role decisions between requests; a change written by another process (the admin
    command line) must still apply at once, in both directions."""
    def admin(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "kit.sandbox", *args, "--state-dir", sandbox.state_dir],
                              check=True, capture_output=True, text=True).stdout

    app = json.loads(admin("app", "create", "--name", f"revoked-{uuid.uuid4().hex[:6]}", "--role",
                           "IoT Hub Data Reader"))
    token = credential_for(sandbox, app["client_id"], app["client_secret"]).get_token(
        "https://iothubs.azure.net/.default").token
    for _ in range(3):  # decided once, then remembered
        assert hub.call("GET", "/twins/light-b-1", authorization=f"Bearer {token}").status_code == 200
    admin("role", "remove", "--principal", app["client_id"], "--role", "IoT Hub Data Reader")
    refused = hub.call("GET", "/twins/light-b-1", authorization=f"Bearer {token}")
    assert refused.status_code == 401 and error_code(refused) == "IotHubUnauthorized"
    admin("role", "assign", "--principal", app["client_id"], "--role", "IoT Hub Data Reader")  # waits till it applies
    assert hub.call("GET", "/twins/light-b-1", authorization=f"Bearer {token}").status_code == 200
