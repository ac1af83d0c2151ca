"""A route that fails unexpectedly, served in-process behind a service's edge wrapper, to see what a client gets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

SECRET_DETAIL = "disk on fire"


async def failing(*args: Any) -> None:
    raise RuntimeError(SECRET_DETAIL)


def call_failing_route(wrap: Callable[..., Any], path: str, state: Any = None,
                       headers: dict[str, str] | None = None) -> httpx.Response:
    """GET ``path`` on an app whose only route is ``wrap(failing)``; ``state`` becomes ``app.state.ctx``."""
    app = Starlette(routes=[Route(path, wrap(failing), methods=["GET"])])
    app.state.ctx = state

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
            return await client.get(path, headers=headers)

    response = asyncio.run(get())
    assert SECRET_DETAIL not in response.text
    return response
