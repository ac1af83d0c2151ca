"""Wiring of the identity side into the server (Entra ID's v2.0 endpoints for a backend service).

``start`` prepares the directory (seeded on the first start), the signing keys and the projected federated token,
offers the hub, Graph and ARM its keys, tenant and principal lookups (``ctx.directory``, a
``kit.sandbox.context.Directory``) and returns the identity fields of ``connection.json`` with the endpoints: OIDC
discovery and JWKS, the token endpoint, device code, managed identity, and the built-in external issuer.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.context import SandboxContext
from kit.sandbox.identity import (
    device_code,
    directory,
    discovery,
    external_issuer,
    issuance,
    managed_identity,
    seed,
    token_endpoint,
)
from kit.sandbox.identity.service import IdentityService

DEFAULT_FIC_NAME = "workshop-backend"


def start(ctx: SandboxContext) -> tuple[dict[str, Any], list[BaseRoute]]:
    db = directory.open_directory(ctx.db)
    seeded = seed.ensure_seeded(ctx.state_dir, db)
    issuer = external_issuer.issuer_url(ctx.base_url)
    directory.move_issuer(db, "https://localhost:", issuer)
    if not any(f["name"] == DEFAULT_FIC_NAME for f in directory.federated_credentials(db, seeded.learner_app)):
        directory.add_federated_credential(db, seeded.learner_app, DEFAULT_FIC_NAME, issuer,
                                           external_issuer.DEFAULT_SUBJECT)
    service = IdentityService(
        state_dir=ctx.state_dir, db=db, entra_key=issuance.entra_signing_key(ctx.state_dir),
        external_key=external_issuer.signing_key(ctx.state_dir), external_issuer=issuer,
        identity_header=seeded.identity_header, tenant_id=seeded.tenant.tenant_id,
    )
    token_file = external_issuer.write_token_file(ctx.state_dir, service.external_key, issuer)
    ctx.background.append(external_issuer.rotation(ctx.state_dir, service.external_key, issuer))
    ctx.directory = service
    fields = {
        "tenant_id": seeded.tenant.tenant_id,
        "tenant_domain": seeded.tenant.domain,
        "authority_host": ctx.base_url,
        "client_id": seeded.learner_app.client_id,
        "client_secret": seeded.client_secret,
        "certificate_path": str(seeded.certificate_path),
        "federated_token_file": str(token_file),
        "identity_endpoint": f"{ctx.base_url}/msi/token",
        "identity_header": seeded.identity_header,
        "imds_authority_host": ctx.base_url,
        "external_issuer": issuer,
        "admin_client_id": seeded.admin_app.client_id,
        "admin_client_secret": seeded.admin_secret,
    }
    return fields, [
        *discovery.routes(),
        *token_endpoint.routes(),
        *device_code.routes(),
        *managed_identity.routes(),
        *external_issuer.routes(service.external_key),
    ]
