"""The sandbox's identity side: behaves like Microsoft Entra ID's v2.0 endpoints (placeholder until built)."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def setup(ctx: Any) -> dict[str, Any]:
    return {
        "tenant_id": "00000000-0000-0000-0000-000000000000", "tenant_domain": "sandbox.onmicrosoft.com",
        "authority_host": ctx.base_url, "hub_name": "sandbox", "client_id": "", "client_secret": "",
        "certificate_path": "", "federated_token_file": "", "identity_endpoint": "", "identity_header": "",
    }


def routes(ctx: Any) -> list[BaseRoute]:
    return []
