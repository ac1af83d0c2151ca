"""The built-in external issuer: discovery, JWKS, and the projected token it signs."""

from __future__ import annotations

from pathlib import Path

import jwt


def test_projected_token_verifies_with_the_issuers_jwks(sandbox, http):
    doc = http.get(f"{sandbox.external_issuer}/.well-known/openid-configuration").json()
    assert doc["issuer"] == sandbox.external_issuer
    keys = jwt.PyJWKSet.from_dict(http.get(doc["jwks_uri"]).json())
    token = Path(sandbox.federated_token_file).read_text()
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="api://AzureADTokenExchange",
                        issuer=sandbox.external_issuer)
    assert claims["sub"] == "system:serviceaccount:workshop:backend"
