"""What the identity side's endpoints share while the sandbox runs: the directory, the keys and request helpers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kit.sandbox.db import Database
from kit.sandbox.identity import directory, errors, issuance
from kit.sandbox.identity.keys import SigningKey

log = logging.getLogger("kit.sandbox.identity")

Form = dict[str, str]


async def read_form(request: Request) -> Form:
    """The url-encoded body of a token request (the last value wins for a repeated field)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass
class IdentityService:
    """Everything the Entra endpoints share: the directory, the signing keys and the pending device codes. It is the
    ``kit.sandbox.context.Directory`` the other sides check tokens and callers with."""

    state_dir: Path
    db: Database
    entra_key: SigningKey
    external_key: SigningKey
    external_issuer: str
    identity_header: str
    tenant_id: str
    device_codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def tenant(self, segment: str) -> directory.Tenant:
        """The tenant of an authority path segment, or the AADSTS error Entra gives for it."""
        if not directory.is_valid_tenant_identifier(segment):
            raise errors.TENANT_MALFORMED(tenant=segment)
        tenant = directory.find_tenant(self.db, segment)
        if tenant is None:
            raise errors.TENANT_NOT_FOUND(tenant=segment)
        return tenant

    def jwks(self) -> dict[str, Any]:
        """The Entra JWKS (also what the hub, Graph and ARM verify tokens with)."""
        return {"keys": [self.entra_key.jwk()]}

    def principal_active(self, object_id: str) -> bool:
        return directory.principal_active(self.db, object_id)

    def principal_type(self, object_id: str) -> str | None:
        return directory.principal_type(self.db, object_id)

    def access_token(self, tenant_id: str, object_id: str, app_id: str, appidacr: str, resource: str,
                     **extra: Any) -> str:
        """A signed access token for a principal (or user) and the one resource it asked for. An app's token for
        Microsoft Graph lists its granted application permissions in ``roles``, as Entra's does."""
        if resource == issuance.GRAPH_RESOURCE and "scp" not in extra:
            permissions = directory.graph_permissions(self.db, object_id)
            if permissions:
                extra["roles"] = permissions
        claims = issuance.access_token_claims(tenant_id, object_id, app_id, appidacr, resource,
                                              lifetime_s=issuance.access_token_lifetime_s(self.db), **extra)
        return issuance.sign(claims, self.entra_key)

    def delegated_scopes(self, user_id: str, resource: str) -> list[str]:
        """The permissions a user's token for ``resource`` carries in ``scp``: Graph's granted delegated
        permissions (``User.Read`` when none), ``user_impersonation`` for the other resources."""
        if resource != issuance.GRAPH_RESOURCE:
            return ["user_impersonation"]
        return directory.graph_permissions(self.db, user_id) or ["User.Read"]


def resource_of(scope: str | None, tenant: directory.Tenant, client_credentials: bool = True) -> str:
    """The one resource a scope parameter asks for, checked as Entra checks it."""
    if not scope or not scope.split():
        raise errors.MISSING_PARAMETER(name="scope")
    resources = set()
    for item in scope.split():
        if item in OIDC_SCOPES and not client_credentials:
            continue
        if client_credentials and not item.endswith("/.default"):
            raise errors.SCOPE_NOT_DEFAULT(scope=item)
        resources.add(item.rsplit("/", 1)[0].rstrip("/") if "/" in item else item)
    if not resources:
        raise errors.MISSING_PARAMETER(name="scope")
    if len(resources) > 1:
        raise errors.MULTIPLE_RESOURCES(scope=scope)
    return known_resource(resources.pop(), tenant)


def known_resource(resource: str, tenant: directory.Tenant) -> str:
    """The resource's canonical spelling, or AADSTS500011 for a resource this tenant does not know."""
    normalised = resource.rstrip("/")
    for known in issuance.KNOWN_RESOURCES:
        if known.rstrip("/").lower() == normalised.lower():
            return known
    raise errors.RESOURCE_NOT_FOUND(resource=resource, tenant=tenant.tenant_id)


def service_of(request: Request) -> IdentityService:
    """The identity side's service, which it set as the running sandbox's ``directory``."""
    service: IdentityService = request.app.state.ctx.directory
    return service


def entra_endpoint(
    handler: Callable[[Request, IdentityService], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an endpoint so an ``EntraError`` becomes Entra's error response, logged without any secret, and any
    other exception Entra's 500 ``server_error`` (AADSTS50000) with the traceback in the sandbox's log."""

    async def endpoint(request: Request) -> Response:
        correlation_id = request.headers.get("client-request-id")
        try:
            return await handler(request, service_of(request))
        except errors.EntraError as error:
            log.info("%s %s -> AADSTS%s (%s)", request.method, request.url.path, error.kind.code, error.kind.error)
            return error.response(correlation_id)
        except Exception:
            log.exception("identity request failed: %s %s", request.method, request.url.path)
            return errors.SERVER_ERROR().response(correlation_id)

    return endpoint


def token_response(access_token: str, **extra: Any) -> JSONResponse:
    """The token endpoint's success body, never cached, with Entra's lifetime fields."""
    lifetime = issuance.lifetime_of(access_token)
    body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, **extra,
            "access_token": access_token}
    return JSONResponse(body, headers=errors.NO_STORE)
