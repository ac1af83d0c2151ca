"""Fixtures of the ARM tests: the real management clients pointed at the sandbox, Graph to register apps, a
data-plane probe of the hub, and the role propagation delay changed for one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.core.credentials import TokenCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.iothub import IotHubClient

from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub import rbac
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


@pytest.fixture
def propagation(sandbox: Connection) -> Iterator[Callable[[float], object]]:
    """``with propagation(2): ...`` makes new assignments apply after 2 s; the earlier delay comes back after."""
    db = Database.in_state_dir(Path(sandbox.state_dir))
    before = rbac.propagation_seconds(db)

    @contextmanager
    def delay(seconds: float) -> Iterator[None]:
        rbac.set_propagation_seconds(db, seconds)
        try:
            yield
        finally:
            rbac.set_propagation_seconds(db, before)

    try:
        yield delay
    finally:
        rbac.set_propagation_seconds(db, before)
        db.close()
