"""Fixtures of the ARM tests: the real management clients pointed at the sandbox, Graph to register apps, and a
data-plane probe of the hub."""

from __future__ import annotations

import pytest
from azure.core.credentials import TokenCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.iothub import IotHubClient

from kit.sandbox import rbac
from kit.sandbox.connection import Connection
from tests.sandbox.graph.conftest import (  # noqa: F401 (fixtures shared with the Graph tests)
    ARM_SCOPE,
    graph,
    registered,
)
from tests.sandbox.hub.conftest import HubHttp, error_code

ROLE_IDS = {name: role.definition_id for name, role in rbac.BUILT_IN_ROLES.items()}


def authorization_client(conn: Connection, credential: TokenCredential) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(credential, conn.subscription_id, base_url=conn.arm_endpoint,
                                         credential_scopes=[ARM_SCOPE], retry_total=0)


def iothub_client(conn: Connection, credential: TokenCredential) -> IotHubClient:
    return IotHubClient(credential, conn.subscription_id, base_url=conn.arm_endpoint,
                        credential_scopes=[ARM_SCOPE], retry_total=0)


@pytest.fixture(scope="session")
def auth(sandbox: Connection, admin_credential) -> AuthorizationManagementClient:
    return authorization_client(sandbox, admin_credential)


@pytest.fixture(scope="session")
def hubs(sandbox: Connection, admin_credential) -> IotHubClient:
    return iothub_client(sandbox, admin_credential)


def role_definition_id(conn: Connection, role: str) -> str:
    return f"/subscriptions/{conn.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_IDS[role]}"


def data_plane(conn: Connection, credential: TokenCredential) -> tuple[int, str]:
    """(status, iothub-errorcode) of a cheap read on the hub with the credential's token."""
    response = HubHttp(conn, credential).call("GET", "/statistics/service", authorization="bearer")
    return response.status_code, error_code(response)
