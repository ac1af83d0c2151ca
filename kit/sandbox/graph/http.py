"""How the sandbox's Microsoft Graph answers: its headers, its error envelope and its checks of the caller's token.

Every reply carries Graph's OData content type, ``odata-version: 4.0``, a ``request-id`` and the
``client-request-id`` (the client's, else a copy of ``request-id``). Errors use
``{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`` (Graph's errors page).

The caller needs a token for Graph (``aud`` ``https://graph.microsoft.com`` or Graph's app id) from the sandbox's
tenant; without one Graph answers 401 ``InvalidAuthenticationToken``. Managing app registrations needs
``Application.ReadWrite.All``: in ``roles`` for an app's own token, in ``scp`` for a signed-in user's. Anything else
is 403 ``Authorization_RequestDenied`` (the sandbox does not emulate ``Application.ReadWrite.OwnedBy``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kit.sandbox import bearer
from kit.sandbox.bearer import BearerError
from kit.sandbox.boundary import INTERNAL_ERROR, Handler, ServiceError, answered
from kit.sandbox.context import SandboxContext
from kit.sandbox.identity.directory import APPLICATION_READWRITE_ALL

log = logging.getLogger("kit.sandbox.graph")

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
AUDIENCES = ("https://graph.microsoft.com", "https://graph.microsoft.com/", GRAPH_APP_ID)
CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
METADATA = "https://graph.microsoft.com/v1.0/$metadata"
PUBLIC_ROOT = "https://graph.microsoft.com"


class GraphError(ServiceError):
    """An error Graph answers with: HTTP status, Graph's code and its message."""


def not_found(identifier: str) -> GraphError:
    """Graph's 404 for an object id it does not know (an appId given as ``{id}`` included)."""
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{identifier}' does not exist or one of its queried reference-property objects are "
                      "not present.")


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    """Graph's 400 with its code (``Request_BadRequest`` unless told)."""
    return GraphError(400, code, message)


def _ids(request: Request) -> tuple[str, str]:
    request_id = request.scope.setdefault("graph_request_id", str(uuid.uuid4()))
    return request_id, request.headers.get("client-request-id") or request_id


def _headers(request: Request, extra: dict[str, str] | None = None) -> dict[str, str]:
    request_id, client_request_id = _ids(request)
    return {
        "request-id": request_id, "client-request-id": client_request_id, "odata-version": "4.0",
        "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Sandbox", "Slice": "E",
                                                          "Ring": "1", "ScaleUnit": "000", "RoleInstance": "local"}}),
        "cache-control": "no-cache", "strict-transport-security": "max-age=31536000", **(extra or {}),
    }


def reply(request: Request, body: dict[str, Any] | None, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    """A Graph reply: JSON with the OData content type, or no body (and no content type) for 204."""
    if body is None:
        return Response(status_code=status, headers=_headers(request, headers))
    return Response(json.dumps(body), status_code=status, media_type=CONTENT_TYPE,
                    headers=_headers(request, headers))


def error_reply(request: Request, error: GraphError) -> Response:
    """Graph's error envelope, with ``innerError`` carrying the date and both request ids."""
    request_id, client_request_id = _ids(request)
    body = {"error": {"code": error.code, "message": error.message, "innerError": {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "request-id": request_id,
        "client-request-id": client_request_id}}}
    return reply(request, body, error.status)


def caller(ctx: SandboxContext, request: Request) -> dict[str, Any]:
    """The verified claims of the caller's Graph token, else Graph's 401."""
    token = bearer.bearer_token(request.headers.get("authorization"))
    try:
        claims = bearer.decode(ctx, token, AUDIENCES)
    except BearerError as error:
        messages = {
            "missing": "Access token is empty.",
            "not_jwt": "CompactToken parsing failed with error code: 80049217",
            "audience": "Access token validation failure. Invalid audience.",
            "expired": "Lifetime validation failed, the token is expired.",
        }
        raise GraphError(401, "InvalidAuthenticationToken",
                         messages.get(error.reason, "Access token validation failure.")) from None
    if ctx.directory is not None and not ctx.directory.principal_active(claims["oid"]):
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    return claims


def require_permission(claims: dict[str, Any], permission: str = APPLICATION_READWRITE_ALL) -> None:
    """403 ``Authorization_RequestDenied`` unless the token grants ``permission`` (app ``roles`` or user ``scp``)."""
    granted = set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
    if permission not in granted:
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


async def json_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (empty when there is none), else 400 ``Request_BadRequest``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and "
                          "payload is of valid JSON format.") from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.")
    return value


def graph_endpoint(handler: Handler) -> Handler:
    """Wrap a handler so a ``GraphError`` (or an unexpected failure) is answered in the service's envelope."""
    return answered(handler, GraphError, error_reply, lambda: GraphError(500, "generalException", INTERNAL_ERROR), log)
