"""Discovery documents, JWKS and instance discovery, as msal and a resource server read them."""

from __future__ import annotations

from tests.sandbox.identity.conftest import assert_entra_error


def test_tenant_discovery_document(sandbox, http):
    reply = http.get(f"/{sandbox.tenant_domain}/v2.0/.well-known/openid-configuration")
    doc = reply.json()
    authority = f"{sandbox.authority_host}/{sandbox.tenant_id}"
    assert doc["token_endpoint"] == f"{authority}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{authority}/oauth2/v2.0/authorize"
    assert doc["device_authorization_endpoint"] == f"{authority}/oauth2/v2.0/devicecode"
    assert doc["issuer"] == f"{authority}/v2.0" and doc["jwks_uri"] == f"{authority}/discovery/v2.0/keys"
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    assert reply.headers["cache-control"] == "max-age=86400, private"
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert {"response_modes_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
            "response_types_supported", "scopes_supported", "request_uri_parameter_supported", "userinfo_endpoint",
            "http_logout_supported", "frontchannel_logout_supported", "end_session_endpoint", "claims_supported",
            "kerberos_endpoint", "tenant_region_scope", "cloud_instance_name", "cloud_graph_host_name",
            "msgraph_host", "rbac_url"} <= doc.keys()
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"] and doc["request_uri_parameter_supported"] is False
    assert http.get("/organizations/v2.0/.well-known/openid-configuration").json()["issuer"].endswith(
        "/{tenantid}/v2.0")


def test_jwks_keys_carry_kid_equal_to_x5t(sandbox, http):
    for path in (f"/{sandbox.tenant_id}/discovery/v2.0/keys", f"/{sandbox.tenant_id}/discovery/keys"):
        (key,) = http.get(path).json()["keys"]
        assert key["kty"] == "RSA" and key["kid"] == key["x5t"] and key["x5c"] and key["e"] == "AQAB"
    assert_entra_error(http.get("/bad_tenant!/discovery/v2.0/keys"), 400, 900023, "invalid_request")


def test_instance_discovery(sandbox, http):
    reply = http.get("/common/discovery/instance", params={
        "api-version": "1.1", "authorization_endpoint": f"https://localhost/{sandbox.tenant_id}/oauth2/v2.0/authorize"})
    body = reply.json()
    assert body["tenant_discovery_endpoint"] == (
        f"{sandbox.authority_host}/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration")
    assert "localhost" in body["metadata"][0]["aliases"]
