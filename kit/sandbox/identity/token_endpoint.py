"""``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant, and dispatch of the user grants.

Checks run in the order a learner meets them: tenant, client id, enabled app, credential (secret in the body or
HTTP Basic, certificate assertion, federated assertion), then the scope. Each failure is the AADSTS error Entra
returns for it, with its HTTP status (401 for ``invalid_client``, 400 for the rest).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.sandbox.identity import assertions, device_code, directory, errors, issuance
from kit.sandbox.identity.discovery import base_of
from kit.sandbox.identity.service import (
    Form,
    IdentityService,
    entra_endpoint,
    read_form,
    resource_of,
    token_response,
)

CLIENT_CREDENTIALS = "client_credentials"
ENTRA_HOST = "https://login.microsoftonline.com"


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """``client_secret_basic``: client id and secret from the Authorization header (each form-url-encoded)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def token_urls(request: Request, tenant: directory.Tenant) -> set[str]:
    """Audiences Entra accepts in a certificate assertion: its token endpoints for this tenant (v2.0 and v1)."""
    names = {tenant.tenant_id, tenant.domain, request.path_params["tenant"]}
    return {
        f"{host}/{name}/oauth2/{version}token".lower()
        for host in (base_of(request), ENTRA_HOST) for name in names for version in ("v2.0/", "")
    }


def authenticate_client(request: Request, service: IdentityService, tenant: directory.Tenant,
                        form: Form) -> tuple[directory.Principal, str]:
    """The confidential client making the request, and its ``appidacr``."""
    basic_id, basic_secret = basic_credentials(request)
    client_id = form.get("client_id") or basic_id
    if not client_id:
        raise errors.MISSING_PARAMETER(name="client_id")
    principal = directory.principal_by_client_id(service.db, tenant.tenant_id, str(client_id))
    if principal is None or principal.kind == "managed_identity":
        raise errors.APP_NOT_FOUND(client_id=client_id, tenant=request.path_params["tenant"])
    if not principal.enabled:
        raise errors.APP_DISABLED(client_id=principal.client_id, name=principal.display_name)
    if not principal.has_service_principal:
        raise errors.MISSING_SERVICE_PRINCIPAL(client_id=principal.client_id, tenant=tenant.tenant_id)
    secret = form.get("client_secret") or basic_secret
    assertion = form.get("client_assertion")
    if principal.kind == "public_client":
        if secret or assertion:
            raise errors.PUBLIC_CLIENT_WITH_CREDENTIAL()
        raise errors.NO_CREDENTIAL()
    if secret:
        verdict = directory.check_secret(service.db, principal, str(secret))
        if verdict == "expired":
            raise errors.SECRET_EXPIRED(client_id=principal.client_id)
        if verdict == "wrong":
            raise errors.WRONG_SECRET(client_id=principal.client_id)
        return principal, issuance.APPIDACR_SECRET
    if assertion:
        if form.get("client_assertion_type") != assertions.JWT_BEARER:
            raise errors.MISSING_PARAMETER(name="client_assertion_type")
        assertions.authenticate(service, principal, str(assertion), token_urls(request, tenant))
        return principal, issuance.APPIDACR_CERTIFICATE
    raise errors.NO_CREDENTIAL()


async def client_credentials(request: Request, service: IdentityService, tenant: directory.Tenant,
                             form: Form) -> Response:
    """The app's own token (no user): authenticate the client, then check the ``/.default`` scope."""
    principal, appidacr = authenticate_client(request, service, tenant, form)
    resource = resource_of(form.get("scope"), tenant)
    token = service.access_token(tenant.tenant_id, principal.object_id, principal.client_id, appidacr, resource)
    return token_response(token)


GRANTS = {
    CLIENT_CREDENTIALS: client_credentials,
    device_code.DEVICE_CODE_GRANT: device_code.device_code_grant,
    device_code.REFRESH_TOKEN_GRANT: device_code.refresh_token_grant,
}


async def token(request: Request, service: IdentityService) -> Response:
    """Dispatch on ``grant_type``; the tenant is checked first, as Entra reports it first."""
    tenant = service.tenant(request.path_params["tenant"])
    form = await read_form(request)
    grant = form.get("grant_type")
    if not grant:
        raise errors.MISSING_PARAMETER(name="grant_type")
    handler = GRANTS.get(str(grant))
    if handler is None:
        raise errors.UNSUPPORTED_GRANT(grant=grant)
    return await handler(request, service, tenant, form)


def routes() -> list[Route]:
    return [Route("/{tenant}/oauth2/v2.0/token", entra_endpoint(token), methods=["POST"])]
