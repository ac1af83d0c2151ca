"""The ARM paths the sandbox serves, dispatched to the ``authorization`` and ``iothub`` views.

Every request is checked in ARM's order: the caller's token (401), the api-version of its provider (400), the scope
(404 for an unknown subscription, resource group or hub), then the caller's permission (403).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kit.sandbox.arm import authorization, iothub
from kit.sandbox.arm.http import ArmError, arm_endpoint, caller, check_api_version
from kit.sandbox.arm.scopes import canonical_scope, hub_not_found
from kit.sandbox.context import SandboxContext
from kit.sandbox.resource import hub_resource

BASE = "/arm"
AUTHORIZATION = re.compile(
    r"^(?P<scope>.*?)/providers/Microsoft\.Authorization/(?P<kind>roleAssignments|roleDefinitions)"
    r"(?:/(?P<name>[^/]+))?$", re.IGNORECASE)
HUBS = re.compile(
    r"^(?P<scope>/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?)/providers/Microsoft\.Devices/IotHubs"
    r"(?:/(?P<hub>[^/]+)(?:/(?P<action>listkeys|IotHubKeys/(?P<key>[^/]+)/listkeys))?)?$", re.IGNORECASE)


class ArmView:
    """Dispatch of one ARM request to its handler."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    async def dispatch(self, request: Request) -> Response:
        """Route an ARM request by its provider (api-version), scope, method and path."""
        claims = caller(self.ctx, request)
        path = "/" + request.path_params["path"].strip("/")
        hub = hub_resource(self.ctx.db)
        method = request.method
        found = AUTHORIZATION.match(path)
        if found is not None:
            check_api_version(request, authorization.API_VERSIONS)
            scope = canonical_scope(found["scope"], hub)
            name = found["name"]
            if found["kind"].lower() == "roledefinitions" and method == "GET":
                return (authorization.get_role_definition(request, hub, name) if name
                        else authorization.list_role_definitions(request, hub))
            if found["kind"].lower() == "roleassignments":
                if name is None and method == "GET":
                    return authorization.list_role_assignments(self.ctx, request, claims, hub, scope)
                if name is not None and method == "PUT":
                    return await authorization.put_role_assignment(self.ctx, request, claims, hub, scope, name)
                if name is not None and method == "GET":
                    return authorization.get_role_assignment(self.ctx, request, claims, hub, scope, name)
                if name is not None and method == "DELETE":
                    return authorization.delete_role_assignment(self.ctx, request, claims, hub, scope, name)
        found = HUBS.match(path)
        if found is not None:
            check_api_version(request, iothub.API_VERSIONS)
            scope = canonical_scope(found["scope"], hub)
            if found["hub"] is None and method == "GET":
                return iothub.list_hubs(self.ctx, request, claims, hub, scope)
            if found["hub"] is not None and found["hub"].lower() != hub.name.lower():
                raise hub_not_found(found["hub"], hub.resource_group)
            action = (found["action"] or "").lower()
            if not action and method == "GET":
                return iothub.get_hub(self.ctx, request, claims, hub)
            if not action and method == "PUT":
                return await iothub.put_hub(self.ctx, request, claims, hub)
            if not action and method == "PATCH":
                return await iothub.patch_hub(self.ctx, request, claims, hub)
            if action == "listkeys" and method == "POST":
                return iothub.list_keys(self.ctx, request, claims, hub)
            if found["key"] and method == "POST":
                return iothub.list_key(self.ctx, request, claims, hub, found["key"])
        raise ArmError(404, "InvalidResourceType" if method == "GET" else "NoRegisteredProviderFound",
                       f"The sandbox's ARM does not serve {method} {path}. It serves Microsoft.Authorization "
                       "roleDefinitions and roleAssignments, and Microsoft.Devices/IotHubs.")


def routes(ctx: SandboxContext) -> list[Route]:
    """One route for every ARM path; :class:`ArmView` dispatches on the path."""
    view = ArmView(ctx)
    methods = ["GET", "PUT", "PATCH", "POST", "DELETE"]
    return [Route(BASE + "/{path:path}", arm_endpoint(view.dispatch), methods=methods)]
