"""Azure RBAC on the hub: the four built-in IoT Hub data roles, their data actions, and role assignments.

Owner or Contributor on the hub grant no data actions; only these roles do. The hub is the smallest scope (no
per-device assignments). A principal without the action gets 401 IotHubUnauthorized, as on the real hub.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from kit.sandbox.db import Database

PREFIX = "Microsoft.Devices/IotHubs/"


@dataclass(frozen=True)
class Role:
    """A built-in IoT Hub data role and the data actions (with wildcards) it grants."""

    name: str
    definition_id: str
    data_actions: tuple[str, ...]

    def allows(self, data_action: str) -> bool:
        """Whether a data action matches one of the role's patterns (``*`` as in Azure role definitions)."""
        return any(fnmatch.fnmatchcase(data_action, pattern) for pattern in self.data_actions)


BUILT_IN_ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("IoT Hub Data Contributor", "4fc6c259-987e-4a07-842e-c321cc9d413f", (PREFIX + "*",)),
        Role("IoT Hub Data Reader", "b447c946-2db7-41ec-983d-d8bf3b1c77e3",
             (PREFIX + "*/read", PREFIX + "fileUpload/notifications/action")),
        Role("IoT Hub Registry Contributor", "4ea46cd5-c1b2-4a8e-910b-273211f9ce47", (PREFIX + "devices/*",)),
        Role("IoT Hub Twin Contributor", "494bdba2-168f-4f31-a0a1-191d2f7c028c", (PREFIX + "twins/*",)),
    )
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS role_assignments (
    principal_id TEXT NOT NULL,
    role_name    TEXT NOT NULL,
    created_utc  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (principal_id, role_name)
);
"""


def role_named(name: str) -> Role:
    """Look a role up by name, case-insensitively, with a clear error listing the valid names."""
    for role in BUILT_IN_ROLES.values():
        if role.name.lower() == name.strip().lower():
            return role
    valid = ", ".join(f"'{n}'" for n in BUILT_IN_ROLES)
    raise ValueError(f"role: '{name}' is not an IoT Hub data role. Use one of {valid}.")


def assign(db: Database, principal_id: str, role_name: str) -> Role:
    """Give a principal a role (idempotent, like ``az role assignment create``)."""
    role = role_named(role_name)
    db.ensure_schema(SCHEMA)
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO role_assignments (principal_id, role_name) VALUES (?, ?)",
            (principal_id, role.name),
        )
    return role


def remove(db: Database, principal_id: str, role_name: str) -> bool:
    """Take a role away; False when the principal did not have it."""
    role = role_named(role_name)
    db.ensure_schema(SCHEMA)
    with db.transaction() as conn:
        cursor = conn.execute(
            "DELETE FROM role_assignments WHERE principal_id = ? AND role_name = ?", (principal_id, role.name)
        )
    return cursor.rowcount > 0


def remove_all(db: Database, principal_id: str) -> None:
    """Drop every assignment of a principal (its app was deleted)."""
    db.ensure_schema(SCHEMA)
    with db.transaction() as conn:
        conn.execute("DELETE FROM role_assignments WHERE principal_id = ?", (principal_id,))


def roles_of(db: Database, principal_id: str) -> list[Role]:
    """The principal's roles, the only source of its data actions on the hub."""
    db.ensure_schema(SCHEMA)
    rows = db.all("SELECT role_name FROM role_assignments WHERE principal_id = ? ORDER BY role_name", (principal_id,))
    return [BUILT_IN_ROLES[row["role_name"]] for row in rows if row["role_name"] in BUILT_IN_ROLES]


def is_allowed(db: Database, principal_id: str, data_action: str) -> bool:
    """Whether any of the principal's roles grants ``data_action``."""
    return any(role.allows(data_action) for role in roles_of(db, principal_id))
