"""ARM's ``Microsoft.Authorization`` subset (api-version 2022-04-01): role definitions and role assignments.

A view over ``kit.sandbox.rbac``, the one store the hub's data plane reads. ``PUT`` answers 201 for a new
assignment (200 for the same one again), 409 ``RoleAssignmentExists`` for the same scope, role and principal under
another name, 400 ``RoleAssignmentUpdateNotPermitted`` for a name reused with other values, 400
``PrincipalNotFound`` for an object id the directory does not hold, 403 ``AuthorizationFailed`` unless the caller
may write role assignments (Owner, User Access Administrator). ``DELETE`` answers 200 with the assignment, or 204.
Lists take ``atScope()`` and ``principalId eq '...'``. Assignments whose principal was deleted keep being listed.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kit.sandbox import bearer, rbac
from kit.sandbox.arm.http import ArmError, authorize, json_body, reply
from kit.sandbox.context import SandboxContext
from kit.sandbox.identity.directory import GUID
from kit.sandbox.resource import HubResource

API_VERSIONS = ("2022-04-01",)
ROLE_NAME_FILTER = re.compile(r"^\s*roleName\s+eq\s+'(?P<name>(?:[^']|'')*)'\s*$", re.IGNORECASE)
PRINCIPAL_FILTER = re.compile(r"^\s*(?:principalId\s+eq\s+'(?P<eq>[^']*)'|assignedTo\('(?P<to>[^']*)'\))\s*$",
                              re.IGNORECASE)
AT_SCOPE = re.compile(r"^\s*atScope\(\)\s*$", re.IGNORECASE)
WRITE, DELETE, READ = (f"Microsoft.Authorization/roleAssignments/{verb}" for verb in ("write", "delete", "read"))


def role_definition(role: rbac.Role, subscription_id: str) -> dict[str, Any]:
    """A built-in role definition as ARM lists it under a subscription (built-in-roles docs)."""
    return {
        "properties": {
            "roleName": role.name, "type": "BuiltInRole", "description": role.description, "assignableScopes": ["/"],
            "permissions": [{"actions": list(role.actions), "notActions": list(role.not_actions),
                             "dataActions": list(role.data_actions), "notDataActions": []}],
            "createdOn": "2015-02-02T21:55:09.8806423Z", "updatedOn": "2021-11-11T20:13:47.8628684Z",
            "createdBy": None, "updatedBy": None,
        },
        "id": rbac.definition_resource_id(subscription_id, role),
        "type": "Microsoft.Authorization/roleDefinitions", "name": role.definition_id,
    }


def role_assignment(assignment: rbac.Assignment, subscription_id: str, updated_by: str | None = None,
                    created: bool = False) -> dict[str, Any]:
    """An assignment as ARM returns it; ``createdBy`` is null in the PUT answer and filled in later (§2.3)."""
    return {
        "properties": {
            "roleDefinitionId": rbac.definition_resource_id(subscription_id, assignment.role),
            "principalId": assignment.principal_id, "principalType": assignment.principal_type,
            "scope": assignment.scope or "/", "condition": None, "conditionVersion": None,
            "createdOn": assignment.created_on, "updatedOn": assignment.created_on,
            "createdBy": None if created else assignment.created_by,
            "updatedBy": updated_by or assignment.created_by, "delegatedManagedIdentityResourceId": None,
            "description": None,
        },
        "id": assignment.id, "type": "Microsoft.Authorization/roleAssignments", "name": assignment.name,
    }


def list_role_definitions(request: Request, hub: HubResource) -> Response:
    """``GET .../roleDefinitions`` with an optional ``roleName eq`` filter."""
    expression = request.query_params.get("$filter")
    roles = list(rbac.BUILT_IN_ROLES.values())
    if expression:
        found = ROLE_NAME_FILTER.match(expression)
        if found is None:
            raise ArmError(400, "InvalidFilterInQueryString",
                           f"The filter '{expression}' is not supported. Use roleName eq '<name>'.")
        wanted = found["name"].replace("''", "'").lower()
        roles = [role for role in roles if role.name.lower() == wanted]
    return reply(request, {"value": [role_definition(role, hub.subscription_id) for role in roles]})


def get_role_definition(request: Request, hub: HubResource, guid: str) -> Response:
    """``GET .../roleDefinitions/{guid}``."""
    role = rbac.role_by_id(guid)
    if role is None:
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not "
                       "exist.")
    return reply(request, role_definition(role, hub.subscription_id))


async def put_role_assignment(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource,
                              scope: str, name: str) -> Response:
    """``PUT .../roleAssignments/{name}``: checks in ARM's order, then one ``rbac.assign``."""
    authorize(ctx, claims, WRITE, scope, rbac.assignment_id(scope, name))
    if not GUID.match(name):
        raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role "
                       "assignment ID must be a GUID.")
    properties = (await json_body(request)).get("properties") or {}
    definition, principal_id = properties.get("roleDefinitionId"), properties.get("principalId")
    principal_type = properties.get("principalType")
    if not definition or not principal_id:
        missing = "roleDefinitionId" if not definition else "principalId"
        raise ArmError(400, "InvalidRequestContent", f"properties.{missing} is required: give the role definition's "
                       "id and the principal's object id (a service principal's id, not the app's appId).")
    role = rbac.role_by_id(str(definition))
    if role is None:
        raise ArmError(400, "RoleDefinitionDoesNotExist",
                       f"The specified role definition with ID '{str(definition).rsplit('/', 1)[-1]}' does not "
                       "exist.")
    if principal_type is not None and principal_type not in rbac.PRINCIPAL_TYPES:
        raise ArmError(400, "InvalidPrincipalType", f"The principal type '{principal_type}' is not valid. Use one "
                       f"of {', '.join(rbac.PRINCIPAL_TYPES)}.")
    found_type = ctx.directory.principal_type(str(principal_id)) if ctx.directory else None
    if found_type is None:
        tenant = bearer.tenant_of(ctx)
        raise ArmError(400, "PrincipalNotFound",
                       f"Principal {principal_id} does not exist in the directory {tenant}. "
                       "Check that you have the correct principal ID. If you are creating this principal and then "
                       "immediately assigning a role, this error might be related to a replication delay. In this "
                       "case, set the role assignment principalType property to a value, such as ServicePrincipal, "
                       "User, or Group.  See https://aka.ms/docs-principaltype")
    before = rbac.get(ctx.db, name)
    try:
        assignment = rbac.assign(ctx.db, str(principal_id), role.definition_id, scope=scope, name=name,
                                 principal_type=principal_type or found_type, created_by=claims["oid"])
    except rbac.AssignmentConflict as error:
        raise ArmError(409 if error.code == "RoleAssignmentExists" else 400, error.code, str(error)) from None
    created = before is None
    return reply(request, role_assignment(assignment, hub.subscription_id, claims["oid"], created),
                 201 if created else 200)


