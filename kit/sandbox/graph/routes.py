"""The Graph v1.0 paths the sandbox serves, each a view over the identity side's directory.

``/applications`` (POST 201, GET with ``$filter``, ``/{id}`` and ``(appId='...')`` GET/PATCH 204/DELETE 204),
``addPassword`` (200) and ``removePassword`` (204), ``federatedIdentityCredentials`` (POST 201, GET, DELETE 204),
``/servicePrincipals`` (POST 201 / 409, GET, DELETE 204) and ``/directory/deletedItems/microsoft.graph.application``.
Every write goes through the same ``directory`` function as the ``app`` admin command, so both stay one
implementation. Deleting an app keeps its role assignments (Azure shows them as "Identity not found").
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.sandbox.context import SandboxContext
from kit.sandbox.graph import objects
from kit.sandbox.graph.http import (
    PUBLIC_ROOT,
    GraphError,
    bad_request,
    caller,
    graph_endpoint,
    json_body,
    not_found,
    reply,
    require_permission,
)
from kit.sandbox.identity import directory

BASE = "/graph/v1.0"
PATH = re.compile(
    r"^(?P<collection>applications|servicePrincipals)"
    r"(?:\(appId='(?P<app_id>[^']*)'\)|/(?P<id>[^/(]+))?(?:/(?P<rest>.*))?$"
)
DELETED_APPLICATIONS = "directory/deletedItems/microsoft.graph.application"
TWO_YEARS_DAYS = 730
PAGE_SIZE, MAX_PAGE_SIZE = 100, 999


def _page(request: Request, found: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of a list (``$top`` items, 100 by default, as Graph pages directory objects) and, when more remain,
    ``@odata.nextLink``: this URL with a ``$skiptoken`` (opaque to clients; here, the offset)."""
    params = dict(request.query_params)
    try:
        top = max(1, min(int(params.get("$top", PAGE_SIZE)), MAX_PAGE_SIZE))
        offset = int(base64.urlsafe_b64decode(params.get("$skiptoken", "MA==")).decode())
    except ValueError:
        raise bad_request("Invalid $top or $skiptoken: follow @odata.nextLink as it is.") from None
    page = found[offset:offset + top]
    if offset + top >= len(found):
        return page, {}
    params["$skiptoken"] = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
    return page, {"@odata.nextLink": str(request.url.replace(query=urlencode(params, quote_via=quote)))}


