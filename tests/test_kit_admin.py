"""kit.admin (and kit.cloud, kit.credentials.admin_credential): the same admin steps on two targets.

"sandbox" is a notebook's session on the sandbox; "azure" is the settings a learner on real Azure saves, with the
sandbox's endpoints given as the cloud's and the administrator's secret in KIT_ADMIN_CLIENT_SECRET (no
connection.json read). Each step goes through the real Graph REST calls and management SDKs over HTTPS, and its
effect is checked with the real azure-identity and azure-iot-hub clients.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.identity import AzureCliCredential, CertificateCredential, ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager

import kit.admin
from kit import clients
from kit.certificates import create_self_signed
from kit.cloud import Cloud
from kit.credentials import admin_credential, authority_kwargs
from kit.sandbox.connection import Connection
from kit.session import Session
from kit.settings import Settings, SettingsError

DEVICE = "thermostat-a-1"


def azure_settings(sandbox: Connection, **overrides) -> Settings:
    """What a learner on Azure saves, here with the sandbox's endpoints as the cloud's."""
    values = dict(
        target="azure", tenant_id=sandbox.tenant_id, client_id=sandbox.client_id, hub_host=sandbox.hub_host,
        authority_host=sandbox.authority_host, client_secret=sandbox.client_secret,
        graph_endpoint=sandbox.graph_endpoint, arm_endpoint=sandbox.arm_endpoint,
        subscription_id=sandbox.subscription_id, resource_group=sandbox.resource_group, hub_name=sandbox.hub_name,
        admin_credential_kind="client_secret", admin_client_id=sandbox.admin_client_id)
    return Settings(**{**values, **overrides})


@pytest.fixture(params=["sandbox", "azure"])
def session(request, sandbox: Connection, monkeypatch) -> Session:
    if request.param == "sandbox":
        return Session(Settings.from_sandbox(sandbox), sandbox)
    monkeypatch.setenv("KIT_ADMIN_CLIENT_SECRET", sandbox.admin_client_secret)
    return Session(azure_settings(sandbox))


def test_cloud_is_the_same_shape_on_both_targets(session, sandbox):
    cloud = session.cloud
    assert (cloud.graph_endpoint, cloud.arm_endpoint) == (sandbox.graph_endpoint, sandbox.arm_endpoint)
    assert cloud.hub_resource_id == sandbox.hub_resource_id
    assert (cloud.graph_scope, cloud.arm_scope) == ("https://graph.microsoft.com/.default",
                                                     "https://management.azure.com/.default")


def test_register_an_app_give_it_a_role_and_take_it_away(session, propagation, tmp_path: Path):
    admin = admin_credential(session)
    graph = kit.admin.graph(session, admin)
    app = graph.create_application(f"admin-{uuid.uuid4().hex[:6]}")
    assert graph.find_applications(app_id=app.app_id) == [app]
    assert app in graph.find_applications(display_name=app.display_name[:8])
    sp = graph.create_service_principal(app.app_id)
    assert graph.find_service_principal(app.app_id) == sp and sp.object_id not in (app.object_id, app.app_id)
    password = graph.add_password(app, "notebook")
    assert password.secret.get_secret_value() not in repr(password)
    assert [p.key_id for p in graph.list_passwords(app)] == [password.key_id]
    credential = ClientSecretCredential(session.settings.tenant_id, app.app_id, password.secret.get_secret_value(),
                                        **authority_kwargs(session.settings))

    with clients.closing(IoTHubRegistryManager.from_token_credential(session.hub_host, credential)) as registry:
        with propagation(1):
            kit.admin.assign_role(session, admin, sp.object_id, "IoT Hub Data Reader")
            again = kit.admin.assign_role(session, admin, sp.object_id, "iot hub data reader")  # exists: returned
            assert again.principal_id == sp.object_id
            waits: list[float] = []
            twin = kit.admin.wait_for_role(lambda: registry.get_twin(DEVICE), timeout=30, on_wait=waits.append)
            assert twin.device_id == DEVICE and waits  # it had to wait for the assignment to apply
        assert kit.admin.remove_role(session, admin, sp.object_id, "IoT Hub Data Reader") == 1
        with pytest.raises(Exception, match="Unauthorized"):
            registry.get_twin(DEVICE)

    files = create_self_signed(tmp_path, "admin-cert")
    thumbprint = graph.add_certificate(app, files.public_pem)
    assert len(thumbprint) == 40 and graph.add_certificate(app, files.public_pem.read_text())  # kept, not replaced
    CertificateCredential(session.settings.tenant_id, app.app_id, str(files.private_pem),
                          **authority_kwargs(session.settings)).get_token("https://iothubs.azure.net/.default")

    fic = graph.add_federated_credential(app, "gh-main", "https://token.actions.githubusercontent.com",
                                         "repo:o/r:ref:refs/heads/main")
    assert fic.audiences == ("api://AzureADTokenExchange",)
    assert [f.name for f in graph.list_federated_credentials(app)] == ["gh-main"]
    graph.delete_federated_credential(app, "gh-main")
    assert graph.list_federated_credentials(app) == []
    graph.remove_password(app, password.key_id)
    graph.delete_application(app)
    assert graph.find_applications(app_id=app.app_id) == []


def test_the_hub_resource_through_the_iothub_client(session, sandbox):
    hubs = kit.admin.iothub_client(session, admin_credential(session))
    cloud = session.cloud
    hub = hubs.iot_hub_resource.get(cloud.resource_group, cloud.hub_name)
    assert hub.id == cloud.hub_resource_id and hub.properties.host_name == session.hub_host
    keys = {k.key_name for k in hubs.iot_hub_resource.list_keys(cloud.resource_group, cloud.hub_name)}
    assert "iothubowner" in keys  # the administrator is Owner


def test_mistakes_name_the_field_and_the_fix(session, sandbox):
    admin = admin_credential(session)
    graph = kit.admin.graph(session, admin)
    app = graph.create_application(f"mistakes-{uuid.uuid4().hex[:6]}")
    with pytest.raises(kit.admin.GraphError, match="appId") as wrong_id:
        graph.get_application(app.app_id)  # the appId where Graph wants the object id
    assert wrong_id.value.code == "Request_ResourceNotFound"
    graph.create_service_principal(app.app_id)
    with pytest.raises(kit.admin.AdminError, match="principal_id"):
        kit.admin.assign_role(session, admin, app.app_id, "IoT Hub Data Reader")  # appId, not the object id
    with pytest.raises(ValueError, match="principal_id: 'learner-app'"):
        kit.admin.assign_role(session, admin, "learner-app", "IoT Hub Data Reader")
    with pytest.raises(ValueError, match="role_name: 'IoT Hub Owner'"):
        kit.admin.role_definition_id(session, "IoT Hub Owner")
    with pytest.raises(TypeError, match="session first"):
        kit.admin.role_definition_id("IoT Hub Data Reader", session)
    with pytest.raises(FileNotFoundError, match="certificate: no file"):
        graph.add_certificate(app, "no-such.pem")
    graph.delete_application(app)


def test_missing_settings_are_named_before_any_call(sandbox):
    settings = azure_settings(sandbox, subscription_id=None, resource_group=None)
    with pytest.raises(SettingsError, match="subscription_id: missing") as missing:
        Cloud.for_settings(settings).require("subscription_id", "resource_group", "hub_name")
    assert missing.value.fields == ("subscription_id", "resource_group")
    with pytest.raises(SettingsError, match="subscription_id"):
        kit.admin.authorization_client(settings, AzureCliCredential())  # refused before any sign-in


def test_admin_credential_on_azure_follows_the_settings(sandbox, monkeypatch):
    monkeypatch.delenv("KIT_ADMIN_CLIENT_SECRET", raising=False)
    assert isinstance(admin_credential(azure_settings(sandbox, admin_credential_kind="cli")), AzureCliCredential)
    with pytest.raises(ValueError, match="KIT_ADMIN_CLIENT_SECRET"):
        admin_credential(azure_settings(sandbox))
    with pytest.raises(SettingsError, match="admin_client_id"):
        azure_settings(sandbox, admin_client_id=None)
    with pytest.raises(SettingsError, match="graph_endpoint: leave the version out"):
        azure_settings(sandbox, graph_endpoint="https://graph.microsoft.com/v1.0")


def test_find_applications_follows_graph_s_pages(sandbox):
    session = Session(Settings.from_sandbox(sandbox), sandbox)
    graph = kit.admin.graph(session, admin_credential(session))
    prefix = f"many-{uuid.uuid4().hex[:6]}"
    made = [graph.create_application(f"{prefix}-{n:03}") for n in range(101)]  # Graph pages 100 at a time
    assert sorted(app.display_name for app in graph.find_applications(display_name=prefix)) == [
        app.display_name for app in made]
    for app in made:
        graph.delete_application(app)
