"""Wiring of the sandbox's Microsoft Graph into the server: its ``connection.json`` field and its routes."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.graph import routes as graph_routes


def setup(ctx: Any) -> dict[str, Any]:
    """The ``graph_endpoint`` field of ``connection.json``."""
    return {"graph_endpoint": f"{ctx.base_url}/graph"}


def routes(ctx: Any) -> list[BaseRoute]:
    """Graph's routes, under ``/graph/v1.0``."""
    return list(graph_routes.routes(ctx))
