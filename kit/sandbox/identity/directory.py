"""The directory: tenants, app registrations and their credentials, managed identities and users, in SQLite.

Both the running sandbox and the admin command line use these functions, so an admin change made while the sandbox
runs takes effect on the next token request. Secret values are never stored, only their SHA-256 (they are long
random strings, so a plain hash is enough); the value is shown once, when it is created, as in the Azure portal.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kit.sandbox.db import Database
from kit.sandbox.hub import rbac
from kit.sandbox.identity.keys import certificate_thumbprints

FIC_AUDIENCE = "api://AzureADTokenExchange"
MAX_FEDERATED_CREDENTIALS = 20
DEFAULT_SECRET_DAYS = 180
DAY_S = 86400
# azure-identity's DeviceCodeCredential and InteractiveBrowserCredential use this first-party public client by default.
DEVELOPER_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
DEFAULT_ROLE = "IoT Hub Data Contributor"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id    TEXT PRIMARY KEY,
    domain       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    is_default   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS principals (
    object_id    TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(tenant_id),
    client_id    TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('application', 'public_client', 'managed_identity')),
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS client_secrets (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    hint       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS key_credentials (
    object_id   TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    sha1        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    certificate TEXT NOT NULL,
    subject     TEXT NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (object_id, sha1)
);
CREATE TABLE IF NOT EXISTS federated_credentials (
    object_id   TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    audience    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (object_id, name),
    UNIQUE (object_id, issuer, subject)
);
CREATE TABLE IF NOT EXISTS users (
    object_id    TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(tenant_id),
    upn          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    sha256     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(object_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,119}$")


@dataclass(frozen=True)
class Principal:
    """An app registration with its service principal, or a managed identity; ``object_id`` is the ``oid``."""

    object_id: str
    tenant_id: str
    client_id: str
    display_name: str
    kind: str
    enabled: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Principal:
        return cls(row["object_id"], row["tenant_id"], row["client_id"], row["display_name"], row["kind"],
                   bool(row["enabled"]))


@dataclass(frozen=True)
class User:
    """A signed-in person (device code flow): the subject of delegated tokens, unlike an app's own tokens."""

    object_id: str
    tenant_id: str
    upn: str
    display_name: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> User:
        return cls(row["object_id"], row["tenant_id"], row["upn"], row["display_name"])


@dataclass(frozen=True)
class Tenant:
    """A directory: authority paths name it by GUID or by its domain."""

    tenant_id: str
    domain: str
    display_name: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Tenant:
        return cls(row["tenant_id"], row["domain"], row["display_name"])


def open_directory(db: Database) -> Database:
    """The directory's tables plus the role assignments, which live beside the principals they name."""
    db.ensure_schema(SCHEMA + rbac.SCHEMA)
    return db


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret_value() -> str:
    """A value shaped like an Entra client secret: a 3-character hint, ``8Q~`` and random characters (40 in all)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
    body = "".join(secrets.choice(alphabet) for _ in range(37))
    return body[:3] + "8Q~" + body[3:34]


# --- tenants ----------------------------------------------------------------------------------------------------

def create_tenant(db: Database, domain: str, display_name: str, is_default: bool = False) -> Tenant:
    """A new tenant with a random GUID; ``is_default`` makes it the one ``common`` resolves to."""
    tenant = Tenant(str(uuid.uuid4()), domain, display_name)
    with db.transaction() as conn:
        conn.execute("INSERT INTO tenants VALUES (?, ?, ?, ?)",
                     (tenant.tenant_id, domain, display_name, int(is_default)))
    return tenant


def default_tenant(db: Database) -> Tenant | None:
    """The home tenant of the sandbox (the one marked default, else the oldest), or None before seeding."""
    row = db.one("SELECT * FROM tenants ORDER BY is_default DESC, rowid LIMIT 1")
    return Tenant.from_row(row) if row else None


def find_tenant(db: Database, segment: str) -> Tenant | None:
    """The tenant named by an authority path segment: its GUID or its domain (``common`` and ``organizations``
    resolve to the default tenant, the only home tenant of the sandbox's users)."""
    if segment.lower() in ("common", "organizations"):
        return default_tenant(db)
    row = db.one("SELECT * FROM tenants WHERE tenant_id = ? COLLATE NOCASE OR domain = ?", (segment, segment))
    return Tenant.from_row(row) if row else None


def is_valid_tenant_identifier(segment: str) -> bool:
    """Whether a path segment could name a tenant at all (else AADSTS900023, not 90002 "not found")."""
    return bool(GUID.match(segment) or DOMAIN.match(segment)) or segment.lower() in ("common", "organizations")


# --- principals -------------------------------------------------------------------------------------------------

def create_principal(db: Database, display_name: str, kind: str = "application", tenant_id: str | None = None,
                     client_id: str | None = None) -> Principal:
    """An app registration, public client or managed identity, enabled, in the default tenant unless told."""
    tenant = tenant_id or require_default_tenant(db).tenant_id
    principal = Principal(str(uuid.uuid4()), tenant, client_id or str(uuid.uuid4()), display_name, kind, True)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO principals VALUES (?, ?, ?, ?, ?, 1, ?)",
            (principal.object_id, tenant, principal.client_id, display_name, kind, time.time()),
        )
    return principal