def _parse_time(value: Any, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid value for {field}: '{value}' is not an ISO 8601 date-time.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


class GraphView:
    """The request handlers, over the sandbox's directory."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    # --- lookups ------------------------------------------------------------------------------------------------
    def _tenant_domain(self) -> str:
        return directory.require_default_tenant(self.db).domain

    def application(self, object_id: str | None, app_id: str | None) -> directory.Principal:
        """The app a path names by object id or by ``(appId='...')``, else Graph's 400 or 404."""
        if app_id is not None:
            if not directory.GUID.match(app_id):
                raise bad_request("Invalid value specified for object reference property 'appId'. Please ensure "
                                  "that this value has an appropriate syntax and length.")
            principal = directory.principal_by_app_id(self.db, app_id)
        else:
            principal = directory.principal_by_app_object_id(self.db, object_id or "")
        if principal is None or not objects.is_application(principal):
            raise not_found(app_id or object_id or "")
        return principal

    def service_principal(self, object_id: str | None, app_id: str | None) -> directory.Principal:
        """The service principal a path names, else Graph's 404."""
        principal = (directory.principal_by_app_id(self.db, app_id) if app_id is not None
                     else directory.principal_by_object_id(self.db, object_id or ""))
        if principal is None or not principal.has_service_principal:
            raise not_found(app_id or object_id or "")
        return principal

    def _location(self, path: str) -> dict[str, str]:
        """The ``Location`` header of a created object: Graph names it under ``/v2/{tenant id}/``."""
        tenant = directory.require_default_tenant(self.db).tenant_id
        return {"location": f"{PUBLIC_ROOT}/v2/{tenant}/{path}"}

    def _app_body(self, request: Request, principal: directory.Principal) -> dict[str, Any]:
        with_keys = "keycredentials" in request.query_params.get("$select", "").lower()
        return {"@odata.context": objects.context("applications/$entity"),
                **objects.application(self.db, principal, self._tenant_domain(), with_keys)}

    # --- dispatch -----------------------------------------------------------------------------------------------
    async def dispatch(self, request: Request) -> Response:
        """Authenticate and authorise the caller, then hand the request to the handler of its path and method; a
        directory change the directory refuses is Graph's 400 with the directory's code."""
        claims = caller(self.ctx, request)
        require_permission(claims)
        try:
            return await self._route(request, claims)
        except directory.DirectoryError as error:
            raise bad_request(str(error), error.code) from None

    async def _route(self, request: Request, claims: dict[str, Any]) -> Response:
        path = request.path_params["path"].strip("/")
        if path == DELETED_APPLICATIONS and request.method == "GET":
            return self.deleted_applications(request)
        found = PATH.match(path)
        if found is None:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path.split('/')[0]}'.")
        collection, rest = found["collection"], found["rest"]
        key = (found["id"], found["app_id"])
        single = key != (None, None)
        method = request.method
        if collection == "applications":
            if not single:
                return await (self.create_application(request, claims) if method == "POST"
                              else self.list_applications(request))
            principal = self.application(*key)
            if rest is None:
                handler = {"GET": self.get_application, "PATCH": self.patch_application,
                           "DELETE": self.delete_application}.get(method)
                if handler is not None:
                    return await handler(request, principal)
            elif rest == "addPassword" and method == "POST":
                return await self.add_password(request, principal)
            elif rest == "removePassword" and method == "POST":
                return await self.remove_password(request, principal)
            elif rest.startswith("federatedIdentityCredentials"):
                return await self.federated(request, principal, rest.partition("/")[2] or None)
        else:
            if not single:
                return await (self.create_service_principal(request) if method == "POST"
                              else self.list_service_principals(request))
            if rest is None and method in ("GET", "DELETE"):
                principal = self.service_principal(*key)
                if method == "GET":
                    return reply(request, {"@odata.context": objects.context("servicePrincipals/$entity"),
                                           **objects.service_principal(principal)})
                directory.set_service_principal(self.db, principal, False)
                return reply(request, None, 204)
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported on '{path}' by the sandbox.")

    # --- applications -------------------------------------------------------------------------------------------
    async def create_application(self, request: Request, claims: dict[str, Any]) -> Response:
        """``POST /applications``: 201 and ``Location``; the service principal is a separate call."""
        body = await json_body(request)
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("Property 'displayName' is required: give the app a name.")
        kind = "public_client" if body.get("isFallbackPublicClient") else "application"
        principal = directory.create_principal(self.db, name, kind, service_principal=False)
        if body.get("keyCredentials"):
            directory.replace_key_credentials(self.db, principal, body["keyCredentials"])
        location = self._location(f"directoryObjects/{principal.app_object_id}/Microsoft.DirectoryServices.Application")
        return reply(request, self._app_body(request, principal), 201, location)

    async def list_applications(self, request: Request) -> Response:
        """``GET /applications`` with an optional ``$filter``."""
        expression = request.query_params.get("$filter")
        found = [p for p in directory.list_principals(self.db) if objects.is_application(p)
                 and objects.matches_filter(expression, p, p.app_object_id or "")]
        page, next_link = _page(request, found)
        domain = self._tenant_domain()
        return reply(request, {"@odata.context": objects.context("applications"),
                               "value": [objects.application(self.db, p, domain) for p in page], **next_link})

    async def get_application(self, request: Request, principal: directory.Principal) -> Response:
        """``GET /applications/{id}`` (``$select=keyCredentials`` shows the certificates' keys)."""
        return reply(request, self._app_body(request, principal))

    async def patch_application(self, request: Request, principal: directory.Principal) -> Response:
        """``PATCH /applications/{id}``: ``displayName`` and ``keyCredentials``; 204."""
        body = await json_body(request)
        if "keyCredentials" in body:
            if not isinstance(body["keyCredentials"], list):
                raise directory.DirectoryError("keyCredentials: give an array of keyCredential objects.")
            directory.replace_key_credentials(self.db, principal, body["keyCredentials"])
        if "displayName" in body:
            directory.rename_principal(self.db, principal, str(body["displayName"]))
        return reply(request, None, 204)

    async def delete_application(self, request: Request, principal: directory.Principal) -> Response:
        """``DELETE /applications/{id}``: a soft delete; role assignments stay. 204."""
        directory.delete_principal(self.db, principal)
        return reply(request, None, 204)

    def deleted_applications(self, request: Request) -> Response:
        """``GET /directory/deletedItems/microsoft.graph.application``."""
        value = [{"id": row["object_id"], "appId": row["app_id"], "displayName": row["display_name"],
                  "deletedDateTime": objects.iso(row["deleted_at"])}
                 for row in directory.deleted_items(self.db) if row["kind"] != "managed_identity"]
        return reply(request, {"@odata.context": objects.context("directory/deletedItems/microsoft.graph.application"),
                               "value": value})

    # --- secrets ------------------------------------------------------------------------------------------------
    async def add_password(self, request: Request, principal: directory.Principal) -> Response:
        """``POST .../addPassword``: 200 with the secret's text, shown this once."""
        body = (await json_body(request)).get("passwordCredential") or {}
        start = _parse_time(body.get("startDateTime"), "startDateTime")
        end = _parse_time(body.get("endDateTime"), "endDateTime")
        created = directory.add_secret(self.db, principal, days=TWO_YEARS_DAYS,
                                       display_name=body.get("displayName"), start_at=start, expires_at=end)
        row = next(r for r in directory.secret_rows(self.db, principal) if r["key_id"] == created["key_id"])
        return reply(request, {"@odata.context": objects.context("microsoft.graph.passwordCredential"),
                               **objects.password_credential(row), "secretText": created["client_secret"]})

    async def remove_password(self, request: Request, principal: directory.Principal) -> Response:
        """``POST .../removePassword {keyId}``: 204."""
        key_id = (await json_body(request)).get("keyId")
        if not key_id:
            raise bad_request("Property 'keyId' is required: the keyId of the password credential to remove.")
        directory.remove_secret(self.db, principal, str(key_id))
        return reply(request, None, 204)

    # --- federated identity credentials -------------------------------------------------------------------------
    async def federated(self, request: Request, principal: directory.Principal, item: str | None) -> Response:
        """``.../federatedIdentityCredentials[/{id or name}]``: list, create, get, delete."""
        base = f"applications('{principal.app_object_id}')/federatedIdentityCredentials"
        if item is None and request.method == "GET":
            return reply(request, {"@odata.context": objects.context(base), "value": [
                objects.federated_credential(r) for r in directory.federated_credentials(self.db, principal)]})
        if item is None and request.method == "POST":
            return await self._create_federated(request, principal, base)
        if item is not None and request.method in ("GET", "DELETE"):
            row = directory.federated_credential(self.db, principal, item)
            if row is None:
                raise not_found(item)
            if request.method == "DELETE":
                directory.delete_federated_credential(self.db, principal, item)
                return reply(request, None, 204)
            return reply(request, {"@odata.context": objects.context(base + "/$entity"),
                                   **objects.federated_credential(row)})
        raise GraphError(405, "Request_BadRequest", f"{request.method} is not supported on {base} by the sandbox.")

    async def _create_federated(self, request: Request, principal: directory.Principal, base: str) -> Response:
        body = await json_body(request)
        audiences = body.get("audiences")
        if not isinstance(audiences, list) or len(audiences) != 1:
            raise bad_request("audiences: give exactly one audience, usually 'api://AzureADTokenExchange'.")
        created = directory.add_federated_credential(
            self.db, principal, str(body.get("name") or ""), str(body.get("issuer") or ""),
            str(body.get("subject") or ""), str(audiences[0]), str(body.get("description") or ""))
        row = directory.federated_credential(self.db, principal, created["id"])
        return reply(request, {"@odata.context": objects.context(base + "/$entity"),
                               **objects.federated_credential(row)}, 201,
                     self._location(f"federatedIdentityCredentials/{created['id']}"))

    # --- service principals -------------------------------------------------------------------------------------
    async def create_service_principal(self, request: Request) -> Response:
        """``POST /servicePrincipals {appId}``: 201, or 409 when the app has one already."""
        app_id = (await json_body(request)).get("appId")
        if not app_id:
            raise bad_request("Property 'appId' is required: the appId (client id) of the application.")
        principal = directory.principal_by_app_id(self.db, str(app_id))
        if principal is None or principal.app_object_id is None:
            raise bad_request(f"The appId '{app_id}' of the service principal does not reference a valid "
                              "application object.")
        if principal.has_service_principal:
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "The service principal cannot be created, updated, or restored because the service "
                             f"principal name {principal.client_id} is already in use.")
        directory.set_service_principal(self.db, principal, True)
        location = self._location(f"directoryObjects/{principal.object_id}"
                                  "/Microsoft.DirectoryServices.ServicePrincipal")
        return reply(request, {"@odata.context": objects.context("servicePrincipals/$entity"),
                               **objects.service_principal(principal)}, 201, location)

    async def list_service_principals(self, request: Request) -> Response:
        """``GET /servicePrincipals`` with an optional ``$filter``."""
        expression = request.query_params.get("$filter")
        found = [p for p in directory.list_principals(self.db)
                 if p.has_service_principal and objects.matches_filter(expression, p, p.object_id)]
        page, next_link = _page(request, found)
        return reply(request, {"@odata.context": objects.context("servicePrincipals"),
                               "value": [objects.service_principal(p) for p in page], **next_link})


def routes(ctx: SandboxContext) -> list[Route]:
    """One route for every Graph v1.0 path; :class:`GraphView` dispatches on the path."""
    view = GraphView(ctx)
    return [Route(BASE + "/{path:path}", graph_endpoint(view.dispatch), methods=["GET", "POST", "PATCH", "DELETE"])]
