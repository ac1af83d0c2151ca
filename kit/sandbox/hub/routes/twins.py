"""REST routes of device and module twins: GET serves the stored document, PATCH merges, PUT replaces.

A desired-property change reaches the simulated devices through the registry (``Registry.on_desired_change``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport.http import hub_route, if_match, json_body, json_response, raw_json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, registry: Registry) -> list[BaseRoute]:
    async def get_twin(request: Request) -> Response:
        params = request.path_params
        return raw_json_response(registry.twin_text(params["device_id"], params.get("module_id")))

    def updater(replace: bool):
        async def update(request: Request) -> Response:
            params = request.path_params
            body = await json_body(request)
            return json_response(registry.update_twin(params["device_id"], body, if_match(request),
                                                      module_id=params.get("module_id"), replace=replace))
        return update

    routes_: list[BaseRoute] = []
    for path in ("/twins/{device_id}", "/twins/{device_id}/modules/{module_id}"):
        routes_ += [
            hub_route(ctx, "GET", path, get_twin),
            hub_route(ctx, "PATCH", path, updater(replace=False)),
            hub_route(ctx, "PUT", path, updater(replace=True)),
        ]
    return routes_