def require_default_tenant(db: Database) -> Tenant:
    """``default_tenant``, with an error that says how to create one."""
    tenant = default_tenant(db)
    if tenant is None:
        raise LookupError("The directory has no tenant yet. Start the sandbox once: python -m kit.sandbox start")
    return tenant


def principal_by_client_id(db: Database, tenant_id: str, client_id: str) -> Principal | None:
    """The principal a token request names: a client id only counts in its own tenant (else AADSTS700016)."""
    row = db.one("SELECT * FROM principals WHERE client_id = ? AND tenant_id = ?", (client_id, tenant_id))
    return Principal.from_row(row) if row else None


def principal_by_object_id(db: Database, object_id: str) -> Principal | None:
    """The principal behind a token's ``oid`` claim (GUIDs compare without case)."""
    row = db.one("SELECT * FROM principals WHERE object_id = ? COLLATE NOCASE", (object_id,))
    return Principal.from_row(row) if row else None


def find_principal(db: Database, reference: str) -> Principal:
    """An app or managed identity by client id, object id or display name, with an error that lists the apps."""
    rows = db.all(
        "SELECT * FROM principals WHERE client_id = ? COLLATE NOCASE OR object_id = ? COLLATE NOCASE "
        "OR display_name = ?", (reference, reference, reference),
    )
    if len(rows) == 1:
        return Principal.from_row(rows[0])
    names = ", ".join(sorted(p.display_name for p in list_principals(db)))
    if not rows:
        raise LookupError(f"app: no app or managed identity is named or identified by '{reference}'. "
                          f"Known: {names}. Use 'python -m kit.sandbox app list'.")
    raise LookupError(f"app: several apps are named '{reference}'; give its client id instead.")


def list_principals(db: Database) -> list[Principal]:
    return [Principal.from_row(row) for row in db.all("SELECT * FROM principals ORDER BY created_at")]


def principal_active(db: Database, object_id: str) -> bool:
    """False for a deleted or disabled app: the hub then refuses its still-valid tokens."""
    row = db.one("SELECT enabled FROM principals WHERE object_id = ?", (object_id,))
    if row is not None:
        return bool(row["enabled"])
    return db.one("SELECT 1 FROM users WHERE object_id = ?", (object_id,)) is not None


def set_enabled(db: Database, principal: Principal, enabled: bool) -> None:
    """Disable or re-enable an app: a disabled app gets AADSTS7000112 and the hub refuses its tokens."""
    with db.transaction() as conn:
        conn.execute("UPDATE principals SET enabled = ? WHERE object_id = ?", (int(enabled), principal.object_id))


def delete_principal(db: Database, principal: Principal) -> None:
    """Delete an app and its role assignments (which would otherwise name an object id that no longer exists),
    in one transaction: never an app without its assignments' cleanup, or the reverse."""
    db.ensure_schema(rbac.SCHEMA)
    with db.transaction() as conn:
        rbac.remove_all(db, principal.object_id)
        conn.execute("DELETE FROM principals WHERE object_id = ?", (principal.object_id,))


