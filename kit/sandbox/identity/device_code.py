"""The device code flow (``/devicecode`` then polling the token endpoint) and the refresh-token grant.

No person is there to type the code, so the sandbox's user "approves" by itself: the first poll gets
``authorization_pending`` (as a real client first does) and the next one gets the tokens. The user is the
tenant's seeded user; the flow is open to public clients only (Entra's "allow public client flows").
"""

from __future__ import annotations

import secrets
import string
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from kit.sandbox.identity import directory, errors, issuance
from kit.sandbox.identity.discovery import base_of
from kit.sandbox.identity.service import (
    OIDC_SCOPES,
    Form,
    IdentityService,
    entra_endpoint,
    read_form,
    resource_of,
    token_response,
)

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_TOKEN_GRANT = "refresh_token"
EXPIRES_IN_S = 900
INTERVAL_S = 1
PENDING_POLLS = 1


def _public_client(service: IdentityService, tenant: directory.Tenant, client_id: object,
                   segment: str) -> directory.Principal:
    if not client_id:
        raise errors.MISSING_PARAMETER(name="client_id")
    principal = directory.principal_by_client_id(service.db, tenant.tenant_id, str(client_id))
    if principal is None or principal.kind == "managed_identity":
        raise errors.APP_NOT_FOUND(client_id=client_id, tenant=segment)
    if not principal.enabled:
        raise errors.APP_DISABLED(client_id=principal.client_id, name=principal.display_name)
    if principal.kind != "public_client":
        raise errors.NO_CREDENTIAL()
    return principal


async def devicecode(request: Request, service: IdentityService) -> Response:
    """Start a flow: a device code to poll with and a user code for the person; flows live in memory only."""
    segment = request.path_params["tenant"]
    tenant = service.tenant(segment)
    form = await read_form(request)
    principal = _public_client(service, tenant, form.get("client_id"), segment)
    resource = resource_of(form.get("scope"), tenant, client_credentials=False)
    code = secrets.token_urlsafe(48)
    user_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
    service.device_codes[code] = {
        "client_id": principal.client_id, "tenant_id": tenant.tenant_id, "resource": resource,
        "scope": str(form.get("scope")), "expires_at": time.time() + EXPIRES_IN_S, "polls": 0,
    }
    uri = f"{base_of(request)}/devicelogin"
    return JSONResponse({
        "user_code": user_code, "device_code": code, "verification_uri": uri,
        "expires_in": EXPIRES_IN_S, "interval": INTERVAL_S,
        "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} to "
                   "authenticate.",
    })


def _user_tokens(request: Request, service: IdentityService, user: directory.User, client_id: str,
                 resource: str, scope: str) -> Response:
    delegated = service.delegated_scopes(user.object_id, resource)
    access = service.access_token(
        user.tenant_id, user.object_id, client_id, issuance.APPIDACR_PUBLIC, resource,
        scp=" ".join(delegated), upn=user.upn, unique_name=user.upn, name=user.display_name, amr=["pwd"],
    )
    granted = [f"{resource.rstrip('/')}/{permission}" for permission in delegated]
    granted += [s for s in scope.split() if s in OIDC_SCOPES]
    issuer = f"{base_of(request)}/{user.tenant_id}/v2.0"
    return token_response(
        access, scope=" ".join(granted),
        refresh_token=directory.issue_refresh_token(service.db, user, client_id),
        id_token=issuance.id_token(service.entra_key, issuer, client_id, user),
        client_info=issuance.client_info(user),
    )


async def device_code_grant(request: Request, service: IdentityService, tenant: directory.Tenant,
                            form: Form) -> Response:
    """One poll: ``authorization_pending`` for the first ``PENDING_POLLS``, then the user's tokens, once."""
    code = form.get("device_code") or form.get("code")
    if not code:
        raise errors.MISSING_PARAMETER(name="device_code")
    flow = service.device_codes.get(str(code))
    if flow is None or flow["client_id"].lower() != str(form.get("client_id", "")).lower():
        raise errors.BAD_DEVICE_CODE()
    if flow["expires_at"] < time.time():
        service.device_codes.pop(str(code), None)
        raise errors.DEVICE_CODE_EXPIRED()
    flow["polls"] += 1
    if flow["polls"] <= PENDING_POLLS:
        raise errors.AUTHORIZATION_PENDING()
    user = directory.first_user(service.db, flow["tenant_id"])
    if user is None:
        raise errors.BAD_DEVICE_CODE()
    service.device_codes.pop(str(code), None)
    return _user_tokens(request, service, user, flow["client_id"], flow["resource"], flow["scope"])


async def refresh_token_grant(request: Request, service: IdentityService, tenant: directory.Tenant,
                              form: Form) -> Response:
    """New tokens for the refresh token's user; it only works for the client and tenant it was issued to."""
    value = form.get("refresh_token")
    if not value:
        raise errors.MISSING_PARAMETER(name="refresh_token")
    client = _public_client(service, tenant, form.get("client_id"), request.path_params["tenant"])
    user = directory.redeem_refresh_token(service.db, str(value), client.client_id)
    if user is None or user.tenant_id != tenant.tenant_id:
        raise errors.BAD_REFRESH_TOKEN()
    scope = str(form.get("scope") or "")
    resource = resource_of(scope, tenant, client_credentials=False)
    return _user_tokens(request, service, user, client.client_id, resource, scope)


async def devicelogin(request: Request) -> HTMLResponse:
    """The page the device code message points to; it says why there is nothing to type here."""
    return HTMLResponse(
        "<!doctype html><title>Sandbox device login</title><h1>Sandbox device login</h1>"
        "<p>The sandbox signs its learner in by itself: the code your program printed is approved on its next "
        "poll. Against real Entra ID you would enter the code here and sign in.</p>"
    )


def routes() -> list[Route]:
    return [
        Route("/{tenant}/oauth2/v2.0/devicecode", entra_endpoint(devicecode), methods=["POST"]),
        Route("/devicelogin", devicelogin, methods=["GET"]),
    ]
