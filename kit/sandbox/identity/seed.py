"""What a fresh sandbox directory holds: a tenant, the learner's app, a managed identity, a user and a public client.

Seeding runs on the first start (or the first admin command). The learner app's secret value and the managed
identity header are kept in a 0600 file, because only a hash of the secret is stored in the directory.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from kit.sandbox.db import Database
from kit.sandbox.hub import rbac
from kit.sandbox.identity import directory
from kit.sandbox.identity.keys import key_path, stored_key
from kit.sandbox.paths import SECRETS_DIR, write_private

TENANT_DOMAIN = "sandbox.onmicrosoft.com"
LEARNER_APP = "learner-app"
MANAGED_IDENTITY = "sandbox-vm (system-assigned)"
SEED_FILE = "seed.json"


@dataclass(frozen=True)
class Seeded:
    """What a fresh sandbox hands its learner: the tenant, the learner app and its credentials."""

    tenant: directory.Tenant
    learner_app: directory.Principal
    client_secret: str
    certificate_path: Path
    identity_header: str


def _seed_file(state_dir: Path) -> Path:
    return state_dir / SECRETS_DIR / SEED_FILE


def ensure_seeded(state_dir: Path, db: Database) -> Seeded:
    """Create the default directory once; later calls read what was created."""
    directory.open_directory(db)
    tenant = directory.default_tenant(db)
    if tenant is None or not _seed_file(state_dir).exists():
        return _seed(state_dir, db)
    saved = json.loads(_seed_file(state_dir).read_text())
    app = directory.principal_by_object_id(db, saved["learner_object_id"])
    if app is None:  # the learner deleted the default app; recreate it so connection.json stays usable
        return _seed(state_dir, db, tenant)
    return Seeded(tenant, app, saved["client_secret"], key_path(state_dir, LEARNER_APP), saved["identity_header"])


def _seed(state_dir: Path, db: Database, tenant: directory.Tenant | None = None) -> Seeded:
    if tenant is None:
        tenant = directory.create_tenant(db, TENANT_DOMAIN, "Sandbox", is_default=True)
        managed = directory.create_principal(db, MANAGED_IDENTITY, "managed_identity", tenant.tenant_id)
        rbac.assign(db, managed.object_id, directory.DEFAULT_ROLE)
        user = directory.create_user(db, tenant, "learner", "Sandbox Learner")
        rbac.assign(db, user.object_id, directory.DEFAULT_ROLE)
        directory.create_principal(db, "Microsoft Azure CLI", "public_client", tenant.tenant_id,
                                   client_id=directory.DEVELOPER_CLIENT_ID)
    app = directory.create_principal(db, LEARNER_APP, "application", tenant.tenant_id)
    rbac.assign(db, app.object_id, directory.DEFAULT_ROLE)
    secret = directory.add_secret(db, app)["client_secret"]
    certificate = stored_key(state_dir, LEARNER_APP, "sandbox learner app")
    directory.add_certificate(db, app, certificate.pem())
    identity_header = secrets.token_urlsafe(24)
    write_private(_seed_file(state_dir), json.dumps({
        "learner_object_id": app.object_id, "client_secret": secret, "identity_header": identity_header,
    }))
    return Seeded(tenant, app, secret, key_path(state_dir, LEARNER_APP), identity_header)


def system_assigned_identity(db: Database) -> directory.Principal | None:
    """The first managed identity created is the sandbox 'VM's' system-assigned one."""
    row = db.one("SELECT * FROM principals WHERE kind = 'managed_identity' ORDER BY created_at LIMIT 1")
    return directory.Principal.from_row(row) if row else None
