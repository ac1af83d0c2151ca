"""REST routes of IoT Plug and Play digital twins: GET (with ``ETag``), JSON Patch (202 with ``ETag`` and
``Location``), and root or component commands answered by the simulated device with the headers the SDK reads,
``x-ms-command-statuscode`` and ``x-ms-request-id``."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.digital_twins import desired_patch, digital_twin
from kit.sandbox.hub.devices.methods import MethodInvoker, method_call
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport.errors import HubError
from kit.sandbox.hub.transport.http import hub_route, if_match, json_body, json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


async def _command_payload(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HubError(400, "IotHubFormatError", f"The command payload is not valid JSON: {error}.") from None


def routes(ctx: HubContext, registry: Registry, invoker: MethodInvoker) -> list[BaseRoute]:
    async def get_digital_twin(request: Request) -> Response:
        twin = registry.get_twin(request.path_params["device_id"])
        return json_response(digital_twin(twin), headers={"ETag": f'"{twin["etag"]}"'})

    async def update_digital_twin(request: Request) -> Response:
        device_id = request.path_params["device_id"]
        operations = await json_body(request, list)
        patch = desired_patch(registry.get_twin(device_id), operations)
        twin = registry.update_twin(device_id, {"properties": {"desired": patch}}, if_match(request))
        return Response(status_code=202, headers={
            "ETag": f'"{twin["etag"]}"', "Location": f"{ctx.base_url}/digitaltwins/{device_id}"})

    async def invoke_command(request: Request) -> Response:
        params, query = request.path_params, request.query_params
        name = params["command"] if "component" not in params else f"{params['component']}*{params['command']}"
        call = method_call(name, await _command_payload(request), query.get("responseTimeoutInSeconds"),
                           query.get("connectTimeoutInSeconds"))
        result = await invoker.invoke(params["device_id"], call)
        return json_response(result["payload"], headers={
            "x-ms-command-statuscode": str(result["status"]), "x-ms-request-id": str(uuid.uuid4())})

    return [
        hub_route(ctx, "GET", "/digitaltwins/{device_id}", get_digital_twin),
        hub_route(ctx, "PATCH", "/digitaltwins/{device_id}", update_digital_twin),
        hub_route(ctx, "POST", "/digitaltwins/{device_id}/commands/{command}", invoke_command),
        hub_route(ctx, "POST", "/digitaltwins/{device_id}/components/{component}/commands/{command}", invoke_command),
    ]
