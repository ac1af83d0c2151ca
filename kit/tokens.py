"""Look inside an access token: its header and claims, each with a one-line meaning.

Decoding here does NOT verify the signature: it only reads what the token says about itself, which is what you
want when learning or debugging ("which identity did I get? for which audience?"). IoT Hub, the resource, is the
one that verifies it. The raw token is never printed: it is a bearer credential.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    import pandas as pd

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
HEADER_MEANINGS = {
    "typ": "token type",
    "alg": "signature algorithm",
    "kid": "id of the signing key in the issuer's JWKS",
    "x5t": "thumbprint of the signing certificate (v1 tokens; the same as kid)",
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


def claim_rows(token: Any) -> list[dict[str, str]]:
    """One row per header field and claim: ``part``, ``name``, ``value``, ``meaning`` (pandas-ready)."""
    decoded = decode_unverified(token)
    rows = [{"part": "header", "name": k, "value": _shown(k, v), "meaning": HEADER_MEANINGS.get(k, "")}
            for k, v in decoded["header"].items()]
    rows += [{"part": "claims", "name": k, "value": _shown(k, v), "meaning": CLAIM_MEANINGS.get(k, "")}
             for k, v in decoded["claims"].items()]
    return rows


def claims_frame(token: Any) -> pd.DataFrame:
    """The claim rows as a pandas DataFrame (pandas is imported only when this is called)."""
    import pandas as pd

    return pd.DataFrame(claim_rows(token), columns=["part", "name", "value", "meaning"])


def describe(token: Any) -> str:
    """A plain-text table of the header and claims, labelled as unverified."""
    rows = claim_rows(token)
    width = max(len(row["name"]) for row in rows)
    value_width = min(max(len(row["value"]) for row in rows), 60)
    lines = ["Token contents (decoded WITHOUT signature verification):"]
    part = None
    for row in rows:
        if row["part"] != part:
            part = row["part"]
            lines.append(f"[{part}]")
        lines.append(f"  {row['name']:<{width}}  {row['value']:<{value_width}}  {row['meaning']}".rstrip())
    return "\n".join(lines)
