"""Minting the JWTs Entra issues: v1 access tokens for IoT Hub, Microsoft Graph and ARM, and v2 ID tokens for the
device-code user.

An access token carries the resource it was asked for as ``aud`` (``https://iothubs.azure.net``,
``https://graph.microsoft.com``, ``https://management.azure.com``), so each resource refuses the others' tokens. A
token for ``https://iothubs.azure.net`` carries the v1 claims a resource like IoT Hub receives
(``iss`` ``https://sts.windows.net/{tid}/``, ``appid``, ``appidacr``, ``oid``...), is signed RS256 with the key
published in the tenant's JWKS, and is backdated 5 minutes (``iat`` = ``nbf``), as real tokens are.

``mint_access_token`` lets tests of the hub make tokens directly, including deliberately bad ones (forged,
expired, for another audience), without going through a credential.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import jwt

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.identity import directory
from kit.sandbox.identity.keys import SigningKey, b64url, new_signing_key, stored_key

IOT_HUB_RESOURCE = "https://iothubs.azure.net"
GRAPH_RESOURCE = "https://graph.microsoft.com"
ARM_RESOURCE = "https://management.azure.com"
ARM_CLASSIC_RESOURCE = "https://management.core.windows.net/"  # what ``az`` asks for; the token's aud keeps the slash
KNOWN_RESOURCES = (IOT_HUB_RESOURCE, GRAPH_RESOURCE, ARM_RESOURCE, ARM_CLASSIC_RESOURCE)
ACCESS_TOKEN_LIFETIME_S = 3599
# Sandbox only: a shorter lifetime set with `python -m kit.sandbox token lifetime SECONDS`, so a test (or a learner)
# can watch a token expire during a session and the SDK get a new one. Kept in the sandbox's settings table.
LIFETIME_SETTING = "entra_access_token_lifetime_s"
BACKDATE_S = 300
ENTRA_KEY_NAME = "entra-signing"

# appidacr: how the client authenticated ("0" public client, "1" secret, "2" certificate or assertion).
APPIDACR_PUBLIC, APPIDACR_SECRET, APPIDACR_CERTIFICATE = "0", "1", "2"


def entra_signing_key(state_dir: Path) -> SigningKey:
    """The key that signs every access token; kept in the state folder so tokens stay valid across restarts."""
    return stored_key(state_dir, ENTRA_KEY_NAME, "sandbox Entra ID token signing")


def sts_issuer(tenant_id: str) -> str:
    """The v1 ``iss`` of access tokens for IoT Hub (``sts.windows.net``), which the hub checks."""
    return f"https://sts.windows.net/{tenant_id}/"


def _opaque(length: int = 22) -> str:
    return b64url(secrets.token_bytes(length))[:length]


def access_token_claims(tenant_id: str, object_id: str, app_id: str, appidacr: str,
                        audience: str = IOT_HUB_RESOURCE, now: float | None = None,
                        lifetime_s: int = ACCESS_TOKEN_LIFETIME_S, **extra: Any) -> dict[str, Any]:
    """The v1 claims of an access token; ``exp`` is ``lifetime_s`` after issuance, ``iat``/``nbf`` 5 min before."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "aud": audience, "iss": sts_issuer(tenant_id),
        "iat": issued - BACKDATE_S, "nbf": issued - BACKDATE_S, "exp": issued + lifetime_s,
        "aio": _opaque(40), "appid": app_id, "appidacr": appidacr, "idp": sts_issuer(tenant_id),
        "oid": object_id, "rh": f"1.A{_opaque(40)}.", "sub": object_id, "tid": tenant_id,
        "uti": _opaque(), "ver": "1.0",
    }
    claims.update(extra)
    return claims


def access_token_lifetime_s(db: Database) -> int:
    """How long the access tokens issued now last: 3599 s (the ``expires_in`` of Entra's app-only responses; Entra's
    default lifetime varies between 60 and 90 minutes), unless the sandbox was set to a shorter lifetime."""
    return int(settings_store.get(db, LIFETIME_SETTING) or ACCESS_TOKEN_LIFETIME_S)


def set_access_token_lifetime_s(db: Database, seconds: int | None) -> int:
    """Set the lifetime of the access tokens issued from now on (None: back to the default); returns it."""
    if seconds is not None and not 5 <= seconds <= ACCESS_TOKEN_LIFETIME_S:
        raise ValueError(f"seconds: {seconds} is outside 5 to {ACCESS_TOKEN_LIFETIME_S}; give a lifetime in that "
                         "range, or 'default'.")
    settings_store.put(db, LIFETIME_SETTING, str(seconds or ACCESS_TOKEN_LIFETIME_S))
    return access_token_lifetime_s(db)


def lifetime_of(token: str) -> int:
    """The lifetime a token was issued with (``exp`` minus the issuance time), for the ``expires_in`` fields."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"] - claims["iat"] - BACKDATE_S)


def sign(claims: dict[str, Any], key: SigningKey, kid: str | None = None) -> str:
    """RS256 with the header Entra's v1 tokens carry: ``typ``, ``alg``, ``x5t`` and ``kid`` (the same value)."""
    kid = kid or key.kid
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"typ": "JWT", "x5t": kid, "kid": kid})


def id_token(key: SigningKey, issuer: str, client_id: str, user: directory.User, lifetime_s: int = 3600) -> str:
    """A v2 ID token for a signed-in user (msal checks ``iss`` against discovery and ``aud`` against the client)."""
    now = int(time.time())
    claims = {
        "aud": client_id, "iss": issuer, "iat": now - BACKDATE_S, "nbf": now - BACKDATE_S, "exp": now + lifetime_s,
        "name": user.display_name, "oid": user.object_id, "preferred_username": user.upn,
        "sub": b64url(uuid.uuid5(uuid.NAMESPACE_URL, user.object_id + client_id).bytes), "tid": user.tenant_id,
        "uti": _opaque(), "ver": "2.0",
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def client_info(user: directory.User) -> str:
    """msal's ``client_info``: base64url of ``{"uid", "utid"}``, which names the account in its cache."""
    raw = json.dumps({"uid": user.object_id, "utid": user.tenant_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def mint_access_token(state_dir: str | Path, object_id: str, *, app_id: str | None = None,
                      tenant_id: str | None = None, audience: str = IOT_HUB_RESOURCE,
                      lifetime_s: int = ACCESS_TOKEN_LIFETIME_S, issued_at: float | None = None,
                      forged: bool = False, **extra: Any) -> str:
    """Mint an access token as the sandbox's Entra would, for tests of the hub side.

    ``object_id`` is the principal the token names (``oid``/``sub``); ``app_id`` defaults to that principal's client
    id and ``tenant_id`` to the default tenant. For negative tests: ``issued_at`` in the past (with a short
    ``lifetime_s``) gives an expired token, ``audience`` another resource, and ``forged=True`` a token that claims
    the real signing key's ``kid`` but is signed with a different key, so its signature fails.
    """
    folder = Path(state_dir)
    db = directory.open_directory(Database.in_state_dir(folder))
    try:
        principal = directory.principal_by_object_id(db, object_id)
        tenant = tenant_id or (principal.tenant_id if principal else directory.require_default_tenant(db).tenant_id)
        app = app_id or (principal.client_id if principal else str(uuid.uuid4()))
    finally:
        db.close()
    key = entra_signing_key(folder)
    claims = access_token_claims(tenant, object_id, app, APPIDACR_SECRET, audience, issued_at, lifetime_s, **extra)
    return sign(claims, new_signing_key("forger") if forged else key, kid=key.kid)
