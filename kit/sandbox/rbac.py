"""Azure RBAC for the hub: the built-in role definitions, the role assignments, and the checks made from them.

This is the one place role assignments are stored and read. The hub's data plane asks :func:`is_allowed` (data
actions, from assignments at the hub's scope or above it); ARM's ``Microsoft.Authorization`` subset and the admin
command line create, list and delete them here; ARM's own checks (``listkeys``, writing role assignments) ask
:func:`allows_action`.

Built-in roles carry their real ids and permissions (built-in-roles/internet-of-things.md, privileged.md,
general.md). Owner and Contributor grant actions but no data actions: they reach the hub's data only through
``listkeys`` (shared access keys), never through Entra tokens.

Propagation: on Azure a new assignment "can take up to 10 minutes" to apply (role-based-access-control/
troubleshooting.md). Each assignment is stored with the moment it takes effect, ``role_propagation_seconds``
(a hub setting, see :func:`propagation_seconds`) after it was made; until then it grants nothing. Assignments whose
principal was deleted stay, as on Azure ("Identity not found"), and grant nothing because the principal cannot
sign in any more.
"""

from __future__ import annotations

import fnmatch
import math
import time
import uuid
import weakref
from dataclasses import dataclass

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.resource import hub_resource

PREFIX = "Microsoft.Devices/IotHubs/"
ROLE_DEFINITIONS_PATH = "/providers/Microsoft.Authorization/roleDefinitions/"
PROPAGATION_KEY = "role_propagation_seconds"
DEFAULT_PROPAGATION_S = 5.0
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")


@dataclass(frozen=True)
class Role:
    """A built-in role definition: its id and the actions, excluded actions and data actions (with wildcards)."""

    name: str
    definition_id: str
    data_actions: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    description: str = ""

    def allows(self, data_action: str) -> bool:
        """Whether a data action matches one of the role's data-action patterns (``*`` as in Azure)."""
        return _matches(data_action, self.data_actions)

    def allows_action(self, action: str) -> bool:
        """Whether a control-plane action is in the role's ``actions`` and not in its ``notActions``."""
        return _matches(action, self.actions) and not _matches(action, self.not_actions)

    @property
    def is_data_role(self) -> bool:
        """Whether the role grants data actions (the IoT Hub data roles), not control-plane actions."""
        return bool(self.data_actions)


def _matches(action: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


CONTRIBUTOR_NOT_ACTIONS = (
    "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
    "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
    "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
    "Microsoft.Resources/deploymentStacks/manageDenySetting/action", "Microsoft.Subscription/cancel/action",
    "Microsoft.Subscription/enable/action",
)

BUILT_IN_ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("IoT Hub Data Contributor", "4fc6c259-987e-4a07-842e-c321cc9d413f", (PREFIX + "*",),
             description="Allows for full access to IoT Hub data plane operations."),
        Role("IoT Hub Data Reader", "b447c946-2db7-41ec-983d-d8bf3b1c77e3",
             (PREFIX + "*/read", PREFIX + "fileUpload/notifications/action"),
             description="Allows for full read access to IoT Hub data-plane properties"),
        Role("IoT Hub Registry Contributor", "4ea46cd5-c1b2-4a8e-910b-273211f9ce47", (PREFIX + "devices/*",),
             description="Allows for full access to IoT Hub device registry."),
        Role("IoT Hub Twin Contributor", "494bdba2-168f-4f31-a0a1-191d2f7c028c", (PREFIX + "twins/*",),
             description="Allows for read and write access to all IoT Hub device and module twins."),
        Role("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", actions=("*",),
             description="Grants full access to manage all resources, including the ability to assign roles in "
                         "Azure RBAC."),
        Role("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c", actions=("*",),
             not_actions=CONTRIBUTOR_NOT_ACTIONS,
             description="Grants full access to manage all resources, but does not allow you to assign roles in "
                         "Azure RBAC, manage assignments in Azure Blueprints, or share image galleries."),
        Role("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", actions=("*/read",),
             description="View all resources, but does not allow you to make any changes."),
        Role("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
             actions=("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"),
             description="Lets you manage user access to Azure resources."),
    )
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS rbac_assignments (
    name           TEXT PRIMARY KEY COLLATE NOCASE,
    scope          TEXT NOT NULL COLLATE NOCASE,
    role_id        TEXT NOT NULL COLLATE NOCASE,
    principal_id   TEXT NOT NULL COLLATE NOCASE,
    principal_type TEXT NOT NULL,
    created_on     TEXT NOT NULL,
    created_by     TEXT,
    effective_at   REAL NOT NULL,
    UNIQUE (scope, role_id, principal_id)
);
"""
LEGACY_TABLE = "role_assignments"  # before ARM: (principal_id, role_name), all at the hub's scope


@dataclass(frozen=True)
class Assignment:
    """One role assignment, as ARM's ``roleAssignments`` resource describes it."""

    name: str
    scope: str
    role: Role
    principal_id: str
    principal_type: str
    created_on: str
    created_by: str | None
    effective_at: float

    @property
    def id(self) -> str:
        """The assignment's ARM id (:func:`assignment_id`)."""
        return assignment_id(self.scope, self.name)

    @property
    def in_effect(self) -> bool:
        """Whether the assignment has propagated (it grants nothing before)."""
        return self.effective_at <= time.time()


