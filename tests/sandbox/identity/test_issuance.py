"""Tokens minted for tests of the hub verify, or fail, against the JWKS the hub is given."""

from __future__ import annotations

import time

import jwt
import pytest

from kit.sandbox.identity import issuance


def _verify(http, sandbox, token):
    keys = jwt.PyJWKSet.from_dict(http.get(f"/{sandbox.tenant_id}/discovery/v2.0/keys").json())
    key = keys[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=issuance.IOT_HUB_RESOURCE)


def test_minted_tokens(sandbox, http, db):
    oid = db.scalar("SELECT object_id FROM principals WHERE client_id = ?", (sandbox.client_id,))
    claims = _verify(http, sandbox, issuance.mint_access_token(sandbox.state_dir, oid))
    assert claims["appid"] == sandbox.client_id and claims["tid"] == sandbox.tenant_id
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(http, sandbox, issuance.mint_access_token(sandbox.state_dir, oid, forged=True))
    with pytest.raises(jwt.ExpiredSignatureError):
        _verify(http, sandbox, issuance.mint_access_token(sandbox.state_dir, oid, issued_at=time.time() - 7200))
    with pytest.raises(jwt.InvalidAudienceError):
        _verify(http, sandbox, issuance.mint_access_token(sandbox.state_dir, oid, audience="https://vault.azure.net"))
