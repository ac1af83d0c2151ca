"""Wiring of the sandbox's Microsoft Graph into the server: its ``connection.json`` field and its routes."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.context import SandboxContext
from kit.sandbox.graph import routes as graph_routes


def start(ctx: SandboxContext) -> tuple[dict[str, Any], list[BaseRoute]]:
    """The ``graph_endpoint`` field of ``connection.json`` and Graph's routes, under ``/graph/v1.0``."""
    return {"graph_endpoint": f"{ctx.base_url}/graph"}, list(graph_routes.routes(ctx))
