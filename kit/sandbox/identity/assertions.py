"""Client assertions: a certificate-signed JWT (``private_key_jwt``) or an external workload token (federation).

Entra tells the two apart by the assertion's issuer: an app signs its own assertion (``iss`` = ``sub`` = client
id); a federated assertion comes from another issuer and must match one of the app's federated credentials.
Accepted forms follow what real clients send: RS256 or PS256; ``x5t`` base64url SHA-1 with or without padding,
``x5t#S256`` or ``x5c``; float ``exp``/``iat`` and no ``nbf`` (azure-identity's assertions).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import jwt
from cryptography import x509

from kit.sandbox.identity import directory, errors
from kit.sandbox.identity.external_issuer import verify_workload_token
from kit.sandbox.identity.keys import der_thumbprints
from kit.sandbox.identity.service import IdentityService

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_S = 300
ALGORITHMS = ("RS256", "PS256")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _entra_time(epoch: float | None) -> str:
    value = time.gmtime(epoch or 0)
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", value)


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return jwt.get_unverified_header(assertion), jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise errors.MALFORMED_ASSERTION(reason="The client assertion is not a well-formed JWT.") from None


def check_time(claims: dict[str, Any]) -> None:
    """Entra's window check: ``exp`` in the future and ``nbf`` (when present) not in the future, with skew."""
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp < now - CLOCK_SKEW_S or (
            isinstance(nbf, (int, float)) and nbf > now + CLOCK_SKEW_S):
        raise errors.ASSERTION_TIME(now=_entra_time(now), nbf=_entra_time(nbf if isinstance(nbf, (int, float)) else 0),
                                    exp=_entra_time(exp if isinstance(exp, (int, float)) else 0))


def authenticate(service: IdentityService, principal: directory.Principal, assertion: str,
                 token_urls: set[str]) -> None:
    """Accept the assertion for ``principal`` or raise the AADSTS error Entra would give."""
    header, claims = _unverified(assertion)
    if str(claims.get("iss", "")).lower() == principal.client_id.lower():
        _certificate_assertion(service, principal, assertion, header, claims, token_urls)
    else:
        _federated_assertion(service, principal, assertion, claims)


def _thumbprints(header: dict[str, Any]) -> tuple[str | None, str | None]:
    """(SHA-1, SHA-256) upper-case hex from ``x5t``, ``x5t#S256`` or the first ``x5c`` certificate."""
    try:
        if header.get("x5c"):
            der = base64.b64decode(header["x5c"][0])
            x509.load_der_x509_certificate(der)
            return der_thumbprints(der)
        sha1 = _unb64url(header["x5t"]).hex().upper() if header.get("x5t") else None
        sha256 = _unb64url(header["x5t#S256"]).hex().upper() if header.get("x5t#S256") else None
    except (binascii.Error, ValueError, TypeError, IndexError):
        raise errors.MALFORMED_ASSERTION(
            reason="The certificate thumbprint in the token header is malformed.") from None
    return sha1, sha256


def _certificate_assertion(service: IdentityService, principal: directory.Principal, assertion: str,
                           header: dict[str, Any], claims: dict[str, Any], token_urls: set[str]) -> None:
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise errors.MALFORMED_ASSERTION(reason=f"The token is signed with '{algorithm}'; use RS256 or PS256.")
    sha1, sha256 = _thumbprints(header)
    if not sha1 and not sha256:
        raise errors.NO_THUMBPRINT()
    if str(claims.get("sub", "")).lower() != principal.client_id.lower():
        raise errors.ASSERTION_CLIENT_MISMATCH()
    certificate = directory.registered_certificate(service.db, principal, sha1, sha256)
    if certificate is None:
        raise errors.KEY_NOT_FOUND(thumbprint=sha1 or sha256, client_id=principal.client_id)
    try:
        jwt.decode(assertion, certificate.public_key(), algorithms=[algorithm],
                   options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})
    except jwt.PyJWTError:
        raise errors.BAD_SIGNATURE(thumbprint=sha1 or sha256,
                                   start=_entra_time(certificate.not_valid_before_utc.timestamp()),
                                   end=_entra_time(certificate.not_valid_after_utc.timestamp())) from None
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if not any(str(aud).rstrip("/").lower() in token_urls for aud in audiences):
        raise errors.ASSERTION_AUDIENCE()
    check_time(claims)


def _federated_assertion(service: IdentityService, principal: directory.Principal, assertion: str,
                         claims: dict[str, Any]) -> None:
    issuer, subject = claims.get("iss"), claims.get("sub")
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    credentials = [f for f in directory.federated_credentials(service.db, principal) if f["issuer"] == issuer]
    if not credentials:
        raise errors.FIC_ISSUER(issuer=issuer)
    exact = [f for f in credentials if f["subject"] == subject]
    if not exact:
        folded = str(subject).casefold()
        if any(str(f["subject"]).casefold() == folded for f in credentials):
            raise errors.FIC_SUBJECT_CASE(subject=subject)  # Entra matches subjects case-sensitively since 2024
        raise errors.FIC_SUBJECT(subject=subject)
    credentials = exact
    if not any(f["audience"] in audiences for f in credentials):
        raise errors.FIC_AUDIENCE(audience=", ".join(str(a) for a in audiences))
    if issuer != service.external_issuer:
        raise errors.FIC_SIGNATURE(reason=f"The signing keys of issuer '{issuer}' could not be retrieved; the "
                                          "sandbox is offline and can only verify its own external issuer.")
    try:
        verify_workload_token(service.external_key, assertion)
    except jwt.PyJWTError:
        raise errors.FIC_SIGNATURE(reason="Key was found, but use of the key to verify the signature failed.") from None
    check_time(claims)
