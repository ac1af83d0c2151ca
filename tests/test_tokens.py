"""Decoding a token for inspection: every claim explained, the raw token never shown."""

from __future__ import annotations

import pytest
from azure.identity import ClientSecretCredential

from kit import tokens


def test_claims_table_and_text(sandbox):
    token = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                   authority=sandbox.authority_host, disable_instance_discovery=True,
                                   ).get_token("https://iothubs.azure.net/.default")
    rows = {row["name"]: row for row in tokens.claim_rows(token)}
    assert rows["aud"]["value"] == "https://iothubs.azure.net" and rows["appidacr"]["meaning"]
    assert "UTC" in rows["exp"]["value"]
    frame = tokens.claims_frame(token.token)
    assert list(frame.columns) == ["part", "name", "value", "meaning"] and len(frame) == len(rows)
    text = tokens.describe(token)
    assert "WITHOUT signature verification" in text and token.token not in text
    assert all(row["meaning"] for row in rows.values())


def test_not_a_token():
    with pytest.raises(ValueError, match="token: expected a JWT"):
        tokens.decode_unverified("hello")