def get_role_assignment(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource, scope: str,
                        name: str) -> Response:
    """``GET .../roleAssignments/{name}``, or 404 ``RoleAssignmentNotFound``."""
    authorize(ctx, claims, READ, scope, rbac.assignment_id(scope, name))
    assignment = rbac.get(ctx.db, name)
    if assignment is None or assignment.scope.lower() != scope.lower():
        raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
    return reply(request, role_assignment(assignment, hub.subscription_id))


def delete_role_assignment(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource, scope: str,
                           name: str) -> Response:
    """``DELETE .../roleAssignments/{name}``: 200 with what was deleted, 204 when nothing was."""
    authorize(ctx, claims, DELETE, scope, rbac.assignment_id(scope, name))
    found = rbac.get(ctx.db, name)
    if found is None or found.scope.lower() != scope.lower():
        return reply(request, None, 204)
    rbac.delete(ctx.db, name)
    return reply(request, role_assignment(found, hub.subscription_id))


def list_role_assignments(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource,
                          scope: str) -> Response:
    """``GET .../roleAssignments`` with ``atScope()`` or ``principalId eq`` (at, above and below without)."""
    authorize(ctx, claims, READ, scope)
    expression = request.query_params.get("$filter")
    principal_id, at_scope = None, False
    if expression:
        by_principal = PRINCIPAL_FILTER.match(expression)
        if AT_SCOPE.match(expression):
            at_scope = True
        elif by_principal is not None:
            principal_id = by_principal["eq"] or by_principal["to"]
        else:
            raise ArmError(400, "InvalidFilterInQueryString", f"The filter '{expression}' is not supported. Use "
                           "atScope() or principalId eq '<object id>'.")
    found = rbac.list_assignments(ctx.db, scope, principal_id, at_scope)
    return reply(request, {"value": [role_assignment(a, hub.subscription_id) for a in found]})
