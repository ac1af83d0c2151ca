"""The device code flow with the real DeviceCodeCredential: one pending poll, then the seeded user's tokens."""

from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DeviceCodeCredential

from kit.sandbox.identity import directory
from tests.sandbox.identity.conftest import IOT_HUB_SCOPE, assert_entra_error


def test_device_code_credential_signs_in_the_sandbox_user(sandbox, authority):
    prompts = []
    credential = DeviceCodeCredential(tenant_id=sandbox.tenant_id, prompt_callback=lambda *a: prompts.append(a),
                                      **authority)
    claims = jwt.decode(credential.get_token(IOT_HUB_SCOPE).token, options={"verify_signature": False})
    (uri, user_code, _expires), = prompts
    assert uri == f"{sandbox.authority_host}/devicelogin" and len(user_code) == 9
    assert claims["appid"] == directory.DEVELOPER_CLIENT_ID and claims["appidacr"] == "0"
    assert claims["upn"] == f"learner@{sandbox.tenant_domain}" and claims["aud"] == "https://iothubs.azure.net"


def test_polling_first_pending_then_tokens_and_refresh(sandbox, http):
    base = f"/{sandbox.tenant_id}/oauth2/v2.0"
    flow = http.post(f"{base}/devicecode", data={
        "client_id": directory.DEVELOPER_CLIENT_ID, "scope": f"{IOT_HUB_SCOPE} offline_access openid profile"}).json()
    assert flow["interval"] == 1 and flow["expires_in"] == 900 and flow["user_code"] in flow["message"]
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": flow["device_code"],
            "client_id": directory.DEVELOPER_CLIENT_ID}
    assert_entra_error(http.post(f"{base}/token", data=poll), 400, 70016, "authorization_pending")
    tokens = http.post(f"{base}/token", data=poll).json()
    assert {"access_token", "refresh_token", "id_token", "client_info", "scope"} <= tokens.keys()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": IOT_HUB_SCOPE,
               "client_id": directory.DEVELOPER_CLIENT_ID}
    first = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    refreshed = jwt.decode(http.post(f"{base}/token", data=refresh).json()["access_token"],
                           options={"verify_signature": False})
    same_person = ("aud", "tid", "oid", "upn", "appid", "appidacr", "scp")
    assert {claim: refreshed[claim] for claim in same_person} == {claim: first[claim] for claim in same_person}
    assert refreshed["upn"] == f"learner@{sandbox.tenant_domain}" and refreshed["aud"] == "https://iothubs.azure.net"
    assert refreshed["iat"] >= first["iat"] and refreshed["exp"] > refreshed["iat"]
    assert_entra_error(http.post(f"{base}/token", data=poll), 400, 70018, "bad_verification_code")
    refresh["refresh_token"] = "1.Anot-a-real-token"
    assert_entra_error(http.post(f"{base}/token", data=refresh), 400, 9002313, "invalid_grant")


def test_confidential_app_cannot_use_device_code(sandbox, authority):
    credential = DeviceCodeCredential(tenant_id=sandbox.tenant_id, client_id=sandbox.client_id,
                                      prompt_callback=lambda *a: None, **authority)
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000218"):
        credential.get_token(IOT_HUB_SCOPE)