def assignment_id(scope: str, name: str) -> str:
    """A role assignment's ARM id: ``{scope}/providers/Microsoft.Authorization/roleAssignments/{name}``."""
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"


class AssignmentConflict(ValueError):
    """ARM's refusals of a role assignment write: ``code`` is ``RoleAssignmentExists`` or
    ``RoleAssignmentUpdateNotPermitted``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_OPENED: weakref.WeakSet[Database] = weakref.WeakSet()  # connections whose table is ready (checked once each)


def open_rbac(db: Database) -> Database:
    """The assignment table, with assignments of the pre-ARM table moved in (at the hub's scope, in effect)."""
    if db in _OPENED:
        return db
    db.ensure_schema(SCHEMA)
    _OPENED.add(db)
    if db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LEGACY_TABLE,)):
        hub = hub_resource(db).resource_id
        rows = db.all(f"SELECT principal_id, role_name, created_utc FROM {LEGACY_TABLE}")
        has_users = db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users'")
        users = {row[0].lower() for row in db.all("SELECT object_id FROM users")} if has_users else set()
        with db.transaction() as conn:
            for row in rows:
                role = BUILT_IN_ROLES.get(row["role_name"])
                kind = "User" if row["principal_id"].lower() in users else "ServicePrincipal"
                if role is not None:
                    conn.execute("INSERT OR IGNORE INTO rbac_assignments VALUES (?, ?, ?, ?, ?, ?, NULL, 0)",
                                 (str(uuid.uuid4()), hub, role.definition_id, row["principal_id"], kind,
                                  row["created_utc"]))
            conn.execute(f"DROP TABLE {LEGACY_TABLE}")
    return db


# --- role definitions -------------------------------------------------------------------------------------------

def role_named(name: str) -> Role:
    """A built-in role by name, case-insensitively (as ARM's ``roleName eq`` filter), with the valid names."""
    for role in BUILT_IN_ROLES.values():
        if role.name.lower() == name.strip().lower():
            return role
    valid = ", ".join(f"'{n}'" for n in BUILT_IN_ROLES)
    raise ValueError(f"role: '{name}' is not a built-in role the sandbox knows. Use one of {valid}.")


def role_by_id(definition: str) -> Role | None:
    """A built-in role by its GUID or a full ``.../roleDefinitions/{guid}`` id."""
    guid = definition.rstrip("/").rsplit("/", 1)[-1].lower()
    return next((role for role in BUILT_IN_ROLES.values() if role.definition_id == guid), None)


def definition_resource_id(subscription_id: str, role: Role) -> str:
    """The id ARM gives a built-in role listed under a subscription (the form ``az`` builds from a GUID)."""
    return f"/subscriptions/{subscription_id}{ROLE_DEFINITIONS_PATH}{role.definition_id}"


# --- propagation ------------------------------------------------------------------------------------------------

def propagation_seconds(db: Database) -> float:
    """How long a new assignment takes to apply (hub setting ``role_propagation_seconds``; Azure: up to 10 min)."""
    return float(settings_store.get(db, PROPAGATION_KEY, str(DEFAULT_PROPAGATION_S)) or 0)


def set_propagation_seconds(db: Database, seconds: float) -> None:
    """Change the propagation delay of assignments made from now on."""
    if not 0 <= seconds <= 3600:
        raise ValueError(f"role propagation: {seconds} s is out of range; give 0 to 3600 seconds.")
    settings_store.put(db, PROPAGATION_KEY, str(float(seconds)))


# --- assignments ------------------------------------------------------------------------------------------------

def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() % 1 * 10**7):07d}Z"


def _assignment(row) -> Assignment:  # type: ignore[no-untyped-def]
    role = role_by_id(row["role_id"])
    assert role is not None, row["role_id"]
    return Assignment(row["name"], row["scope"], role, row["principal_id"], row["principal_type"],
                      row["created_on"], row["created_by"], row["effective_at"])


def hub_scope(db: Database) -> str:
    """The hub's resource id: the default scope of assignments made without one."""
    return hub_resource(db).resource_id


