"""REST routes of the identity registry: devices, modules and bulk operations (exact success codes included:
device PUT answers 200 only, module PUT 200 or 201, deletes 204)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.bulk import bulk_update
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport.http import hub_route, if_match, json_body, json_response, no_content, top_parameter

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, registry: Registry) -> list[BaseRoute]:
    async def list_devices(request: Request) -> Response:
        return json_response(registry.list_devices(top_parameter(request)))

    async def get_device(request: Request) -> Response:
        return json_response(registry.get_device(request.path_params["device_id"]))

    async def put_device(request: Request) -> Response:
        body = await json_body(request)
        return json_response(registry.put_device(request.path_params["device_id"], body, if_match(request)))

    async def delete_device(request: Request) -> Response:
        registry.delete_device(request.path_params["device_id"], if_match(request))
        return no_content()

    async def bulk(request: Request) -> Response:
        status, result = bulk_update(registry, await json_body(request, list))
        return json_response(result, status=status)

    async def list_modules(request: Request) -> Response:
        return json_response(registry.list_modules(request.path_params["device_id"]))

    async def get_module(request: Request) -> Response:
        params = request.path_params
        return json_response(registry.get_module(params["device_id"], params["module_id"]))

    async def put_module(request: Request) -> Response:
        params = request.path_params
        module, created = registry.put_module(params["device_id"], params["module_id"], await json_body(request),
                                              if_match(request))
        return json_response(module, status=201 if created else 200)

    async def delete_module(request: Request) -> Response:
        params = request.path_params
        registry.delete_module(params["device_id"], params["module_id"], if_match(request))
        return no_content()

    return [
        hub_route(ctx, "GET", "/devices", list_devices),
        hub_route(ctx, "POST", "/devices", bulk),
        hub_route(ctx, "GET", "/devices/{device_id}", get_device),
        hub_route(ctx, "PUT", "/devices/{device_id}", put_device),
        hub_route(ctx, "DELETE", "/devices/{device_id}", delete_device),
        hub_route(ctx, "GET", "/devices/{device_id}/modules", list_modules),
        hub_route(ctx, "GET", "/devices/{device_id}/modules/{module_id}", get_module),
        hub_route(ctx, "PUT", "/devices/{device_id}/modules/{module_id}", put_module),
        hub_route(ctx, "DELETE", "/devices/{device_id}/modules/{module_id}", delete_module),
    ]
