"""What a fresh sandbox directory holds: a tenant, the learner's app, a managed identity, a user, a public client
and an administrator.

Seeding runs on the first start (or the first admin command). The learner app's and the administrator's secret
values and the managed identity header are kept in a 0600 file, because only a hash of a secret is stored in the
directory. The administrator (an app with a secret) and the seeded user stand in for the learner's own account on
Azure: Owner on the subscription and allowed to manage app registrations (Graph's Application.ReadWrite.All).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from kit.sandbox import rbac
from kit.sandbox.db import Database
from kit.sandbox.identity import directory
from kit.sandbox.identity.keys import key_path, stored_key
from kit.sandbox.paths import SECRETS_DIR, write_private
from kit.sandbox.resource import hub_resource

TENANT_DOMAIN = "sandbox.onmicrosoft.com"
LEARNER_APP = "learner-app"
MANAGED_IDENTITY = "sandbox-vm (system-assigned)"
ADMIN_APP = "sandbox-admin"
ADMIN_ROLE = "Owner"
SEED_FILE = "seed.json"


@dataclass(frozen=True)
class Seeded:
    """What a fresh sandbox hands its learner: the tenant, the learner app and its credentials."""

    tenant: directory.Tenant
    learner_app: directory.Principal
    client_secret: str
    certificate_path: Path
    identity_header: str
    admin_app: directory.Principal
    admin_secret: str


def _seed_file(state_dir: Path) -> Path:
    return state_dir / SECRETS_DIR / SEED_FILE


def ensure_seeded(state_dir: Path, db: Database) -> Seeded:
    """Create the default directory once; later calls read what was created (and add what an older one lacks)."""
    directory.open_directory(db)
    tenant = directory.default_tenant(db)
    if tenant is None or not _seed_file(state_dir).exists():
        tenant = tenant or _seed_tenant(db)
        saved: dict = {}
        on_disk = None
    else:
        saved = json.loads(_seed_file(state_dir).read_text())
        on_disk = dict(saved)
    app = directory.principal_by_object_id(db, saved.get("learner_object_id", ""))
    admin = directory.principal_by_object_id(db, saved.get("admin_object_id", ""))
    if app is None:  # first start, or the learner deleted the default app: recreate it so connection.json works
        app, saved["client_secret"] = _seed_learner_app(state_dir, db, tenant)
        saved["learner_object_id"] = app.object_id
        saved.setdefault("identity_header", secrets.token_urlsafe(24))
    if admin is None:  # first start, a state folder from before the administrator existed, or it was deleted
        admin, saved["admin_secret"] = _seed_admin(db, tenant)
        saved["admin_object_id"] = admin.object_id
    if saved != on_disk:  # something was (re)created: keep its secret
        write_private(_seed_file(state_dir), json.dumps(saved))
    return Seeded(tenant, app, saved["client_secret"], key_path(state_dir, LEARNER_APP), saved["identity_header"],
                  admin, saved["admin_secret"])


def _seed_tenant(db: Database) -> directory.Tenant:
    """The tenant with its system-assigned identity, its user and the Azure CLI's public client."""
    tenant = directory.create_tenant(db, TENANT_DOMAIN, "Sandbox", is_default=True)
    managed = directory.create_principal(db, MANAGED_IDENTITY, "managed_identity", tenant.tenant_id)
    rbac.assign(db, managed.object_id, directory.DEFAULT_ROLE, propagation_s=0)
    user = directory.create_user(db, tenant, "learner", "Sandbox Learner")
    rbac.assign(db, user.object_id, directory.DEFAULT_ROLE, principal_type="User", propagation_s=0)
    directory.create_principal(db, "Microsoft Azure CLI", "public_client", tenant.tenant_id,
                               client_id=directory.DEVELOPER_CLIENT_ID)
    return tenant


def _seed_learner_app(state_dir: Path, db: Database, tenant: directory.Tenant) -> tuple[directory.Principal, str]:
    """The learner's app: IoT Hub Data Contributor, a secret and a certificate."""
    app = directory.create_principal(db, LEARNER_APP, "application", tenant.tenant_id)
    rbac.assign(db, app.object_id, directory.DEFAULT_ROLE, propagation_s=0)
    secret = directory.add_secret(db, app)["client_secret"]
    certificate = stored_key(state_dir, LEARNER_APP, "sandbox learner app")
    directory.add_certificate(db, app, certificate.pem())
    return app, secret


def _seed_admin(db: Database, tenant: directory.Tenant) -> tuple[directory.Principal, str]:
    """The administrator app, and the same rights for the tenant's user (who signs in with a device code)."""
    admin = directory.create_principal(db, ADMIN_APP, "application", tenant.tenant_id)
    grant_admin_rights(db, admin.object_id)
    user = directory.first_user(db, tenant.tenant_id)
    if user is not None:
        grant_admin_rights(db, user.object_id, "User")
    return admin, directory.add_secret(db, admin, days=3650)["client_secret"]


def grant_admin_rights(db: Database, object_id: str, principal_type: str = "ServicePrincipal") -> None:
    """What the learner's own account holds on Azure: Owner on the subscription, managing app registrations."""
    rbac.assign(db, object_id, ADMIN_ROLE, scope=hub_resource(db).subscription_scope, principal_type=principal_type,
                propagation_s=0)
    directory.grant_graph_permission(db, object_id)


def system_assigned_identity(db: Database) -> directory.Principal | None:
    """The first managed identity created is the sandbox 'VM's' system-assigned one."""
    row = db.one("SELECT * FROM principals WHERE kind = 'managed_identity' ORDER BY created_at LIMIT 1")
    return directory.Principal.from_row(row) if row else None