def describe(db: Database, principal: Principal) -> dict[str, Any]:
    """What ``app list`` shows: the registration and its credentials (never a secret value)."""
    now = time.time()
    secrets_ = [
        {"key_id": r["key_id"], "hint": r["hint"], "expires": _iso(r["expires_at"]), "expired": r["expires_at"] < now}
        for r in db.all("SELECT * FROM client_secrets WHERE object_id = ? ORDER BY expires_at", (principal.object_id,))
    ]
    certs = [{"thumbprint": r["sha1"], "subject": r["subject"], "expires": _iso(r["expires_at"])}
             for r in db.all("SELECT * FROM key_credentials WHERE object_id = ?", (principal.object_id,))]
    fics = [{"name": f["name"], "issuer": f["issuer"], "subject": f["subject"], "audiences": [f["audience"]]}
            for f in federated_credentials(db, principal)]
    return {
        "display_name": principal.display_name, "client_id": principal.client_id,
        "object_id": principal.object_id, "tenant_id": principal.tenant_id, "kind": principal.kind,
        "enabled": principal.enabled, "secrets": secrets_, "certificates": certs, "federated_credentials": fics,
        "roles": [role.name for role in rbac.roles_of(db, principal.object_id)],
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# --- client secrets ---------------------------------------------------------------------------------------------

def add_secret(db: Database, principal: Principal, days: float = DEFAULT_SECRET_DAYS,
               value: str | None = None) -> dict[str, Any]:
    """Add a client secret; the value is returned once and only its hash is kept."""
    if principal.kind != "application":
        raise ValueError(f"app: '{principal.display_name}' is a {principal.kind.replace('_', ' ')}; "
                         "only app registrations hold client secrets.")
    value = value or new_secret_value()
    key_id = str(uuid.uuid4())
    expires_at = time.time() + days * DAY_S
    with db.transaction() as conn:
        conn.execute("INSERT INTO client_secrets VALUES (?, ?, ?, ?, ?)",
                     (key_id, principal.object_id, value[:3], _hash(value), expires_at))
    return {"key_id": key_id, "client_secret": value, "expires": _iso(expires_at)}


def expire_secrets(db: Database, principal: Principal, key_id: str | None = None) -> int:
    """Move the expiry of one secret (or all) into the past, as time would."""
    query = "UPDATE client_secrets SET expires_at = ? WHERE object_id = ?"
    params: tuple[Any, ...] = (time.time() - 60, principal.object_id)
    if key_id:
        query += " AND key_id = ?"
        params += (key_id,)
    with db.transaction() as conn:
        return conn.execute(query, params).rowcount


def check_secret(db: Database, principal: Principal, value: str) -> str:
    """``"valid"``, ``"expired"`` (the value matches a secret past its expiry) or ``"wrong"``."""
    digest = _hash(value)
    for row in db.all("SELECT sha256, expires_at FROM client_secrets WHERE object_id = ?", (principal.object_id,)):
        if hmac.compare_digest(row["sha256"], digest):
            return "valid" if row["expires_at"] > time.time() else "expired"
    return "wrong"


# --- certificates -----------------------------------------------------------------------------------------------

def add_certificate(db: Database, principal: Principal, certificate_pem: bytes) -> dict[str, Any]:
    """Register the public certificate (never the private key); it is identified by its SHA-1 thumbprint."""
    if principal.kind != "application":
        raise ValueError(f"app: '{principal.display_name}' is not an app registration; certificates go on apps.")
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as error:
        raise ValueError(f"certificate: not a PEM certificate ({error}). Give the .pem that holds "
                         "'-----BEGIN CERTIFICATE-----'.") from None
    sha1, sha256 = certificate_thumbprints(cert)
    public_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO key_credentials VALUES (?, ?, ?, ?, ?, ?)",
                     (principal.object_id, sha1, sha256, public_pem, cert.subject.rfc4514_string(),
                      cert.not_valid_after_utc.timestamp()))
    return {"thumbprint": sha1, "thumbprint_sha256": sha256, "expires": _iso(cert.not_valid_after_utc.timestamp())}


def registered_certificate(db: Database, principal: Principal, sha1: str | None = None,
                           sha256: str | None = None) -> x509.Certificate | None:
    """The app's certificate with either thumbprint (assertions send ``x5t`` or ``x5t#S256``), or None."""
    row = db.one(
        "SELECT certificate FROM key_credentials WHERE object_id = ? AND (sha1 = ? OR sha256 = ?)",
        (principal.object_id, (sha1 or "").upper(), (sha256 or "").upper()),
    )
    return x509.load_pem_x509_certificate(row["certificate"].encode()) if row else None


