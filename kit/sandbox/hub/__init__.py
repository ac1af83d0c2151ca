"""The sandbox's hub side: behaves like IoT Hub's data-plane REST API (placeholder until built)."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def setup(ctx: Any) -> dict[str, Any]:
    return {}


def routes(ctx: Any) -> list[BaseRoute]:
    return []
