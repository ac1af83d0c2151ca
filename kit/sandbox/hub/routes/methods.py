"""REST routes of direct methods: ``POST /twins/{id}/methods`` and ``POST /twins/{id}/modules/{mid}/methods``.

The answer is 200 with the device's ``{"status", "payload"}`` (see ``methods`` for timeouts and errors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.methods import MethodInvoker, method_call_from_body
from kit.sandbox.hub.transport.http import hub_route, json_body, json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, invoker: MethodInvoker) -> list[BaseRoute]:
    async def invoke(request: Request) -> Response:
        params = request.path_params
        call = method_call_from_body(await json_body(request))
        return json_response(await invoker.invoke(params["device_id"], call, params.get("module_id")))

    return [
        hub_route(ctx, "POST", "/twins/{device_id}/methods", invoke),
        hub_route(ctx, "POST", "/twins/{device_id}/modules/{module_id}/methods", invoke),
    ]