# --- federated identity credentials -----------------------------------------------------------------------------

def add_federated_credential(db: Database, principal: Principal, name: str, issuer: str, subject: str,
                             audience: str = FIC_AUDIENCE, description: str = "") -> dict[str, Any]:
    """Trust tokens of an external issuer for one subject, with the limits Entra enforces."""
    if principal.kind == "public_client":
        raise ValueError(f"app: '{principal.display_name}' is a public client and cannot hold federated credentials.")
    if not FIC_NAME.match(name):
        raise ValueError(f"name: '{name}' must be 3-120 characters: letters, digits, '-', '_' or '.'.")
    if not issuer.startswith("https://") or len(issuer) > 600:
        raise ValueError(f"issuer: '{issuer}' must be an https URL of at most 600 characters, copied exactly "
                         "(a trailing slash counts).")
    if not subject or len(subject) > 600:
        raise ValueError("subject: give the exact 'sub' claim of the external token (1-600 characters).")
    count = db.scalar("SELECT COUNT(*) FROM federated_credentials WHERE object_id = ?", (principal.object_id,))
    if count >= MAX_FEDERATED_CREDENTIALS:
        raise ValueError(f"app: '{principal.display_name}' already has {MAX_FEDERATED_CREDENTIALS} federated "
                         "credentials, the maximum. Delete one first.")
    try:
        with db.transaction() as conn:
            conn.execute("INSERT INTO federated_credentials VALUES (?, ?, ?, ?, ?, ?)",
                         (principal.object_id, name, issuer, subject, audience, description))
    except sqlite3.IntegrityError:
        raise ValueError(f"name/issuer/subject: '{principal.display_name}' already has a federated credential "
                         f"named '{name}' or for issuer '{issuer}' and subject '{subject}'; each must be unique."
                         ) from None
    return {"name": name, "issuer": issuer, "subject": subject, "audiences": [audience]}


def federated_credentials(db: Database, principal: Principal) -> list[sqlite3.Row]:
    """The app's federated credentials, by name: the records a federated assertion must match."""
    return db.all("SELECT * FROM federated_credentials WHERE object_id = ? ORDER BY name", (principal.object_id,))


def move_issuer(db: Database, old_prefix: str, new_issuer: str) -> None:
    """Point credentials of the built-in issuer at its current URL (the port may change between runs)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE OR IGNORE federated_credentials SET issuer = ? WHERE issuer LIKE ? AND issuer LIKE ?",
            (new_issuer, old_prefix + "%", "%/external-issuer"),
        )


# --- users and refresh tokens -----------------------------------------------------------------------------------

def create_user(db: Database, tenant: Tenant, alias: str, display_name: str) -> User:
    """A user ``alias@<tenant domain>``, the identity the device code flow signs in."""
    user = User(str(uuid.uuid4()), tenant.tenant_id, f"{alias}@{tenant.domain}", display_name)
    with db.transaction() as conn:
        conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                     (user.object_id, user.tenant_id, user.upn, user.display_name))
    return user


def first_user(db: Database, tenant_id: str) -> User | None:
    """The user who "approves" device codes, since no person is there to type them."""
    row = db.one("SELECT * FROM users WHERE tenant_id = ? ORDER BY rowid LIMIT 1", (tenant_id,))
    return User.from_row(row) if row else None


def issue_refresh_token(db: Database, user: User, client_id: str, days: float = 90) -> str:
    """A new refresh token for ``user`` and ``client_id``; only its hash is stored."""
    value = "1.A" + secrets.token_urlsafe(96)
    with db.transaction() as conn:
        conn.execute("INSERT INTO refresh_tokens VALUES (?, ?, ?, ?)",
                     (_hash(value), user.object_id, client_id, time.time() + days * DAY_S))
    return value


def redeem_refresh_token(db: Database, value: str, client_id: str) -> User | None:
    """The user a refresh token was issued to, if it is known, unexpired and was issued to this client."""
    row = db.one(
        "SELECT u.* FROM refresh_tokens r JOIN users u ON u.object_id = r.user_id "
        "WHERE r.sha256 = ? AND r.client_id = ? COLLATE NOCASE AND r.expires_at > ?",
        (_hash(value), client_id, time.time()),
    )
    return User.from_row(row) if row else None
