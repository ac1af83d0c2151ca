"""Managed identity endpoints on the sandbox's port: App Service's ``IDENTITY_ENDPOINT`` and the IMDS protocol.

On Azure these answer only inside the resource (App Service's local endpoint, the VM's 169.254.169.254); here the
program is pointed at them with ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` or ``AZURE_POD_IDENTITY_AUTHORITY_HOST``,
so no request ever goes to the real IMDS address. The system-assigned identity is used unless the request names a
user-assigned one (``client_id``, ``object_id``; created with ``app create --managed-identity``).
"""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kit.sandbox.identity import directory, errors, issuance, seed
from kit.sandbox.identity.service import IdentityService, known_resource, service_of

APP_SERVICE_API_VERSION = "2019-08-01"
IMDS_API_VERSIONS = ("2018-02-01", "2019-08-01")


def _identity(service: IdentityService, request: Request) -> directory.Principal | None:
    params = request.query_params
    reference = params.get("client_id") or params.get("object_id") or params.get("principal_id")
    if reference:
        try:
            principal = directory.find_principal(service.db, reference)
        except LookupError:
            return None
        return principal if principal.kind == "managed_identity" else None
    return seed.system_assigned_identity(service.db)


def _issue(service: IdentityService, request: Request) -> tuple[directory.Principal, str, str] | Response:
    """The identity, resource and token for a request, or IMDS's error response."""
    tenant = directory.require_default_tenant(service.db)
    resource = request.query_params.get("resource")
    if not resource:
        return _imds_error(400, "invalid_request", "Required query variable 'resource' is missing")
    try:
        resource = known_resource(resource, tenant)
    except errors.EntraError as error:
        return _imds_error(400, error.kind.error, str(error))
    principal = _identity(service, request)
    if principal is None or not principal.enabled:
        return _imds_error(400, "invalid_request", "Identity not found")
    token = service.access_token(principal.tenant_id, principal.object_id, principal.client_id,
                                 issuance.APPIDACR_CERTIFICATE, resource)
    return principal, resource, token


def _imds_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def app_service(request: Request) -> Response:
    """The App Service identity endpoint (``IDENTITY_ENDPOINT`` + ``X-IDENTITY-HEADER``), with its own error shape."""
    service = service_of(request)
    header = request.headers.get("x-identity-header", "")
    if not hmac.compare_digest(header, service.identity_header):
        return JSONResponse({"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER value is missing "
                                                            "or does not match IDENTITY_HEADER."}, status_code=401)
    if request.query_params.get("api-version") != APP_SERVICE_API_VERSION:
        return JSONResponse({"statusCode": 400, "message": f"Use api-version={APP_SERVICE_API_VERSION}."},
                            status_code=400)
    issued = _issue(service, request)
    if isinstance(issued, Response):
        return issued
    principal, resource, token = issued
    return JSONResponse({
        "access_token": token, "expires_on": str(int(time.time()) + issuance.lifetime_of(token)),
        "resource": resource, "token_type": "Bearer", "client_id": principal.client_id,
    })


async def imds(request: Request) -> Response:
    """The IMDS token endpoint (``Metadata: true``), answering with IMDS's string-typed times."""
    service = service_of(request)
    if request.headers.get("metadata", "").lower() != "true":
        return _imds_error(400, "invalid_request", "Required metadata header not specified")
    if request.query_params.get("api-version") not in IMDS_API_VERSIONS:
        return _imds_error(400, "invalid_request", "Missing or invalid api-version")
    issued = _issue(service, request)
    if isinstance(issued, Response):
        return issued
    principal, resource, token = issued
    now = int(time.time())
    lifetime = issuance.lifetime_of(token)
    return JSONResponse({
        "access_token": token, "client_id": principal.client_id, "expires_in": str(lifetime),
        "expires_on": str(now + lifetime), "ext_expires_in": str(lifetime),
        "not_before": str(now - issuance.BACKDATE_S), "resource": resource, "token_type": "Bearer",
    })


def routes() -> list[Route]:
    return [
        Route("/msi/token", app_service, methods=["GET"]),
        Route("/metadata/identity/oauth2/token", imds, methods=["GET"]),
    ]