def assign(db: Database, principal_id: str, role_name: str, *, scope: str | None = None, name: str | None = None,
           principal_type: str = "ServicePrincipal", created_by: str | None = None,
           propagation_s: float | None = None) -> Assignment:
    """Assign a role to a principal at ``scope`` (default: the hub). Idempotent for the same name and triple.

    The same (scope, role, principal) under another name raises ``RoleAssignmentExists``; a known name with a
    different triple ``RoleAssignmentUpdateNotPermitted``, as ARM answers. The assignment applies after
    ``propagation_s`` (default: the hub setting).
    """
    role = role_by_id(role_name) or role_named(role_name)
    open_rbac(db)
    scope = "/" + (scope or hub_scope(db)).strip("/")
    delay = propagation_seconds(db) if propagation_s is None else propagation_s
    with db.transaction() as conn:
        same_triple = conn.execute(
            "SELECT * FROM rbac_assignments WHERE scope = ? AND role_id = ? AND principal_id = ?",
            (scope, role.definition_id, principal_id)).fetchone()
        named = conn.execute("SELECT * FROM rbac_assignments WHERE name = ?", (name,)).fetchone() if name else None
        if named is not None and (same_triple is None or same_triple["name"].lower() != named["name"].lower()):
            raise AssignmentConflict("RoleAssignmentUpdateNotPermitted",
                                     "Tenant ID, application ID, principal ID, and scope are not allowed to be "
                                     "updated.")
        if same_triple is not None:
            if name and same_triple["name"].lower() != name.lower():
                raise AssignmentConflict("RoleAssignmentExists", "The role assignment already exists.")
            return _assignment(same_triple)
        conn.execute("INSERT INTO rbac_assignments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (name or str(uuid.uuid4()), scope, role.definition_id, principal_id, principal_type,
                      _iso_now(), created_by, time.time() + delay))
        row = conn.execute("SELECT * FROM rbac_assignments WHERE scope = ? AND role_id = ? AND principal_id = ?",
                           (scope, role.definition_id, principal_id)).fetchone()
    return _assignment(row)


def get(db: Database, name: str) -> Assignment | None:
    """The assignment with this name (a GUID), or None."""
    open_rbac(db)
    row = db.one("SELECT * FROM rbac_assignments WHERE name = ?", (name,))
    return _assignment(row) if row else None


def delete(db: Database, name: str) -> Assignment | None:
    """Delete an assignment by name; returns what was deleted (None when there was none)."""
    found = get(db, name)
    if found is not None:
        with db.transaction() as conn:
            conn.execute("DELETE FROM rbac_assignments WHERE name = ?", (name,))
    return found


def remove(db: Database, principal_id: str, role_name: str, scope: str | None = None) -> bool:
    """Take a role away from a principal at ``scope`` (default: the hub); False when it was not assigned."""
    role = role_named(role_name)
    open_rbac(db)
    scope = "/" + (scope or hub_scope(db)).strip("/")
    row = db.one("SELECT name FROM rbac_assignments WHERE scope = ? AND role_id = ? AND principal_id = ?",
                 (scope, role.definition_id, principal_id))
    return row is not None and delete(db, row["name"]) is not None


def _covers(scope: str, target: str) -> bool:
    """Whether an assignment at ``scope`` applies to ``target`` (the same scope or one below it)."""
    scope, target = scope.rstrip("/").lower(), target.rstrip("/").lower()
    return scope == "" or target == scope or target.startswith(scope + "/")


def list_assignments(db: Database, scope: str | None = None, principal_id: str | None = None,
                     at_scope: bool = False) -> list[Assignment]:
    """Assignments at, above and below ``scope`` (``at_scope``: at or above only, ARM's ``atScope()``), optionally
    for one principal; all of them without a scope."""
    open_rbac(db)
    query, params = "SELECT * FROM rbac_assignments", ()
    if principal_id:
        query, params = query + " WHERE principal_id = ?", (principal_id,)
    found = [_assignment(row) for row in db.all(query + " ORDER BY created_on, name", params)]
    if scope is None:
        return found
    return [a for a in found if _covers(a.scope, scope) or (not at_scope and _covers(scope, a.scope))]


def roles_of(db: Database, principal_id: str) -> list[Role]:
    """The roles a principal holds on the hub (assigned at its scope or above), applied yet or not."""
    hub = hub_scope(db)
    return sorted({a.role for a in list_assignments(db, principal_id=principal_id) if _covers(a.scope, hub)},
                  key=lambda role: role.name)


def _effective(db: Database, principal_id: str, target: str) -> list[Role]:
    return [a.role for a in list_assignments(db, principal_id=principal_id)
            if a.in_effect and _covers(a.scope, target)]


def is_allowed(db: Database, principal_id: str, data_action: str) -> bool:
    """Whether an applied role of the principal at the hub's scope (or above) grants ``data_action``."""
    return any(role.allows(data_action) for role in _effective(db, principal_id, hub_scope(db)))


def next_effective_at(db: Database, now: float) -> float:
    """When the next assignment made before ``now`` comes into effect (``inf`` when none is pending): until then
    every decision drawn from the assignments stays the same, unless they are written."""
    open_rbac(db)
    pending = db.scalar("SELECT MIN(effective_at) FROM rbac_assignments WHERE effective_at > ?", (now,))
    return math.inf if pending is None else float(pending)


def allows_action(db: Database, principal_id: str, action: str, scope: str) -> bool:
    """Whether an applied role of the principal at ``scope`` (or above) grants the control-plane ``action``."""
    return any(role.allows_action(action) for role in _effective(db, principal_id, scope))
