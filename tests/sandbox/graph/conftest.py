"""Fixtures of the control-plane tests: credentials of the sandbox's administrator, user and learner app, and Graph
reached with raw REST calls over azure-core's pipeline (the calls a program makes without any Graph SDK)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import BearerTokenCredentialPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.identity import ClientSecretCredential

from kit.sandbox.connection import Connection

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"
IOT_HUB_SCOPE = "https://iothubs.azure.net/.default"


def app_credential(conn: Connection, client_id: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(conn.tenant_id, client_id, secret, authority=conn.authority_host,
                                  disable_instance_discovery=True)


class GraphRest:
    """Graph v1.0 over HTTPS with a bearer token for ``https://graph.microsoft.com/.default``."""

    def __init__(self, conn: Connection, credential: TokenCredential | None) -> None:
        policies = [BearerTokenCredentialPolicy(credential, GRAPH_SCOPE)] if credential else []
        self.client = PipelineClient(conn.graph_endpoint, policies=policies)
        self.base = conn.graph_endpoint + "/v1.0"

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> HttpResponse:
        request = HttpRequest(method, self.base + path, json=body, headers=headers or None)
        return self.client.send_request(request)


@pytest.fixture(scope="session")
def graph(sandbox: Connection, admin_credential) -> GraphRest:
    return GraphRest(sandbox, admin_credential)


def graph_error(response: HttpResponse, status: int, code: str) -> str:
    """Check Graph's error envelope, headers and code; return the message."""
    assert response.status_code == status, response.text()
    error = response.json()["error"]
    assert error["code"] == code, error
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    assert "T" in inner["date"] and not inner["date"].endswith("Z")
    assert response.headers["odata-version"] == "4.0"
    return error["message"]


@pytest.fixture
def registered(graph: GraphRest) -> Callable[..., dict[str, Any]]:
    """Register an app through Graph (application, service principal, secret) as a program on Azure does."""

    def register(name: str | None = None, secret: bool = True) -> dict[str, Any]:
        app = graph("POST", "/applications", {"displayName": name or f"t-{uuid.uuid4().hex[:8]}"}).json()
        sp = graph("POST", "/servicePrincipals", {"appId": app["appId"]}).json()
        made = {"app": app, "sp": sp}
        if secret:
            made["secret"] = graph("POST", f"/applications/{app['id']}/addPassword", {}).json()["secretText"]
        return made

    return register
