"""Decoding a token for inspection: every claim explained for the kind of token it is, the raw token never shown."""

from __future__ import annotations

import pytest
from azure.identity import CertificateCredential, ClientSecretCredential, DeviceCodeCredential

from kit import tokens
from kit.credentials import sandbox_kwargs
from kit.sandbox.connection import Connection

SCOPE = "https://iothubs.azure.net/.default"


def test_claims_table_and_text(sandbox):
    token = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                   authority=sandbox.authority_host, disable_instance_discovery=True,
                                   ).get_token(SCOPE)
    rows = {row["name"]: row for row in tokens.claim_rows(token)}
    assert rows["aud"]["value"] == "https://iothubs.azure.net" and rows["appidacr"]["meaning"]
    assert "UTC" in rows["exp"]["value"]
    frame = tokens.claims_frame(token.token)
    assert list(frame.columns) == ["part", "name", "value", "meaning"] and len(frame) == len(rows)
    assert frame.attrs["kind"] == "access_token"
    text = tokens.describe(token)
    assert "an access token (app-only)" in text and "WITHOUT signature verification" in text
    assert token.token not in text
    assert all(row["meaning"] for row in rows.values())


def meanings(token, **kwargs) -> dict[str, str]:
    return {row["name"]: row["meaning"] for row in tokens.claim_rows(token, **kwargs) if row["part"] == "claims"}


def test_a_delegated_token_speaks_of_the_signed_in_person(sandbox: Connection):
    person = DeviceCodeCredential(tenant_id=sandbox.tenant_id, prompt_callback=lambda *a: None, retry_total=0,
                                  **sandbox_kwargs(sandbox))
    token = person.get_token(SCOPE)
    assert tokens.token_kind(tokens.decode_unverified(token)["claims"]) == "delegated_access_token"
    assert "signed-in person" in meanings(token)["oid"] and "delegated" in meanings(token)["scp"]


def test_a_client_assertion_is_for_the_token_endpoint_and_issued_by_the_app(sandbox: Connection):
    """The assertion CertificateCredential signs, captured from its real token request."""
    sent = []
    CertificateCredential(sandbox.tenant_id, sandbox.client_id, sandbox.certificate_path,
                          raw_request_hook=lambda request: sent.append(request.http_request),
                          **sandbox_kwargs(sandbox)).get_token(SCOPE)
    assertion = sent[-1].data["client_assertion"]
    assertion = assertion.decode() if isinstance(assertion, bytes) else assertion
    meaning = meanings(assertion)
    assert tokens.claims_frame(assertion).attrs["kind"] == "client_assertion"
    assert "token endpoint" in meaning["aud"] and "IoT Hub expects" not in meaning["aud"]
    assert "the application itself" in meaning["iss"] and "security token service" not in meaning["iss"]
    header = {row["name"]: row["meaning"] for row in tokens.claim_rows(assertion) if row["part"] == "header"}
    assert "app's certificate" in header["x5t"]


def test_an_external_workload_token_names_the_federated_credential(sandbox: Connection):
    with open(sandbox.federated_token_file) as file:
        workload = file.read().strip()
    meaning = meanings(workload)
    assert tokens.token_kind(tokens.decode_unverified(workload)["claims"]) == "workload_token"
    assert "api://AzureADTokenExchange" in meaning["aud"] and "IoT Hub" not in meaning["aud"]
    assert "external identity provider" in meaning["iss"]
    assert "a client assertion" in tokens.describe(workload, kind="client_assertion")


def test_not_a_token_and_not_a_kind():
    with pytest.raises(ValueError, match="token: expected a JWT"):
        tokens.decode_unverified("hello")
    with pytest.raises(ValueError, match="kind: 'id_token' is not one of"):
        tokens.claim_rows("a.b.c", kind="id_token")
