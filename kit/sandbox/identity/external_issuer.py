"""A built-in external OIDC issuer, like a Kubernetes cluster's service-account issuer or GitHub Actions' OIDC.

It has its own discovery document and JWKS under ``/external-issuer`` and signs short-lived workload tokens
(``sub`` such as ``system:serviceaccount:workshop:backend``, ``aud`` ``api://AzureADTokenExchange``). An app
trusts them through a federated identity credential; the sandbox keeps a projected token file fresh, as kubelet does.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kit.sandbox.identity.directory import FIC_AUDIENCE
from kit.sandbox.identity.keys import SigningKey, stored_key
from kit.sandbox.paths import SECRETS_DIR, write_private

log = logging.getLogger("kit.sandbox.identity")

PATH = "/external-issuer"
KEY_NAME = "external-issuer-signing"
DEFAULT_SUBJECT = "system:serviceaccount:workshop:backend"
TOKEN_LIFETIME_S = 3600
ROTATE_EVERY_S = 600
TOKEN_FILE = "federated-token"


def issuer_url(base_url: str) -> str:
    """The external issuer's URL on this sandbox: the ``iss`` a federated credential must name exactly."""
    return base_url.rstrip("/") + PATH


def signing_key(state_dir: Path) -> SigningKey:
    """The external issuer's own key, distinct from Entra's, as a real workload issuer's would be."""
    return stored_key(state_dir, KEY_NAME, "sandbox external workload issuer")


def token_file(state_dir: Path) -> Path:
    """Where the projected workload token lives (``AZURE_FEDERATED_TOKEN_FILE`` points here)."""
    return state_dir / SECRETS_DIR / TOKEN_FILE


def mint_workload_token(key: SigningKey, issuer: str, subject: str = DEFAULT_SUBJECT,
                        audience: str = FIC_AUDIENCE, lifetime_s: int = TOKEN_LIFETIME_S,
                        issued_at: float | None = None) -> str:
    """A workload token as a Kubernetes API server would project it into a pod."""
    now = int(issued_at if issued_at is not None else time.time())
    claims = {"iss": issuer, "sub": subject, "aud": [audience], "iat": now, "nbf": now, "exp": now + lifetime_s,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def write_token_file(state_dir: Path, key: SigningKey, issuer: str) -> Path:
    """Write a fresh workload token (0600), as the platform refreshes a projected token."""
    return write_private(token_file(state_dir), mint_workload_token(key, issuer))


def verify_workload_token(key: SigningKey, token: str) -> dict[str, Any]:
    """Check the signature only; the token endpoint reports time and audience problems with their own codes."""
    return jwt.decode(token, key.private_key.public_key(), algorithms=["RS256"],
                      options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False})


def rotation(state_dir: Path, key: SigningKey, issuer: str) -> Callable[[], Coroutine[Any, Any, None]]:
    """A coroutine factory that rewrites the token file every ``ROTATE_EVERY_S``, long before it expires."""

    async def rotate() -> None:
        while True:
            await asyncio.sleep(ROTATE_EVERY_S)
            write_token_file(state_dir, key, issuer)
            log.info("rotated the federated token file")

    return rotate


def routes(key: SigningKey) -> list[Route]:
    async def discovery(request: Request) -> JSONResponse:
        issuer = issuer_url(str(request.base_url))
        return JSONResponse({
            "issuer": issuer, "jwks_uri": f"{issuer}/openid/v1/jwks",
            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [{k: v for k, v in key.jwk().items() if k not in ("x5c", "x5t")}]})

    return [
        Route(PATH + "/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route(PATH + "/openid/v1/jwks", jwks, methods=["GET"]),
    ]
