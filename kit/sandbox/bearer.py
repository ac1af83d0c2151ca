"""Checking an Entra ID access token as a resource server does, shared by the hub, Graph and ARM sides.

Each side accepts its own audiences and words its own 401 (the hub's envelope, Graph's ``InvalidAuthenticationToken``,
ARM's ``InvalidAuthenticationTokenAudience``...), so :func:`decode` only says *why* a token fails
(:class:`BearerError` ``reason``) and each side maps the reason to its reply. The checks: RS256 only (``alg: none``
and HS256 are refused), the signing key from the identity side's JWKS (``ctx.directory.jwks()``, cached by
``kid``), the audience, issuer ``https://sts.windows.net/{tid}/`` of the sandbox's tenant, ``exp``/``nbf`` with
5 minutes of clock skew, and an ``oid`` claim naming the caller.

A verified token is remembered (per audience set) until it expires, so a client that sends the same token on every
call pays for the RS256 signature check once. Nothing about a token changes before then: what can change (a disabled
principal, a removed role) is checked by each side on every request, not here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from kit.sandbox.context import SandboxContext

CLOCK_SKEW_S = 300
VERIFIED_CACHE_SIZE = 1024  # distinct tokens remembered; a workshop's learners hold a few each


class BearerError(Exception):
    """Why a bearer token is refused: ``reason`` is one of ``missing``, ``not_jwt``, ``algorithm``, ``key``,
    ``expired``, ``not_yet_valid``, ``audience``, ``issuer``, ``signature``, ``no_oid``, ``invalid``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class _KeyCache:
    """The identity side's signing keys by ``kid``; refreshed when a token names a key not seen yet."""

    def __init__(self) -> None:
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._lock = threading.Lock()

    def key(self, ctx: SandboxContext, kid: str | None) -> jwt.PyJWK:
        """The key named ``kid`` (the only key when a token names none), reloading the JWKS once for an unknown one."""
        with self._lock:
            if kid not in self._keys:
                self._load(ctx)
            if kid in self._keys:
                return self._keys[kid]
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
        raise BearerError("key", str(kid))

    def _load(self, ctx: SandboxContext) -> None:
        if ctx.directory is None:
            raise BearerError("key", "the identity side is not running")
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in ctx.directory.jwks().get("keys", []):
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
        self._keys = keys


def tenant_of(ctx: SandboxContext) -> str:
    """The tenant whose tokens the sandbox's resources trust (offered by the identity side)."""
    return ctx.directory.tenant_id if ctx.directory is not None else ""


def issuer_of(ctx: SandboxContext) -> str:
    """The v1 ``iss`` every access token of the sandbox's tenant carries."""
    return f"https://sts.windows.net/{tenant_of(ctx)}/"


def unverified_audience(token: str) -> str:
    """The ``aud`` a token claims (for an error message that names it), or an empty string."""
    try:
        aud = jwt.decode(token, options={"verify_signature": False}).get("aud", "")
    except jwt.PyJWTError:
        return ""
    return aud if isinstance(aud, str) else " ".join(aud)


class _VerifiedTokens:
    """Claims of tokens verified before, by (token, audiences), until the token's ``exp`` (plus the clock skew)."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...]]) -> dict[str, Any] | None:
        found = self._claims.get(key)
        if found is None:
            return None
        if time.time() >= found[0]:  # expired: verify again, which words the refusal
            with self._lock:
                self._claims.pop(key, None)
            return None
        return found[1]

    def put(self, key: tuple[str, tuple[str, ...]], claims: dict[str, Any]) -> None:
        with self._lock:
            if len(self._claims) >= VERIFIED_CACHE_SIZE:
                self._claims.clear()
            self._claims[key] = (float(claims["exp"]) + CLOCK_SKEW_S, claims)


class TokenCaches:
    """A running sandbox's signing keys by ``kid`` and the tokens it has verified (``SandboxContext.tokens``)."""

    def __init__(self) -> None:
        self.keys = _KeyCache()
        self.verified = _VerifiedTokens()


def decode(ctx: SandboxContext, token: str, audiences: Iterable[str]) -> dict[str, Any]:
    """The verified claims of ``token`` for one of ``audiences``, else :class:`BearerError`."""
    if not token:
        raise BearerError("missing")
    verified = ctx.tokens.verified
    key = (token, tuple(audiences))
    claims = verified.get(key)
    if claims is not None:
        return claims
    claims = _verify(ctx, token, key[1])
    verified.put(key, claims)
    return claims


def _verify(ctx: SandboxContext, token: str, audiences: tuple[str, ...]) -> dict[str, Any]:
    """Every check of a token, from its header to its ``oid``."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise BearerError("not_jwt") from None
    if header.get("alg") != "RS256":
        raise BearerError("algorithm", str(header.get("alg")))
    key = ctx.tokens.keys.key(ctx, header.get("kid"))
    try:
        claims = jwt.decode(
            token, key=key, algorithms=["RS256"], audience=list(audiences), issuer=issuer_of(ctx),
            leeway=CLOCK_SKEW_S, options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise BearerError("expired") from None
    except jwt.ImmatureSignatureError:
        raise BearerError("not_yet_valid") from None
    except jwt.InvalidAudienceError:
        raise BearerError("audience", unverified_audience(token)) from None
    except jwt.InvalidIssuerError:
        raise BearerError("issuer") from None
    except jwt.InvalidSignatureError:
        raise BearerError("signature") from None
    except jwt.PyJWTError as error:
        raise BearerError("invalid", str(error)) from None
    if not claims.get("oid"):
        raise BearerError("no_oid")
    return claims


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header (empty when absent or another scheme)."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""
