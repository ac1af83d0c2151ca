"""The sandbox's Microsoft Graph: a v1.0 subset for app registrations, a view over the identity side's directory.

Served at ``{sandbox}/graph/v1.0/...`` (``graph_endpoint`` in ``connection.json`` stands where
``https://graph.microsoft.com`` would), so a Graph call written for Azure runs here with only the endpoint changed.
An app created here signs in at the token endpoint once its service principal exists, as in Entra ID.
"""

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
