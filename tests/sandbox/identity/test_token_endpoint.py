"""The token endpoint through the real azure-identity credentials, and its AADSTS errors with their statuses."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential, ClientSecretCredential

from kit.sandbox.identity import directory
from tests.sandbox.identity.conftest import IOT_HUB_SCOPE, assert_entra_error, token_form


def test_client_secret_gets_a_v1_iot_hub_token_verifiable_with_the_jwks(sandbox, authority, http):
    token = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                   **authority).get_token(IOT_HUB_SCOPE).token
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"] == header["x5t"]
    jwks_uri = http.get(f"/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration").json()["jwks_uri"]
    key = jwt.PyJWKSet.from_dict(http.get(jwks_uri).json())[header["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="https://iothubs.azure.net")
    assert claims["iss"] == claims["idp"] == f"https://sts.windows.net/{sandbox.tenant_id}/"
    assert claims["appid"] == sandbox.client_id and claims["appidacr"] == "1"
    assert claims["tid"] == sandbox.tenant_id and claims["sub"] == claims["oid"] and claims["ver"] == "1.0"
    assert claims["iat"] == claims["nbf"] and claims["exp"] - claims["iat"] == 3599 + 300
    assert claims["uti"]


def test_success_body_has_integer_lifetimes(sandbox, http):
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token",
                      data=token_form(sandbox.client_id, client_secret=sandbox.client_secret))
    body = reply.json()
    assert reply.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert type(body["expires_in"]) is int and type(body["ext_expires_in"]) is int


def test_access_token_times_and_claims(sandbox, http):
    """``iat == nbf`` five minutes before issuance and ``exp`` = issuance + ``expires_in``, with v1 app-only claims."""
    issued = time.time()
    body = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token",
                     data=token_form(sandbox.client_id, client_secret=sandbox.client_secret)).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iat"] == claims["nbf"] and abs(claims["iat"] - (issued - 300)) <= 2
    assert abs(claims["exp"] - (issued + body["expires_in"])) <= 2
    assert all(type(claims[name]) is int for name in ("iat", "nbf", "exp"))
    assert {"aud", "iss", "iat", "nbf", "exp", "aio", "appid", "appidacr", "idp", "oid", "rh", "sub", "tid", "uti",
            "ver"} <= claims.keys()
    assert claims["aud"] == "https://iothubs.azure.net" and "azp" not in claims


def test_client_secret_in_http_basic_is_accepted(sandbox, http):
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    form = token_form(sandbox.client_id)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert reply.status_code == 200 and reply.json()["access_token"]


def test_tenant_domain_works_as_authority_tenant(sandbox, authority):
    credential = ClientSecretCredential(sandbox.tenant_domain, sandbox.client_id, sandbox.client_secret, **authority)
    assert credential.get_token(IOT_HUB_SCOPE).token


def test_wrong_secret_is_7000215_401(sandbox, authority, http):
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215: Invalid client secret provided"):
        ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, "the-secret-id-not-value",
                               **authority).get_token(IOT_HUB_SCOPE)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(sandbox.client_id, client_secret="x"))
    assert_entra_error(reply, 401, 7000215, "invalid_client")


def test_expired_secret_is_7000222_401(sandbox, authority, http, db):
    app = directory.create_principal(db, "expiring-secret-app")
    secret = directory.add_secret(db, app)["client_secret"]
    directory.expire_secrets(db, app)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000222: The provided client secret keys"):
        ClientSecretCredential(sandbox.tenant_id, app.client_id, secret, **authority).get_token(IOT_HUB_SCOPE)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(app.client_id, client_secret=secret))
    assert_entra_error(reply, 401, 7000222, "invalid_client")


def test_no_credential_is_7000218_401(sandbox, http):
    credential = ClientAssertionCredential(sandbox.tenant_id, sandbox.client_id, lambda: "",
                                           authority=sandbox.authority_host, retry_total=0)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000218"):
        credential.get_token(IOT_HUB_SCOPE)
    assert_entra_error(http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(sandbox.client_id)),
                       401, 7000218, "invalid_client")


def test_unknown_client_is_700016_400(sandbox, authority, http):
    unknown = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS700016: Application with identifier '{unknown}'"):
        ClientSecretCredential(sandbox.tenant_id, unknown, "whatever", **authority).get_token(IOT_HUB_SCOPE)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(unknown, client_secret="v"))
    assert_entra_error(reply, 400, 700016, "unauthorized_client")


def test_disabled_app_is_7000112_400(sandbox, authority, http, db):
    app = directory.create_principal(db, "disabled-app")
    secret = directory.add_secret(db, app)["client_secret"]
    directory.set_enabled(db, app, False)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000112"):
        ClientSecretCredential(sandbox.tenant_id, app.client_id, secret, **authority).get_token(IOT_HUB_SCOPE)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(app.client_id, client_secret=secret))
    assert_entra_error(reply, 400, 7000112, "unauthorized_client")
    assert not directory.principal_active(db, app.object_id)


@pytest.mark.parametrize(("tenant", "code", "error"), [
    ("5f2b0a4e-0000-4000-8000-00000000abcd", 90002, "invalid_tenant"),
    ("contoso.onmicrosoft.com", 90002, "invalid_tenant"),
    ("not-a-tenant", 900023, "invalid_request"),
])
def test_bad_tenant_on_discovery_and_token(sandbox, authority, http, tenant, code, error):
    with pytest.raises(ClientAuthenticationError, match="Unable to get authority configuration"):
        ClientSecretCredential(tenant, sandbox.client_id, sandbox.client_secret, **authority).get_token(IOT_HUB_SCOPE)
    assert_entra_error(http.get(f"/{tenant}/v2.0/.well-known/openid-configuration"), 400, code, error)
    # Credentials that skip discovery see the AADSTS text itself.
    credential = ClientAssertionCredential(tenant, sandbox.client_id, lambda: "x.y.z",
                                           authority=sandbox.authority_host, retry_total=0)
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        credential.get_token(IOT_HUB_SCOPE)
    reply = http.post(f"/{tenant}/oauth2/v2.0/token", data=token_form(sandbox.client_id, client_secret="s"))
    assert_entra_error(reply, 400, code, error)


@pytest.mark.parametrize(("scopes", "code"), [
    (("https://iothubs.azure.net",), 1002012),
    (("https://iothubs.azure.net/.default", "https://graph.microsoft.com/.default"), 700022),
    (("api://no-such-api/.default",), 500011),
    (("https://iothubs.azure.us/.default",), 500011),
])
def test_scope_rules(sandbox, authority, http, scopes, code):
    credential = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret, **authority)
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        credential.get_token(*scopes)
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token",
                      data=token_form(sandbox.client_id, client_secret=sandbox.client_secret, scope=" ".join(scopes)))
    error = {1002012: "invalid_scope", 700022: "invalid_scope", 500011: "invalid_resource"}[code]
    body = assert_entra_error(reply, 400, code, error)
    if code == 500011:
        assert f"was not found in the tenant named {sandbox.tenant_id}" in body["error_description"]


def test_trailing_slash_resource_is_the_same_resource(sandbox, http):
    reply = http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=token_form(
        sandbox.client_id, client_secret=sandbox.client_secret, scope="https://iothubs.azure.net//.default"))
    assert reply.status_code == 200
    assert jwt.decode(reply.json()["access_token"], options={"verify_signature": False})["aud"] == (
        "https://iothubs.azure.net")


def test_missing_parameters_and_unknown_grant(sandbox, http):
    url = f"/{sandbox.tenant_id}/oauth2/v2.0/token"
    assert_entra_error(http.post(url, data={"grant_type": "client_credentials"}), 400, 900144, "invalid_request")
    assert_entra_error(http.post(url, data={"client_id": sandbox.client_id}), 400, 900144, "invalid_request")
    no_scope = token_form(sandbox.client_id, client_secret=sandbox.client_secret)
    del no_scope["scope"]
    assert_entra_error(http.post(url, data=no_scope), 400, 900144, "invalid_request")
    assert_entra_error(http.post(url, data={"grant_type": "password"}), 400, 70003, "unsupported_grant_type")
