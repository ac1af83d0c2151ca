"""How the sandbox's Azure Resource Manager answers: its headers, its error envelope, api-versions and token checks.

Every reply carries ``x-ms-request-id``, ``x-ms-correlation-request-id`` (the same GUID), ``x-ms-routing-request-id``
(``REGION:timestamp:guid``), ``cache-control: no-cache``, ``pragma: no-cache``, ``expires: -1`` and
``application/json; charset=utf-8``. Errors use ``{"error":{"code","message"}}`` (control-plane.md §2.4, §5).

Tokens must be for ARM: ``aud`` one of ``https://management.azure.com[/]`` or
``https://management.core.windows.net[/]``, from the sandbox's tenant. A missing header is 401
``AuthenticationFailed``, a token for another resource 401 ``InvalidAuthenticationTokenAudience``. A caller whose
roles lack the action gets 403 ``AuthorizationFailed`` with ``x-ms-failure-cause: gateway``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kit.sandbox import bearer, rbac
from kit.sandbox.bearer import BearerError
from kit.sandbox.boundary import INTERNAL_ERROR, Handler, ServiceError, answered
from kit.sandbox.context import SandboxContext

log = logging.getLogger("kit.sandbox.arm")

AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
             "https://management.azure.com/", "https://management.azure.com")
JSON_TYPE = "application/json; charset=utf-8"
REGION = "WESTEUROPE"


class ArmError(ServiceError):
    """An error ARM answers with: HTTP status, code and message, and headers of its own (``x-ms-failure-cause``)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, message)
        self.headers = headers or {}


def _headers(request: Request, write: bool) -> dict[str, str]:
    request_id = request.scope.setdefault("arm_request_id", str(uuid.uuid4()))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    limit = "x-ms-ratelimit-remaining-subscription-" + ("writes" if write else "reads")
    return {"x-ms-request-id": request_id, "x-ms-correlation-request-id": request_id,
            "x-ms-routing-request-id": f"{REGION}:{stamp}:{request_id}", "cache-control": "no-cache",
            "pragma": "no-cache", "expires": "-1", "x-content-type-options": "nosniff",
            "strict-transport-security": "max-age=31536000; includeSubDomains", limit: "1199" if write else "11999"}


def reply(request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An ARM reply: JSON, or no body for 204."""
    all_headers = {**_headers(request, request.method != "GET"), **(headers or {})}
    if body is None:
        return Response(status_code=status, headers=all_headers)
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE, headers=all_headers)


def error_reply(request: Request, error: ArmError) -> Response:
    """ARM's error envelope ``{"error":{"code","message"}}`` with the error's own headers."""
    return reply(request, {"error": {"code": error.code, "message": error.message}}, error.status, error.headers)


def check_api_version(request: Request, supported: tuple[str, ...]) -> None:
    """400 ``MissingApiVersionParameter`` / ``InvalidApiVersionParameter`` unless the version is one served here."""
    version = request.query_params.get("api-version")
    if version is None:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    if version not in supported:
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{version}' is invalid. The supported versions are "
                       f"'{','.join(supported)}'.")


def caller(ctx: SandboxContext, request: Request) -> dict[str, Any]:
    """The verified claims of the caller's ARM token, else ARM's 401."""
    header = request.headers.get("authorization")
    if not header:
        raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    token = bearer.bearer_token(header)
    if not token:
        raise ArmError(401, "AuthenticationFailedInvalidHeader",
                       "Authentication failed. The 'Authorization' header is provided in an invalid format.")
    try:
        claims = bearer.decode(ctx, token, AUDIENCES)
    except BearerError as error:
        if error.reason == "audience":
            allowed = ",".join(f"'{a}'" for a in AUDIENCES)
            raise ArmError(401, "InvalidAuthenticationTokenAudience",
                           f"The access token has been obtained for wrong audience or resource '{error.detail}'. "
                           f"It should exactly match with one of the allowed audiences {allowed}.") from None
        if error.reason == "expired":
            raise ArmError(401, "ExpiredAuthenticationToken",
                           "The access token expiry UTC time is earlier than current UTC time.") from None
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.") from None
    if ctx.directory is not None and not ctx.directory.principal_active(claims["oid"]):
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
    return claims


def authorize(ctx: SandboxContext, claims: dict[str, Any], action: str, scope: str, target: str | None = None) -> None:
    """403 ``AuthorizationFailed`` unless an applied role of the caller at ``scope`` (or above) grants ``action``."""
    if rbac.allows_action(ctx.db, claims["oid"], action, scope):
        return
    client = claims.get("upn") or claims["oid"]
    raise ArmError(
        403, "AuthorizationFailed",
        f"The client '{client}' with object id '{claims['oid']}' does not have authorization to perform action "
        f"'{action}' over scope '{target or scope}' or the scope is invalid. If access was recently granted, please "
        "refresh your credentials.", {"x-ms-failure-cause": "gateway"})


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, else 400 ``InvalidRequestContent``."""
    raw = await request.body()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be "
                       f"deserialized: '{error}'.") from None
    if not isinstance(value, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return value


def arm_endpoint(handler: Handler) -> Handler:
    """Wrap a handler so a ``ArmError`` (or an unexpected failure) is answered in the service's envelope."""
    return answered(handler, ArmError, error_reply, lambda: ArmError(500, "InternalServerError", INTERNAL_ERROR), log)
