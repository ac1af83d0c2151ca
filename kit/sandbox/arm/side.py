"""Wiring of the sandbox's Azure Resource Manager into the server: its ``connection.json`` fields and routes."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.arm import routes as arm_routes
from kit.sandbox.context import SandboxContext
from kit.sandbox.resource import hub_resource


def start(ctx: SandboxContext) -> tuple[dict[str, Any], list[BaseRoute]]:
    """The ARM fields of ``connection.json`` (endpoint, subscription, resource group, hub resource id) and ARM's
    routes, under ``/arm``."""
    hub = hub_resource(ctx.db)
    fields = {"arm_endpoint": f"{ctx.base_url}/arm", "subscription_id": hub.subscription_id,
              "resource_group": hub.resource_group, "hub_resource_id": hub.resource_id}
    return fields, list(arm_routes.routes(ctx))
