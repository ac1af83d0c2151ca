"""REST routes of configurations (automatic device management) and of applying content to an edge device.

Success codes as the SDK expects them: PUT 201 (created) or 200, DELETE 204, applyConfigurationContent 204.
``POST /configurations/testQueries`` is routed before ``/configurations/{configuration_id}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.configurations import ConfigurationStore
from kit.sandbox.hub.transport.http import hub_route, if_match, json_body, json_response, no_content, top_parameter

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, store: ConfigurationStore) -> list[BaseRoute]:
    async def put_configuration(request: Request) -> Response:
        config, created = store.put(request.path_params["configuration_id"], await json_body(request),
                                    if_match(request))
        return json_response(config, status=201 if created else 200)

    async def get_configuration(request: Request) -> Response:
        return json_response(store.get(request.path_params["configuration_id"]))

    async def list_configurations(request: Request) -> Response:
        return json_response(store.list(top_parameter(request)))

    async def delete_configuration(request: Request) -> Response:
        store.delete(request.path_params["configuration_id"], if_match(request))
        return no_content()

    async def test_queries(request: Request) -> Response:
        return json_response(store.test_queries(await json_body(request)))

    async def apply_on_edge(request: Request) -> Response:
        store.apply_to_edge_device(request.path_params["device_id"], await json_body(request))
        return no_content()

    return [
        hub_route(ctx, "POST", "/configurations/testQueries", test_queries),
        hub_route(ctx, "GET", "/configurations", list_configurations),
        hub_route(ctx, "PUT", "/configurations/{configuration_id}", put_configuration),
        hub_route(ctx, "GET", "/configurations/{configuration_id}", get_configuration),
        hub_route(ctx, "DELETE", "/configurations/{configuration_id}", delete_configuration),
        hub_route(ctx, "POST", "/devices/{device_id}/applyConfigurationContent", apply_on_edge),
    ]
