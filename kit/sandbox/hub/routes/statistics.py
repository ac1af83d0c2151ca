"""GET /statistics/devices (registry counts) and GET /statistics/service (connected devices).

The real hub's statistics lag by minutes; the sandbox's are exact (a documented simplification)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport.http import hub_route, json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, registry: Registry) -> list[BaseRoute]:
    async def devices(request: Request) -> Response:
        return json_response(registry.statistics())

    async def service(request: Request) -> Response:
        return json_response({"connectedDeviceCount": registry.connected_count()})

    return [
        hub_route(ctx, "GET", "/statistics/devices", devices),
        hub_route(ctx, "GET", "/statistics/service", service),
    ]
