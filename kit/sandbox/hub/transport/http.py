"""Request and response plumbing shared by every hub route.

``hub_route`` turns a handler into a Starlette route that behaves like the hub's front door: it checks the
api-version (missing or unknown → 400 InvalidProtocolVersion), authenticates the caller, authorises the operation
from the single permission table (``permissions.OPERATIONS``), applies the operation throttles (``throttling``, when the
realism knob is on: the request may wait a little, or get 429) and turns any ``HubError`` into the error envelope
with the ``iothub-errorcode`` header. Handlers only read the body (``json_body``) and conditions (``if_match``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.sandbox.hub.limits import throttling
from kit.sandbox.hub.security import auth
from kit.sandbox.hub.security.permissions import permission_for
from kit.sandbox.hub.transport.errors import JSON_TYPE, HubError

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

log = logging.getLogger("kit.sandbox.hub")

API_VERSION = "2021-04-12"
SUPPORTED_API_VERSIONS = frozenset({API_VERSION})

Handler = Callable[[Request], Awaitable[Response]]


def check_api_version(request: Request) -> None:
    """400 InvalidProtocolVersion unless the request names an API version this hub speaks."""
    version = request.query_params.get("api-version")
    if version not in SUPPORTED_API_VERSIONS:
        shown = "missing" if version is None else f"'{version}'"
        raise HubError(
            400, "InvalidProtocolVersion",
            f"The api-version query parameter is {shown}. This hub supports api-version={API_VERSION}.",
        )


HUB_SERVER = "Microsoft-HTTPAPI/2.0"


def hub_route(ctx: HubContext, method: str, path: str, handler: Handler) -> Route:
    """A route for ``method path`` guarded by api-version, authentication and the operation's permission."""
    permission = permission_for(method, path)
    operation = throttling.OPERATION_CLASSES.get((method, path))
    pricing = throttling.cost_function(method, path)
    knobs, throttle = ctx.realism, ctx.throttle  # shared with the AMQP listener

    async def answer(request: Request) -> Response:
        try:
            check_api_version(request)
            principal = auth.authenticate(ctx, request.headers.get("authorization"))
            auth.authorize_permission(ctx, principal, permission, request.method, request.url.path)
            request.state.principal = principal
            request.state.realism = settings = knobs.values()
            if operation is not None and settings["throttling"]:
                cost = pricing(await request.body()) if pricing else 1
                delay = throttle.admit(operation, cost, knobs, ctx.db)
                if delay > 0:  # traffic shaping: the hub queues the request and answers late
                    await asyncio.sleep(delay)
            elif operation is not None:
                throttle.idle()
            return await handler(request)
        except HubError as error:
            return error.response()
        except Exception:  # an unexpected failure is still answered in the hub's shape
            log.exception("hub request failed: %s %s", request.method, request.url.path)
            return HubError(500, "ServerError", "The sandbox hit an internal error; see its log.").response()

    async def endpoint(request: Request) -> Response:
        response = await answer(request)
        response.headers["server"] = HUB_SERVER  # what the real hub's front end says it is
        return response

    return Route(path, endpoint, methods=[method], name=f"{method} {path}")


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON with the hub's content type (``application/json; charset=utf-8``)."""
    return Response(json.dumps(value, separators=(",", ":")), status_code=status, media_type=JSON_TYPE,
                    headers=headers)


def raw_json_response(text: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A stored JSON document served as it is (no parse, no re-encode)."""
    return Response(text, status_code=status, media_type=JSON_TYPE, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


async def json_body(request: Request, expected: type | tuple[type, ...] = dict) -> Any:
    """The request body as JSON of the ``expected`` type, else 400 IotHubFormatError / ArgumentNull.

    A body declared as something else than JSON (``Content-Type: text/plain``...) is refused rather than guessed
    at; no Content-Type at all is read as JSON. UNCONFIRMED: the real hub's status and code for a wrong type.
    """
    check_json_content_type(request.headers.get("content-type"))
    raw = await request.body()
    if not raw.strip():
        raise HubError(400, "ArgumentNull", "The request body is empty; this operation needs a JSON body.")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HubError(400, "IotHubFormatError", f"The request body is not valid JSON: {error}.") from None
    if not isinstance(value, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        shape = {"dict": "a JSON object", "list": "a JSON array"}.get(names, names)
        raise HubError(400, "IotHubFormatError", f"The request body must be {shape}.")
    return value


def check_json_content_type(content_type: str | None) -> None:
    """Refuse a body declared as anything but JSON; a missing Content-Type is read as JSON."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise HubError(400, "IotHubFormatError",
                       f"The request body is declared as '{media_type}'. Send it as JSON with the header "
                       "Content-Type: application/json; charset=utf-8.")


def top_parameter(request: Request, limit: int = 1000) -> int | None:
    """The ``top`` query parameter of a list operation (None when absent), else 400 ArgumentInvalid."""
    top = request.query_params.get("top")
    try:
        return int(top) if top is not None else None
    except ValueError:
        raise HubError(400, "ArgumentInvalid", f"top '{top}' is not a number; give 1 to {limit}.") from None


def if_match(request: Request) -> str | None:
    """The etag an ``If-Match`` header asks for, without quotes or ``W/``: ``"*"`` for a wildcard, None when absent.

    The hub honours only a quoted etag: an unquoted one is ignored, so the write goes ahead as with ``*`` (the SDKs
    quote etags for this reason: Azure/azure-iot-sdk-python#754, Azure/azure-iot-sdk-node#606). The realism knob
    ``unquoted_etags`` = ``compared`` checks unquoted etags too.
    """
    value = request.headers.get("if-match")
    settings = getattr(request.state, "realism", None) or {}
    return if_match_condition(value, compare_unquoted=settings.get("unquoted_etags") == "compared")


def if_match_condition(value: str | None, compare_unquoted: bool = False) -> str | None:
    """``If-Match`` as a condition: the quoted etag, ``*``, None when absent, and ``*`` for an unquoted etag unless
    ``compare_unquoted``."""
    text = (value or "").strip()
    if not text:
        return None
    bare = text.removeprefix("W/")
    quoted = len(bare) >= 2 and bare[0] == bare[-1] == '"'
    if quoted or bare == "*" or compare_unquoted:
        return parse_etag(text)
    return "*"


def parse_etag(value: str | None) -> str | None:
    """An etag header value without quotes or ``W/`` (None when empty), so stored etags compare equal."""
    if value is None:
        return None
    text = value.strip()
    text = text.removeprefix("W/")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text or None
