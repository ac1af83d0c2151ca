"""Wiring of the sandbox's Azure Resource Manager into the server: its ``connection.json`` fields and routes."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.arm import routes as arm_routes
from kit.sandbox.resource import hub_resource


def setup(ctx: Any) -> dict[str, Any]:
    """The ARM fields of ``connection.json``: endpoint, subscription, resource group, hub resource id."""
    hub = hub_resource(ctx.db)
    return {"arm_endpoint": f"{ctx.base_url}/arm", "subscription_id": hub.subscription_id,
            "resource_group": hub.resource_group, "hub_resource_id": hub.resource_id}


def routes(ctx: Any) -> list[BaseRoute]:
    """ARM's routes, under ``/arm``."""
    return list(arm_routes.routes(ctx))
