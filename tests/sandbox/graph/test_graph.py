"""The sandbox's Microsoft Graph (kit/sandbox/graph/): raw v1.0 REST calls with real tokens, and apps registered
through it signing in with the real azure-identity credentials."""

from __future__ import annotations

import base64
import hashlib
import uuid

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.core.rest import HttpRequest
from azure.identity import CertificateCredential, DeviceCodeCredential

from kit.sandbox.identity.directory import DEVELOPER_CLIENT_ID
from kit.sandbox.identity.keys import new_signing_key
from tests.sandbox.graph.conftest import (
    GRAPH_SCOPE,
    IOT_HUB_SCOPE,
    GraphRest,
    app_credential,
    graph_error,
)

FIC_ISSUER = "https://token.actions.githubusercontent.com"


def test_application_then_service_principal_then_secret_signs_in(sandbox, graph):
    created = graph("POST", "/applications", {"displayName": "graph-made", "keyCredentials": []})
    assert created.status_code == 201
    app = created.json()
    assert created.headers["location"].endswith(
        f"/directoryObjects/{app['id']}/Microsoft.DirectoryServices.Application")
    assert created.headers["content-type"].startswith("application/json;odata.metadata=minimal")
    assert app["@odata.context"].endswith("$metadata#applications/$entity")
    assert app["id"] != app["appId"] and app["signInAudience"] == "AzureADMyOrg"
    assert app["passwordCredentials"] == [] and app["keyCredentials"] == []

    password = graph("POST", f"/applications/{app['id']}/addPassword", {"passwordCredential": {"displayName": "nb"}})
    assert password.status_code == 200
    secret = password.json()
    assert secret["hint"] == secret["secretText"][:3] and secret["displayName"] == "nb"
    assert len(secret["secretText"]) == 40 and secret["secretText"][3:6] == "8Q~"  # shaped like Entra's
    assert secret["endDateTime"][:4] == str(int(secret["startDateTime"][:4]) + 2)  # two years by default
    credential = app_credential(sandbox, app["appId"], secret["secretText"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000229"):  # no service principal yet
        credential.get_token(IOT_HUB_SCOPE)

    sp = graph("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert sp.status_code == 201 and sp.json()["appId"] == app["appId"]
    assert sp.json()["id"] not in (app["id"], app["appId"]) and sp.json()["servicePrincipalType"] == "Application"
    message = graph_error(graph("POST", "/servicePrincipals", {"appId": app["appId"]}), 409,
                          "Request_MultipleObjectsWithSameKeyValue")
    assert app["appId"] in message
    claims = jwt.decode(credential.get_token(IOT_HUB_SCOPE).token, options={"verify_signature": False})
    assert claims["oid"] == sp.json()["id"] and claims["appid"] == app["appId"]

    stored = graph("GET", f"/applications/{app['id']}").json()["passwordCredentials"]
    assert [(p["keyId"], p["secretText"], p["hint"]) for p in stored] == [(secret["keyId"], None, secret["hint"])]
    removed = graph("POST", f"/applications/{app['id']}/removePassword", {"keyId": secret["keyId"]})
    assert removed.status_code == 204 and not removed.text()
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        app_credential(sandbox, app["appId"], secret["secretText"]).get_token(GRAPH_SCOPE)


def test_lookups_by_filter_alternate_key_and_the_appid_mistake(graph, registered):
    made = registered(f"lookup-{uuid.uuid4().hex[:6]}", secret=False)
    app = made["app"]
    by_app_id = graph("GET", f"/applications?$filter=appId eq '{app['appId']}'").json()
    assert [a["id"] for a in by_app_id["value"]] == [app["id"]]
    assert by_app_id["@odata.context"].endswith("$metadata#applications")
    prefix = graph("GET", f"/applications?$filter=startswith(displayName,'{app['displayName'][:10]}')").json()
    assert app["id"] in [a["id"] for a in prefix["value"]]
    assert graph("GET", "/applications?$filter=appId eq '00000000-0000-0000-0000-000000000000'").json()["value"] == []
    assert graph("GET", f"/applications(appId='{app['appId']}')").json()["id"] == app["id"]
    graph_error(graph("GET", "/applications(appId='not-a-guid')"), 400, "Request_BadRequest")
    assert app["appId"] in graph_error(graph("GET", f"/applications/{app['appId']}"), 404, "Request_ResourceNotFound")
    sps = graph("GET", f"/servicePrincipals?$filter=appId eq '{app['appId']}'").json()["value"]
    assert [sp["id"] for sp in sps] == [made["sp"]["id"]]
    listed = {a["appId"] for a in graph("GET", "/applications").json()["value"]}
    assert DEVELOPER_CLIENT_ID not in listed  # Microsoft's app: only its service principal is in the tenant
    graph_error(graph("GET", "/applications?$filter=publisherDomain eq 'x'"), 400, "Request_UnsupportedQuery")


def test_client_request_id_is_echoed(graph):
    response = graph("GET", "/applications/00000000-0000-0000-0000-00000000beef", **{"client-request-id": "abc-1"})
    graph_error(response, 404, "Request_ResourceNotFound")
    assert response.headers["client-request-id"] == "abc-1" != response.headers["request-id"]


def test_certificates_through_patch_key_credentials(sandbox, graph, registered, tmp_path):
    made = registered(secret=False)
    app = made["app"]
    key = new_signing_key("graph-cert")
    entry = {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.b64encode(key.der).decode(),
             "displayName": "CN=graph-cert"}
    patched = graph("PATCH", f"/applications/{app['id']}", {"keyCredentials": [entry]})
    assert patched.status_code == 204 and not patched.text()
    pem = tmp_path / "graph-cert.pem"
    pem.write_bytes(key.pem())
    CertificateCredential(sandbox.tenant_id, app["appId"], str(pem), authority=sandbox.authority_host,
                          disable_instance_discovery=True).get_token(IOT_HUB_SCOPE)

    stored = graph("GET", f"/applications/{app['id']}").json()["keyCredentials"]
    assert len(stored) == 1 and stored[0]["key"] is None and stored[0]["usage"] == "Verify"
    assert stored[0]["customKeyIdentifier"] == base64.b64encode(hashlib.sha1(key.der).digest()).decode()
    selected = graph("GET", f"/applications/{app['id']}?$select=keyCredentials").json()["keyCredentials"]
    assert base64.b64decode(selected[0]["key"]) == key.der

    second = new_signing_key("graph-cert-2")
    keep = {**stored[0], "key": None}  # what `az ad app credential reset --append` resends
    graph("PATCH", f"/applications/{app['id']}", {"keyCredentials": [
        keep, {**entry, "key": base64.b64encode(second.der).decode()}]})
    assert len(graph("GET", f"/applications/{app['id']}").json()["keyCredentials"]) == 2
    bad_usage = {"keyCredentials": [{**entry, "usage": "Encrypt"}]}
    message = graph_error(graph("PATCH", f"/applications/{app['id']}", bad_usage), 400, "Request_BadRequest")
    assert "Acceptable values are Sign, Verify" in message
    graph("PATCH", f"/applications/{app['id']}", {"keyCredentials": []})
    assert graph("GET", f"/applications/{app['id']}").json()["keyCredentials"] == []


def test_federated_credentials_crud_and_limits(graph, registered):
    app = registered(secret=False)["app"]
    path = f"/applications/{app['id']}/federatedIdentityCredentials"
    body = {"name": "gh-main", "issuer": FIC_ISSUER, "subject": "repo:o/r:ref:refs/heads/main",
            "audiences": ["api://AzureADTokenExchange"], "description": "main branch"}
    created = graph("POST", path, body)
    assert created.status_code == 201
    fic = created.json()
    assert fic["@odata.context"].endswith(f"applications('{app['id']}')/federatedIdentityCredentials/$entity")
    assert {k: fic[k] for k in body} == body and created.headers["location"].endswith(fic["id"])
    assert "must be unique" in graph_error(graph("POST", path, {**body, "name": "again"}), 400,
                                           "InvalidFederatedIdentityCredentialValue")
    graph_error(graph("POST", path, {**body, "name": "two", "audiences": ["a", "b"]}), 400, "Request_BadRequest")
    assert graph("GET", f"{path}/gh-main").json()["id"] == fic["id"]  # name is an alternate key
    for n in range(19):
        assert graph("POST", path, {**body, "name": f"env-{n}", "subject": f"repo:o/r:environment:e{n}"}
                     ).status_code == 201
    assert "20" in graph_error(graph("POST", path, {**body, "name": "one-too-many", "subject": "x"}), 400,
                               "Request_BadRequest")
    assert len(graph("GET", path).json()["value"]) == 20
    assert graph("DELETE", f"{path}/{fic['id']}").status_code == 204
    graph_error(graph("GET", f"{path}/{fic['id']}"), 404, "Request_ResourceNotFound")


def test_delete_is_a_soft_delete_and_sign_in_stops(sandbox, graph, registered):
    made = registered()
    app = made["app"]
    assert graph("DELETE", f"/applications/{app['id']}").status_code == 204
    graph_error(graph("GET", f"/applications/{app['id']}"), 404, "Request_ResourceNotFound")
    deleted = graph("GET", "/directory/deletedItems/microsoft.graph.application").json()["value"]
    assert app["id"] in [item["id"] for item in deleted]
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        app_credential(sandbox, app["appId"], made["secret"]).get_token(IOT_HUB_SCOPE)


def test_tokens_for_graph_carry_the_graph_audience_and_permissions(sandbox, admin_credential):
    claims = jwt.decode(admin_credential.get_token(GRAPH_SCOPE).token, options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com" and claims["roles"] == ["Application.ReadWrite.All"]
    learner = app_credential(sandbox, sandbox.client_id, sandbox.client_secret)
    assert "roles" not in jwt.decode(learner.get_token(GRAPH_SCOPE).token, options={"verify_signature": False})


def test_who_may_call_graph(sandbox):
    assert graph_error(GraphRest(sandbox, None)("GET", "/applications"), 401,
                       "InvalidAuthenticationToken") == "Access token is empty."
    learner = app_credential(sandbox, sandbox.client_id, sandbox.client_secret)
    hub_token = learner.get_token(IOT_HUB_SCOPE).token
    wrong = GraphRest(sandbox, None)("GET", "/applications", Authorization=f"Bearer {hub_token}")
    assert graph_error(wrong, 401, "InvalidAuthenticationToken").endswith("Invalid audience.")
    assert graph_error(GraphRest(sandbox, learner)("POST", "/applications", {"displayName": "nope"}), 403,
                       "Authorization_RequestDenied") == "Insufficient privileges to complete the operation."


def test_the_signed_in_user_manages_apps_too(sandbox):
    """The device-code user stands in for a person at the portal: delegated Application.ReadWrite.All."""
    prompts = []
    user = DeviceCodeCredential(tenant_id=sandbox.tenant_id, authority=sandbox.authority_host,
                                disable_instance_discovery=True, prompt_callback=lambda *a: prompts.append(a))
    claims = jwt.decode(user.get_token(GRAPH_SCOPE).token, options={"verify_signature": False})
    assert "Application.ReadWrite.All" in claims["scp"].split() and "roles" not in claims and prompts
    assert GraphRest(sandbox, user)("POST", "/applications", {"displayName": "by-user"}).status_code == 201


def test_lists_come_in_pages_linked_by_next_link(graph):
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    for n in range(3):
        graph("POST", "/applications", {"displayName": f"{prefix}-{n}"})
    first = graph("GET", f"/applications?$filter=startswith(displayName,'{prefix}')&$top=2").json()
    assert len(first["value"]) == 2 and first["@odata.nextLink"].startswith("https://")
    second = graph.client.send_request(HttpRequest("GET", first["@odata.nextLink"])).json()  # followed as it is
    assert [a["displayName"] for a in first["value"] + second["value"]] == [f"{prefix}-{n}" for n in range(3)]
    assert "@odata.nextLink" not in second
