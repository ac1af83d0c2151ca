"""The hub's RBAC store (kit/sandbox/rbac.py): scopes, propagation, conflicts, and older state folders."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kit.sandbox import rbac
from kit.sandbox.db import Database
from kit.sandbox.resource import hub_resource

READ = "Microsoft.Devices/IotHubs/twins/read"


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "state.sqlite3")
    rbac.set_propagation_seconds(database, 0)
    yield database
    database.close()


def test_assignments_above_the_hub_count_and_beside_it_do_not(db):
    hub = hub_resource(db)
    rbac.assign(db, "p-sub", "IoT Hub Data Reader", scope=hub.subscription_scope)
    rbac.assign(db, "p-rg", "IoT Hub Data Reader", scope=hub.resource_group_scope)
    rbac.assign(db, "p-other", "IoT Hub Data Reader", scope=hub.resource_group_scope + "2")  # another group
    assert rbac.is_allowed(db, "p-sub", READ) and rbac.is_allowed(db, "p-rg", READ)
    assert not rbac.is_allowed(db, "p-other", READ)
    assert [a.principal_id for a in rbac.list_assignments(db, hub.resource_id, at_scope=True)] == ["p-sub", "p-rg"]


def test_a_new_assignment_grants_nothing_until_it_has_propagated(db):
    rbac.set_propagation_seconds(db, 0.3)
    assignment = rbac.assign(db, "p", "IoT Hub Data Reader")
    assert not assignment.in_effect and not rbac.is_allowed(db, "p", READ)
    assert [role.name for role in rbac.roles_of(db, "p")] == ["IoT Hub Data Reader"]  # listed at once
    time.sleep(0.35)
    assert rbac.is_allowed(db, "p", READ)
    with pytest.raises(ValueError, match="0 to 3600"):
        rbac.set_propagation_seconds(db, 4000)


def test_owner_holds_actions_but_no_data_actions(db):
    hub = hub_resource(db)
    rbac.assign(db, "owner", "Owner", scope=hub.subscription_scope)
    rbac.assign(db, "contributor", "Contributor", scope=hub.resource_id)
    assert not rbac.is_allowed(db, "owner", READ)
    assert rbac.allows_action(db, "owner", "Microsoft.Authorization/roleAssignments/write", hub.resource_id)
    assert rbac.allows_action(db, "contributor", "Microsoft.Devices/IotHubs/listkeys/action", hub.resource_id)
    assert not rbac.allows_action(db, "contributor", "Microsoft.Authorization/roleAssignments/write",
                                  hub.resource_id)
    assert not rbac.allows_action(db, "contributor", "Microsoft.Devices/IotHubs/read", hub.subscription_scope)


def test_conflicts_are_named_as_arm_names_them(db):
    first = rbac.assign(db, "p", "IoT Hub Data Reader", name="11111111-1111-1111-1111-111111111111")
    assert rbac.assign(db, "p", "IoT Hub Data Reader", name=first.name) == first  # the same PUT again
    with pytest.raises(rbac.AssignmentConflict) as exists:
        rbac.assign(db, "p", "IoT Hub Data Reader", name="22222222-2222-2222-2222-222222222222")
    assert exists.value.code == "RoleAssignmentExists"
    with pytest.raises(rbac.AssignmentConflict) as changed:
        rbac.assign(db, "q", "IoT Hub Data Reader", name=first.name)
    assert changed.value.code == "RoleAssignmentUpdateNotPermitted"


def test_a_state_folder_from_before_arm_keeps_its_assignments(tmp_path: Path):
    database = Database(tmp_path / "old.sqlite3")
    try:
        database.ensure_schema("CREATE TABLE role_assignments (principal_id TEXT NOT NULL, role_name TEXT NOT NULL, "
                               "created_utc TEXT NOT NULL, PRIMARY KEY (principal_id, role_name));")
        database.ensure_schema("CREATE TABLE users (object_id TEXT PRIMARY KEY);")
        with database.transaction() as conn:
            conn.execute("INSERT INTO role_assignments VALUES ('old-app', 'IoT Hub Data Contributor', '2026-01-01')")
            conn.execute("INSERT INTO role_assignments VALUES ('old-user', 'IoT Hub Data Reader', '2026-01-01')")
            conn.execute("INSERT INTO users VALUES ('old-user')")
        assert rbac.is_allowed(database, "old-app", READ)  # moved in, at the hub's scope, already in effect
        moved = {a.principal_id: a for a in rbac.list_assignments(database)}
        assert moved["old-app"].scope == hub_resource(database).resource_id
        assert (moved["old-app"].principal_type, moved["old-user"].principal_type) == ("ServicePrincipal", "User")
        assert not database.one("SELECT 1 FROM sqlite_master WHERE name = 'role_assignments'")
    finally:
        database.close()
