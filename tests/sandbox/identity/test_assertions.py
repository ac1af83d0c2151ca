"""Certificate and federated assertions, sent by the real CertificateCredential, ClientAssertionCredential and
WorkloadIdentityCredential, in every form Entra accepts, and each way they fail."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientAssertionCredential, WorkloadIdentityCredential

from kit.sandbox.identity import external_issuer
from kit.sandbox.identity.keys import load_pem, new_signing_key
from tests.sandbox.identity.conftest import IOT_HUB_SCOPE, assert_entra_error, token_form


@pytest.fixture(scope="module")
def learner_key(sandbox):
    return load_pem(Path(sandbox.certificate_path).read_bytes())


@pytest.fixture(scope="module")
def stranger_key():
    return new_signing_key("not registered anywhere")


def cert_assertion(sandbox, signing, thumb_key=None, alg="RS256", thumbprint="x5t", **claims) -> str:
    """A client assertion as a certificate-holding app signs it; ``thumb_key`` names the certificate in the header."""
    named = thumb_key or signing
    digest = hashlib.sha256 if thumbprint == "x5t#S256" else hashlib.sha1
    header = {"x5t#S256": base64.urlsafe_b64encode(digest(named.der).digest()).decode().rstrip("="),
              "x5t": base64.urlsafe_b64encode(digest(named.der).digest()).decode().rstrip("="),
              "none": None}[thumbprint]
    headers = {thumbprint: header} if header else {}
    now = time.time()
    body = {"aud": f"{sandbox.authority_host}/{sandbox.tenant_id}/oauth2/v2.0/token", "iss": sandbox.client_id,
            "sub": sandbox.client_id, "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, signing.private_key, algorithm=alg, headers=headers)


def assertion_credential(sandbox, assertion: str) -> ClientAssertionCredential:
    return ClientAssertionCredential(sandbox.tenant_id, sandbox.client_id, lambda: assertion,
                                     authority=sandbox.authority_host, retry_total=0)


def appidacr(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["appidacr"]


@pytest.mark.parametrize("send_chain", [False, True], ids=["x5t-padded", "x5c"])
def test_certificate_credential(sandbox, authority, send_chain):
    credential = CertificateCredential(sandbox.tenant_id, sandbox.client_id, sandbox.certificate_path,
                                       send_certificate_chain=send_chain, **authority)
    assert appidacr(credential.get_token(IOT_HUB_SCOPE).token) == "2"


@pytest.mark.parametrize(("alg", "thumbprint"), [("PS256", "x5t#S256"), ("RS256", "x5t"), ("PS256", "x5t")])
def test_hand_made_assertions_in_other_accepted_forms(sandbox, learner_key, alg, thumbprint):
    assertion = cert_assertion(sandbox, learner_key, alg=alg, thumbprint=thumbprint)
    assert appidacr(assertion_credential(sandbox, assertion).get_token(IOT_HUB_SCOPE).token) == "2"


def test_unregistered_certificate_is_700027(sandbox, authority, stranger_key, tmp_path):
    pem = tmp_path / "stranger.pem"
    pem.write_bytes(stranger_key.pem())
    credential = CertificateCredential(sandbox.tenant_id, sandbox.client_id, str(pem), **authority)
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS700027.*'{stranger_key.sha1_hex}'"):
        credential.get_token(IOT_HUB_SCOPE)


@pytest.mark.parametrize(("case", "code", "status", "error"), [
    ("signed-by-another-key", 700027, 401, "invalid_client"),
    ("expired", 700024, 401, "invalid_client"),
    ("wrong-audience", 700023, 401, "invalid_client"),
    ("sub-is-not-client", 700021, 401, "invalid_client"),
    ("no-thumbprint", 50027, 400, "invalid_request"),
])
def test_bad_certificate_assertions(sandbox, http, learner_key, stranger_key, case, code, status, error):
    assertion = {
        "signed-by-another-key": lambda: cert_assertion(sandbox, stranger_key, thumb_key=learner_key),
        "expired": lambda: cert_assertion(sandbox, learner_key, nbf=time.time() - 7200, exp=time.time() - 3600),
        "wrong-audience": lambda: cert_assertion(sandbox, learner_key, aud="https://login.microsoftonline.com/x/"),
        "sub-is-not-client": lambda: cert_assertion(sandbox, learner_key, sub=str(uuid.uuid4())),
        "no-thumbprint": lambda: cert_assertion(sandbox, learner_key, thumbprint="none"),
    }[case]()
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        assertion_credential(sandbox, assertion).get_token(IOT_HUB_SCOPE)
    form = token_form(sandbox.client_id, client_assertion=assertion,
                      client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    assert_entra_error(http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=form), status, code, error)


def test_workload_identity_with_the_projected_token_file(sandbox):
    credential = WorkloadIdentityCredential(tenant_id=sandbox.tenant_id, client_id=sandbox.client_id,
                                            token_file_path=sandbox.federated_token_file,
                                            authority=sandbox.authority_host, retry_total=0)
    assert appidacr(credential.get_token(IOT_HUB_SCOPE).token) == "2"
    assert Path(sandbox.federated_token_file).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("case", "code"), [
    ("other-issuer", 700211), ("other-subject", 700213), ("subject-case", 7002138), ("other-audience", 700212),
    ("expired", 700024), ("forged", 50013),
])
def test_bad_federated_assertions(sandbox, http, stranger_key, case, code):
    key = external_issuer.signing_key(Path(sandbox.state_dir))
    issuer = sandbox.external_issuer
    token = {
        "other-issuer": lambda: external_issuer.mint_workload_token(key, "https://token.actions.githubusercontent.com"),
        "other-subject": lambda: external_issuer.mint_workload_token(key, issuer,
                                                                     "system:serviceaccount:workshop:frontend"),
        "subject-case": lambda: external_issuer.mint_workload_token(key, issuer,
                                                                    "system:serviceaccount:Workshop:backend"),
        "other-audience": lambda: external_issuer.mint_workload_token(key, issuer, audience="api://other"),
        "expired": lambda: external_issuer.mint_workload_token(key, issuer, lifetime_s=60,
                                                               issued_at=time.time() - 7200),
        "forged": lambda: external_issuer.mint_workload_token(stranger_key, issuer),
    }[case]()
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS{code}"):
        assertion_credential(sandbox, token).get_token(IOT_HUB_SCOPE)
    form = token_form(sandbox.client_id, client_assertion=token,
                      client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    assert_entra_error(http.post(f"/{sandbox.tenant_id}/oauth2/v2.0/token", data=form), 401, code, "invalid_client")
