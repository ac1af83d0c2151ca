"""Metadata endpoints: per-tenant v2.0 OIDC discovery, the signing keys (JWKS) and msal's instance discovery.

msal reads only ``authorization_endpoint``, ``token_endpoint`` (whose path names the tenant and which becomes the
``aud`` of certificate assertions), ``device_authorization_endpoint`` and ``issuer``; the rest of the real
document is served so learners can explore it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kit.sandbox.identity.service import IdentityService, entra_endpoint

CACHE = {"Cache-Control": "max-age=86400, private"}
JSON_UTF8 = "application/json; charset=utf-8"  # Entra's Content-Type on discovery and keys
MULTI_TENANT = ("common", "organizations")


def base_of(request: Request) -> str:
    """The sandbox's own origin as the client reached it, so advertised URLs keep the port in use."""
    return str(request.base_url).rstrip("/")


async def openid_configuration(request: Request, service: IdentityService) -> JSONResponse:
    """The OIDC metadata msal reads first; ``common`` keeps ``{tenantid}`` in the issuer, as Entra does."""
    segment = request.path_params["tenant"]
    tenant = service.tenant(segment)
    multi = segment.lower() in MULTI_TENANT
    base, path_tenant = base_of(request), segment if multi else tenant.tenant_id
    authority = f"{base}/{path_tenant}"
    issuer_tenant = "{tenantid}" if multi else tenant.tenant_id
    return JSONResponse({
        "token_endpoint": f"{authority}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{authority}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                             "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": f"{authority}/kerberos",
        "tenant_region_scope": None if multi else "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }, headers=CACHE, media_type=JSON_UTF8)


async def keys(request: Request, service: IdentityService) -> JSONResponse:
    """The JWKS that verifies the sandbox's access tokens (the hub side reads the same key)."""
    segment = request.path_params["tenant"]
    tenant = service.tenant(segment)
    issuer_tenant = "{tenantid}" if segment.lower() in MULTI_TENANT else tenant.tenant_id
    return JSONResponse({"keys": [service.entra_key.jwk(f"{base_of(request)}/{issuer_tenant}/v2.0")]},
                        headers=CACHE, media_type=JSON_UTF8)


async def instance_discovery(request: Request, service: IdentityService) -> JSONResponse:
    """Where msal learns the tenant discovery URL and the host aliases of an authority."""
    authorize = urlsplit(request.query_params.get("authorization_endpoint", ""))
    tenant = (authorize.path.strip("/").split("/") or ["common"])[0] or "common"
    base = base_of(request)
    host = urlsplit(base).hostname or "localhost"
    return JSONResponse({
        "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": request.query_params.get("api-version", "1.1"),
        "metadata": [{"preferred_network": host, "preferred_cache": host,
                      "aliases": sorted({host, "localhost", "127.0.0.1"})}],
    }, headers=CACHE, media_type=JSON_UTF8)


def routes() -> list[Route]:
    return [
        Route("/common/discovery/instance", entra_endpoint(instance_discovery), methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", entra_endpoint(openid_configuration),
              methods=["GET"]),
        Route("/{tenant}/discovery/v2.0/keys", entra_endpoint(keys), methods=["GET"]),
        Route("/{tenant}/discovery/keys", entra_endpoint(keys), methods=["GET"]),
    ]
