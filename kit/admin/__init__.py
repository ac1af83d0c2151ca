"""The admin steps of the course, as real API calls that do the same thing on real Azure and on the sandbox.

An administrator (on Azure: you, signed in with ``az login``; on the sandbox: its admin app) registers apps in
Microsoft Graph and assigns roles and changes the hub through Azure Resource Manager. Each function takes the
``session`` (its ``session.cloud`` says where Graph and ARM are) and the administrator's credential::

    from kit.credentials import admin_credential
    admin = admin_credential(session)

    graph = kit.admin.graph(session, admin)                   # Microsoft Graph v1.0 (REST on azure-core)
    app = graph.create_application("iot-backend")             # Application(object_id, app_id, display_name)
    sp = graph.create_service_principal(app.app_id)           # ServicePrincipal(object_id, ...): the principalId
    secret = graph.add_password(app, "notebook")              # PasswordCredential; secret.secret is a SecretStr
    graph.remove_password(app, secret.key_id)
    graph.add_certificate(app, "app.public.pem")              # PATCH keyCredentials; returns the thumbprint
    graph.add_federated_credential(app, "gh-main", issuer, subject)       # audiences default to Entra's
    graph.list_federated_credentials(app); graph.delete_federated_credential(app, "gh-main")
    graph.find_applications(app_id=...) / (display_name=prefix); graph.find_service_principal(app_id)
    graph.delete_application(app)                             # its role assignments stay ("Identity not found")

    auth = kit.admin.authorization_client(session, admin)    # azure-mgmt-authorization's client
    auth.role_assignments.create(session.cloud.hub_resource_id, str(uuid.uuid4()), {
        "role_definition_id": kit.admin.role_definition_id(session, "IoT Hub Data Reader"),
        "principal_id": sp.object_id, "principal_type": "ServicePrincipal"})
    kit.admin.assign_role(session, admin, sp.object_id, "IoT Hub Data Reader")   # the same, plumbing done
    kit.admin.remove_role(session, admin, sp.object_id, "IoT Hub Data Reader")
    kit.admin.wait_for_role(lambda: registry.get_twin("dev-1"))  # until the hub stops answering 401

    hubs = kit.admin.iothub_client(session, admin)           # azure-mgmt-iothub's client
    cloud = session.cloud                                     # endpoints, subscription, resource group, hub name
    hub = hubs.iot_hub_resource.get(cloud.resource_group, cloud.hub_name)
    hub.properties.disable_local_auth = True
    hubs.iot_hub_resource.begin_create_or_update(cloud.resource_group, cloud.hub_name, hub, if_match=hub.etag)
    hubs.iot_hub_resource.list_keys(cloud.resource_group, cloud.hub_name)   # Owner/Contributor only

Results are plain values; secrets are ``SecretStr``. Missing settings (subscription, resource group) raise a
``SettingsError`` naming the field and where to find it; Graph's refusals a :class:`GraphError`; ARM's, in the
helpers, an :class:`AdminError` that says what to change.
"""

from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential

from kit.admin.arm import (
    BUILT_IN_ROLES,
    AdminError,
    assign_role,
    authorization_client,
    iothub_client,
    remove_role,
    role_definition_id,
)
from kit.admin.graph import (
    Application,
    FederatedCredential,
    GraphClient,
    GraphError,
    PasswordCredential,
    ServicePrincipal,
)
from kit.admin.propagation import wait_for_role
from kit.cloud import Cloud

__all__ = [
    "BUILT_IN_ROLES", "AdminError", "Application", "Cloud", "FederatedCredential", "GraphClient", "GraphError",
    "PasswordCredential", "ServicePrincipal", "assign_role", "authorization_client", "graph", "iothub_client",
    "remove_role", "role_definition_id", "wait_for_role",
]


def graph(session: Any, credential: TokenCredential) -> GraphClient:
    """A :class:`GraphClient` for the target's Graph endpoint, authorised by ``credential`` (the administrator's)."""
    return GraphClient(Cloud.for_session(session), credential)
