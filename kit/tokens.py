"""Look inside an access token: its header and claims, each with a one-line meaning.

Decoding here does NOT verify the signature: it only reads what the token says about itself, which is what you
want when learning or debugging ("which identity did I get? for which audience?"). IoT Hub, the resource, is the
one that verifies it. The raw token is never printed: it is a bearer credential.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import jwt

__all__ = ["claim_rows", "claims_frame", "decode_unverified", "describe", "token_kind"]

if TYPE_CHECKING:
    import pandas as pd

# What each claim means in an access token that Entra ID issues (app-only, or delegated when a person signed in).
CLAIM_MEANINGS = {
    "aud": "audience: the resource the token is for (IoT Hub expects https://iothubs.azure.net)",
    "iss": "issuer: the security token service and tenant that signed it",
    "iat": "issued at",
    "nbf": "not valid before",
    "exp": "expires at (the SDK asks for a new token 5 minutes before)",
    "aio": "opaque value Entra uses internally",
    "appid": "client id of the application that asked for the token",
    "appidacr": "how the app proved itself: 0 public client, 1 client secret, 2 certificate or assertion",
    "azp": "client id of the application that asked for the token (v2 tokens)",
    "azpacr": "how the app proved itself (v2 tokens): 0 public, 1 secret, 2 certificate",
    "idp": "identity provider that authenticated the subject",
    "oid": "object id of the principal: the id role assignments are made to",
    "rh": "opaque value Entra uses to revalidate tokens",
    "sub": "subject: the principal the token is about (for app-only tokens, the same as oid)",
    "tid": "tenant (directory) id",
    "uti": "unique token id",
    "ver": "token format version (1.0 or 2.0)",
    "scp": "delegated permissions granted to the app on the user's behalf",
    "roles": "application roles granted to the principal",
    "upn": "the signed-in user's name",
    "unique_name": "the signed-in user's name (v1 tokens)",
    "name": "the signed-in user's display name",
    "amr": "how the user authenticated (pwd, mfa...)",
    "xms_mirid": "resource id of the managed identity",
    "jti": "unique token id",
}
DELEGATED_MEANINGS = {
    "sub": "subject: the signed-in person, as seen by this application (oid is their object id)",
    "oid": "object id of the signed-in person: the id role assignments are made to",
    "appidacr": "how the app proved itself: 0 for a public client such as a device-code sign-in",
}
# A client assertion: the JWT an application signs with its certificate's private key and sends instead of a secret.
CLIENT_ASSERTION_MEANINGS = {
    "aud": "audience: the token endpoint the assertion is sent to (it is for Entra ID, not for IoT Hub)",
    "iss": "issuer: the application itself (its client id): the app signs its own assertion",
    "sub": "subject: the application again (its client id), as Entra ID requires",
    "iat": "issued at",
    "nbf": "not valid before",
    "exp": "expires at: a few minutes after iat; Entra ID refuses it later (AADSTS700024)",
    "jti": "unique id, so a captured assertion cannot be replayed",
}
# An external workload token: issued by another identity provider (a Kubernetes cluster, GitHub Actions) and
# exchanged for an Entra ID token through a federated identity credential.
WORKLOAD_TOKEN_MEANINGS = {
    "aud": "audience: must equal the federated credential's audience (api://AzureADTokenExchange)",
    "iss": "issuer: the external identity provider; must equal the federated credential's issuer exactly",
    "sub": "subject: the workload (e.g. system:serviceaccount:<namespace>:<name>); must equal the credential's "
           "subject exactly",
    "iat": "issued at",
    "nbf": "not valid before",
    "exp": "expires at: the platform rotates the token file before then",
    "jti": "unique token id",
}
TOKEN_KINDS = ("access_token", "delegated_access_token", "client_assertion", "workload_token")
_KIND_MEANINGS = {
    "access_token": CLAIM_MEANINGS,
    "delegated_access_token": {**CLAIM_MEANINGS, **DELEGATED_MEANINGS},
    "client_assertion": CLIENT_ASSERTION_MEANINGS,
    "workload_token": WORKLOAD_TOKEN_MEANINGS,
}
_KIND_NAMES = {"access_token": "an access token (app-only)", "delegated_access_token": "an access token (delegated)",
               "client_assertion": "a client assertion", "workload_token": "an external workload token"}
HEADER_MEANINGS = {
    "typ": "token type",
    "alg": "signature algorithm",
    "kid": "id of the signing key in the issuer's JWKS",
    "x5t": "thumbprint of the signing certificate (v1 tokens; the same as kid)",
}
ASSERTION_HEADER_MEANINGS = {
    "x5t": "SHA-1 thumbprint of the app's certificate (base64url): the registered certificate Entra ID checks it with",
    "x5t#S256": "SHA-256 thumbprint of the app's certificate (base64url)",
}
TIME_CLAIMS = ("iat", "nbf", "exp")


def _raw(token: Any) -> str:
    """Accept a JWT string or an azure-core ``AccessToken`` / ``AccessTokenInfo`` (anything with ``.token``)."""
    value = getattr(token, "token", token)
    if not isinstance(value, str) or value.count(".") != 2:
        raise ValueError("token: expected a JWT (three dot-separated parts) or an AccessToken from get_token().")
    return value


def decode_unverified(token: Any) -> dict[str, dict[str, Any]]:
    """Header and claims, read WITHOUT verifying the signature (for inspection only, never for trust)."""
    raw = _raw(token)
    try:
        return {"header": jwt.get_unverified_header(raw),
                "claims": jwt.decode(raw, options={"verify_signature": False})}
    except jwt.PyJWTError as error:
        raise ValueError(f"token: it could not be decoded ({error}).") from None


def _shown(name: str, value: Any) -> str:
    if name in TIME_CLAIMS and isinstance(value, (int, float)):
        return f"{int(value)} ({dt.datetime.fromtimestamp(value, dt.UTC):%Y-%m-%d %H:%M:%S} UTC)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def token_kind(claims: dict[str, Any]) -> str:
    """Which kind of JWT the claims belong to: an Entra ID access token (app-only or delegated, it names a tenant
    and an application), a client assertion (an app's own statement: ``iss`` = ``sub``, sent to a token endpoint),
    or else an external workload token."""
    if "tid" in claims and ("appid" in claims or "azp" in claims):
        return "delegated_access_token" if "scp" in claims or "upn" in claims else "access_token"
    if claims.get("iss") and claims.get("iss") == claims.get("sub") and "/token" in str(claims.get("aud", "")):
        return "client_assertion"
    return "workload_token"


def claim_rows(token: Any, kind: str | None = None) -> list[dict[str, str]]:
    """One row per header field and claim: ``part``, ``name``, ``value``, ``meaning`` (pandas-ready). The meanings
    fit the token's kind (see :func:`token_kind`; ``kind`` overrides it): ``aud`` of a client assertion is a token
    endpoint, not IoT Hub."""
    if kind is not None and kind not in _KIND_MEANINGS:
        raise ValueError(f"kind: '{kind}' is not one of {', '.join(TOKEN_KINDS)}.")
    decoded = decode_unverified(token)
    kind = kind or token_kind(decoded["claims"])
    meanings = _KIND_MEANINGS[kind]
    header_meanings = HEADER_MEANINGS | (ASSERTION_HEADER_MEANINGS if kind == "client_assertion" else {})
    rows = [{"part": "header", "name": k, "value": _shown(k, v), "meaning": header_meanings.get(k, "")}
            for k, v in decoded["header"].items()]
    rows += [{"part": "claims", "name": k, "value": _shown(k, v), "meaning": meanings.get(k, "")}
             for k, v in decoded["claims"].items()]
    return rows


def claims_frame(token: Any, kind: str | None = None) -> pd.DataFrame:
    """The claim rows as a pandas DataFrame (pandas is imported only when this is called); ``frame.attrs["kind"]``
    names the token's kind."""
    import pandas as pd

    kind = kind or token_kind(decode_unverified(token)["claims"])
    frame = pd.DataFrame(claim_rows(token, kind), columns=["part", "name", "value", "meaning"])
    frame.attrs["kind"] = kind
    return frame


def describe(token: Any, kind: str | None = None) -> str:
    """A plain-text table of the header and claims, labelled with the token's kind and as unverified."""
    kind = kind or token_kind(decode_unverified(token)["claims"])
    rows = claim_rows(token, kind)
    width = max(len(row["name"]) for row in rows)
    value_width = min(max(len(row["value"]) for row in rows), 60)
    lines = [f"Token contents, {_KIND_NAMES[kind]} (decoded WITHOUT signature verification):"]
    part = None
    for row in rows:
        if row["part"] != part:
            part = row["part"]
            lines.append(f"[{part}]")
        lines.append(f"  {row['name']:<{width}}  {row['value']:<{value_width}}  {row['meaning']}".rstrip())
    return "\n".join(lines)
