"""ManagedIdentityCredential against the sandbox over both protocols, and the endpoints' error answers."""

from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential

from kit.sandbox.identity import directory, seed
from tests.sandbox.identity.conftest import IOT_HUB_SCOPE

RESOURCE = "https://iothubs.azure.net"


@pytest.fixture
def mi_env(monkeypatch):
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_app_service_protocol(sandbox, mi_env, db):
    mi_env.setenv("IDENTITY_ENDPOINT", sandbox.identity_endpoint)
    mi_env.setenv("IDENTITY_HEADER", sandbox.identity_header)
    claims = jwt.decode(ManagedIdentityCredential().get_token(IOT_HUB_SCOPE).token, options={"verify_signature": False})
    assert claims["oid"] == seed.system_assigned_identity(db).object_id and claims["aud"] == RESOURCE


def test_imds_protocol_with_a_user_assigned_identity(sandbox, mi_env, db):
    user_assigned = directory.create_principal(db, "uami-reader", "managed_identity")
    mi_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", sandbox.imds_authority_host)
    token = ManagedIdentityCredential(client_id=user_assigned.client_id).get_token(IOT_HUB_SCOPE).token
    assert jwt.decode(token, options={"verify_signature": False})["oid"] == user_assigned.object_id


def test_unknown_user_assigned_identity_fails(sandbox, mi_env):
    mi_env.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", sandbox.imds_authority_host)
    with pytest.raises(ClientAuthenticationError, match="Identity not found"):
        ManagedIdentityCredential(client_id="00000000-1111-2222-3333-444444444444",
                                  retry_total=0).get_token(IOT_HUB_SCOPE)


def test_endpoint_errors(sandbox, http):
    imds = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + RESOURCE
    assert http.get(imds).json() == {"error": "invalid_request",
                                     "error_description": "Required metadata header not specified"}
    other = http.get(imds.replace(RESOURCE, "https://vault.azure.net"), headers={"Metadata": "true"})
    assert other.status_code == 400 and other.json()["error_description"].startswith("AADSTS500011")
    app_service = f"/msi/token?api-version=2019-08-01&resource={RESOURCE}"
    assert http.get(app_service, headers={"X-IDENTITY-HEADER": "guess"}).status_code == 401
    reply = http.get(app_service, headers={"X-IDENTITY-HEADER": sandbox.identity_header})
    assert reply.status_code == 200 and int(reply.json()["expires_on"]) > 0
