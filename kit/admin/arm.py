"""Azure Resource Manager through the real management SDKs, pointed at the target's ARM endpoint.

:func:`authorization_client` and :func:`iothub_client` return azure-mgmt-authorization's and azure-mgmt-iothub's
own clients with ``base_url`` and ``credential_scopes`` taken from the target, so a notebook shows the SDK calls
(``role_assignments.create(...)``, ``iot_hub_resource.list_keys(...)``) and they run unchanged on both targets.
:func:`assign_role` and :func:`remove_role` only save the plumbing (a new assignment's GUID name, the role's id,
finding the assignment to delete) and turn ARM's refusals into errors that say what to change.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignment, RoleAssignmentCreateParameters
from azure.mgmt.iothub import IotHubClient

from kit.cloud import Cloud
from kit.sandbox import rbac
from kit.settings import GUID

# Built-in roles: their ids are the same in every tenant (built-in-roles docs); one table for the kit and the sandbox.
BUILT_IN_ROLES = {name: role.definition_id for name, role in rbac.BUILT_IN_ROLES.items()}
PRINCIPAL_TYPES = ("ServicePrincipal", "User", "Group")
ClientT = TypeVar("ClientT", AuthorizationManagementClient, IotHubClient)


class AdminError(RuntimeError):
    """An admin step ARM refused, with what to change."""


def authorization_client(session: Any, credential: TokenCredential, **kwargs: Any) -> AuthorizationManagementClient:
    """azure-mgmt-authorization's client for the target's subscription and ARM endpoint."""
    return _arm_client(AuthorizationManagementClient, session, credential, **kwargs)


def iothub_client(session: Any, credential: TokenCredential, **kwargs: Any) -> IotHubClient:
    """azure-mgmt-iothub's client for the target's subscription and ARM endpoint."""
    return _arm_client(IotHubClient, session, credential, **kwargs)


def _arm_client(client_class: type[ClientT], session: Any, credential: TokenCredential, **kwargs: Any) -> ClientT:
    cloud = Cloud.for_session(session)
    cloud.require("subscription_id")
    return client_class(credential, cloud.subscription_id, base_url=cloud.arm_endpoint,
                        credential_scopes=[cloud.arm_scope], **kwargs)


def role_guid(role_name: str) -> str:
    """A built-in role's GUID by name (case-insensitive, as ARM's ``roleName eq`` filter matches)."""
    for name, guid in BUILT_IN_ROLES.items():
        if name.lower() == role_name.strip().lower():
            return guid
    known = ", ".join(f"'{name}'" for name in BUILT_IN_ROLES)
    raise ValueError(f"role_name: '{role_name}' is not a built-in role the kit knows. Use one of {known} (or look "
                     "another one up with role_definitions.list(scope, filter=\"roleName eq '...'\")).")


def role_definition_id(session: Any, role_name: str) -> str:
    """The id of a built-in role in the target's subscription (what ``role_assignments.create`` wants)."""
    if isinstance(session, str):
        raise TypeError("role_definition_id(session, role_name): pass the session first; a role's id names the "
                        "subscription.")
    guid = role_guid(role_name)
    return f"{Cloud.for_session(session).subscription_scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _check_principal_id(principal_id: str) -> None:
    if not GUID.match(principal_id or ""):
        raise ValueError(f"principal_id: '{principal_id}' is not an object id (a GUID). Give the service "
                         "principal's object id (GraphClient.find_service_principal(app_id).object_id), or a "
                         "user's object id.")


def assign_role(session: Any, credential: TokenCredential, principal_id: str, role_name: str,
                scope: str | None = None, principal_type: str = "ServicePrincipal") -> RoleAssignment:
    """Assign a built-in role at ``scope`` (default: the hub), like ``az role assignment create``. An assignment that
    exists already is returned as it is. It takes effect after a delay: see ``wait_for_role``."""
    _check_principal_id(principal_id)
    if principal_type not in PRINCIPAL_TYPES:
        raise ValueError(f"principal_type: '{principal_type}' is not one of {', '.join(PRINCIPAL_TYPES)}.")
    scope = scope or Cloud.for_session(session).hub_resource_id
    client = authorization_client(session, credential)
    parameters = RoleAssignmentCreateParameters(role_definition_id=role_definition_id(session, role_name),
                                                principal_id=principal_id, principal_type=principal_type)
    try:
        return client.role_assignments.create(scope, str(uuid.uuid4()), parameters)
    except ResourceExistsError:  # RoleAssignmentExists: the same role for the same principal at this scope
        return next(a for a in _assignments(client, scope, principal_id)
                    if a.role_definition_id.lower().endswith(role_guid(role_name)))
    except HttpResponseError as error:
        raise _explained(error, principal_id) from None


def remove_role(session: Any, credential: TokenCredential, principal_id: str, role_name: str,
                scope: str | None = None) -> int:
    """Delete the principal's assignments of ``role_name`` at ``scope`` (default: the hub); returns how many."""
    _check_principal_id(principal_id)
    scope = scope or Cloud.for_session(session).hub_resource_id
    wanted = role_guid(role_name)
    client = authorization_client(session, credential)
    removed = 0
    for assignment in _assignments(client, scope, principal_id):
        if assignment.role_definition_id.lower().endswith(wanted) and assignment.scope.lower() == scope.lower():
            client.role_assignments.delete_by_id(assignment.id)
            removed += 1
    return removed


def _assignments(client: AuthorizationManagementClient, scope: str, principal_id: str) -> list[RoleAssignment]:
    return list(client.role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal_id}'"))


def _explained(error: HttpResponseError, principal_id: str) -> Exception:
    code = getattr(error.error, "code", "") or ""
    if code == "PrincipalNotFound":
        return AdminError(f"principal_id: ARM found no principal '{principal_id}' in the directory. Give the service "
                          "principal's object id (not the app's appId, nor the application's object id); a principal "
                          "created seconds ago may not have replicated yet: pass principal_type and retry.")
    if code == "AuthorizationFailed":
        return AdminError("The signed-in account may not create role assignments at this scope: it needs Owner, "
                          f"User Access Administrator or Role Based Access Control Administrator there.\n{error}")
    return error
