"""The directory: tenants, app registrations and their credentials, managed identities and users, in SQLite.

Both the running sandbox and the admin command line use these functions, so an admin change made while the sandbox
runs takes effect on the next token request. Secret values are never stored, only their SHA-256 (they are long
random strings, so a plain hash is enough); the value is shown once, when it is created, as in the Azure portal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kit.sandbox import rbac
from kit.sandbox.db import Database
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
    created_at   REAL NOT NULL,
    app_object_id TEXT UNIQUE COLLATE NOCASE,
    service_principal INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS client_secrets (
    key_id     TEXT PRIMARY KEY,
    object_id  TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    hint       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    expires_at REAL NOT NULL,
    display_name TEXT,
    start_at   REAL
);
CREATE TABLE IF NOT EXISTS key_credentials (
    object_id   TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    sha1        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    certificate TEXT NOT NULL,
    subject     TEXT NOT NULL,
    expires_at  REAL NOT NULL,
    key_id      TEXT,
    display_name TEXT,
    custom_key_identifier TEXT,
    usage       TEXT NOT NULL DEFAULT 'Verify',
    start_at    REAL,
    PRIMARY KEY (object_id, sha1)
);
CREATE TABLE IF NOT EXISTS federated_credentials (
    object_id   TEXT NOT NULL REFERENCES principals(object_id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    audience    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    id          TEXT,
    PRIMARY KEY (object_id, name),
    UNIQUE (object_id, issuer, subject)
);
CREATE TABLE IF NOT EXISTS users (
    object_id    TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(tenant_id),
    upn          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deleted_items (
    object_id    TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    app_id       TEXT,
    deleted_at   REAL NOT NULL,
    document     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_permissions (
    object_id  TEXT NOT NULL COLLATE NOCASE,
    permission TEXT NOT NULL,
    PRIMARY KEY (object_id, permission)
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    sha256     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(object_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

# Columns added after the first release: an older state folder gets them (and ids for existing rows) on open.
ADDED_COLUMNS = {
    "principals": {"app_object_id": "TEXT", "service_principal": "INTEGER NOT NULL DEFAULT 1"},
    "client_secrets": {"display_name": "TEXT", "start_at": "REAL"},
    "key_credentials": {"key_id": "TEXT", "display_name": "TEXT", "custom_key_identifier": "TEXT",
                        "usage": "TEXT NOT NULL DEFAULT 'Verify'", "start_at": "REAL"},
    "federated_credentials": {"id": "TEXT"},
}
# Graph's application permission that lets a caller manage every app registration (permissions-reference).
APPLICATION_READWRITE_ALL = "Application.ReadWrite.All"

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,119}$")


@dataclass(frozen=True)
class Principal:
    """An app registration with its service principal, or a managed identity.

    ``object_id`` is the service principal's object id: the ``oid`` of its tokens and the ``principalId`` of its role
    assignments. ``app_object_id`` is the application object's id (Graph's ``/applications/{id}``), ``client_id``
    the ``appId``. ``has_service_principal`` is False for an app registered through Graph until its service
    principal is created (``POST /servicePrincipals``): such an app cannot sign in yet.
    """

    object_id: str
    tenant_id: str
    client_id: str
    display_name: str
    kind: str
    enabled: bool
    app_object_id: str | None = None
    has_service_principal: bool = True
    created_at: float = 0.0

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Principal:
        return cls(row["object_id"], row["tenant_id"], row["client_id"], row["display_name"], row["kind"],
                   bool(row["enabled"]), row["app_object_id"], bool(row["service_principal"]), row["created_at"])


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
    """The directory's tables (brought up to date) plus the role assignments, which name its principals."""
    db.ensure_schema(SCHEMA)
    _add_columns(db)
    rbac.open_rbac(db)
    return db


def _add_columns(db: Database) -> None:
    for table, columns in ADDED_COLUMNS.items():
        present = {row["name"] for row in db.all(f"PRAGMA table_info({table})")}
        for name, ddl in columns.items():
            if name not in present:
                with db.transaction() as conn:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
    missing = db.all("SELECT object_id FROM principals WHERE app_object_id IS NULL AND kind != 'managed_identity'")
    missing_fics = db.all("SELECT object_id, name FROM federated_credentials WHERE id IS NULL")
    missing_keys = db.all("SELECT object_id, sha1 FROM key_credentials WHERE key_id IS NULL")
    if missing or missing_fics or missing_keys:
        with db.transaction() as conn:
            for row in missing:
                conn.execute("UPDATE principals SET app_object_id = ? WHERE object_id = ?",
                             (str(uuid.uuid4()), row["object_id"]))
            for row in missing_fics:
                conn.execute("UPDATE federated_credentials SET id = ? WHERE object_id = ? AND name = ?",
                             (str(uuid.uuid4()), row["object_id"], row["name"]))
            for row in missing_keys:
                conn.execute("UPDATE key_credentials SET key_id = ? WHERE object_id = ? AND sha1 = ?",
                             (str(uuid.uuid4()), row["object_id"], row["sha1"]))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret_value() -> str:
    """A value shaped like an Entra client secret: a 3-character hint, ``8Q~`` and random characters (40 in all)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
    body = "".join(secrets.choice(alphabet) for _ in range(37))
    return body[:3] + "8Q~" + body[3:]


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
                     client_id: str | None = None, service_principal: bool = True) -> Principal:
    """An app registration, public client or managed identity, enabled, in the default tenant unless told.

    ``service_principal=False`` registers the application object only, as Graph's ``POST /applications`` does
    (the portal and ``app create`` make both at once)."""
    _require_display_name(display_name)
    tenant = tenant_id or require_default_tenant(db).tenant_id
    app_object_id = None if kind == "managed_identity" else str(uuid.uuid4())
    principal = Principal(str(uuid.uuid4()), tenant, client_id or str(uuid.uuid4()), display_name, kind, True,
                          app_object_id, service_principal or kind == "managed_identity", time.time())
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO principals (object_id, tenant_id, client_id, display_name, kind, enabled, created_at, "
            "app_object_id, service_principal) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
            (principal.object_id, tenant, principal.client_id, display_name, kind, principal.created_at,
             app_object_id, int(principal.has_service_principal)),
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


def principal_by_app_object_id(db: Database, app_object_id: str) -> Principal | None:
    """The app registration behind Graph's ``/applications/{id}`` (the application object's id)."""
    row = db.one("SELECT * FROM principals WHERE app_object_id = ? COLLATE NOCASE", (app_object_id,))
    return Principal.from_row(row) if row else None


def principal_by_app_id(db: Database, app_id: str) -> Principal | None:
    """The app registration with this ``appId`` (client id), in any tenant of the sandbox."""
    row = db.one("SELECT * FROM principals WHERE client_id = ? COLLATE NOCASE", (app_id,))
    return Principal.from_row(row) if row else None


def principal_active(db: Database, object_id: str) -> bool:
    """False for a deleted or disabled app (or one without a service principal): the hub then refuses its tokens."""
    row = db.one("SELECT enabled, service_principal FROM principals WHERE object_id = ?", (object_id,))
    if row is not None:
        return bool(row["enabled"]) and bool(row["service_principal"])
    return db.one("SELECT 1 FROM users WHERE object_id = ?", (object_id,)) is not None


def principal_type(db: Database, object_id: str) -> str | None:
    """ARM's ``principalType`` of an object id: ``ServicePrincipal`` (an app's service principal or a managed
    identity), ``User``, or None when the directory holds no such principal (ARM's ``PrincipalNotFound``)."""
    row = db.one("SELECT service_principal FROM principals WHERE object_id = ? COLLATE NOCASE", (object_id,))
    if row is not None:
        return "ServicePrincipal" if row["service_principal"] else None
    return "User" if db.one("SELECT 1 FROM users WHERE object_id = ? COLLATE NOCASE", (object_id,)) else None


def set_service_principal(db: Database, principal: Principal, present: bool) -> None:
    """Create (``POST /servicePrincipals``) or delete an app's service principal, its identity in the tenant."""
    with db.transaction() as conn:
        conn.execute("UPDATE principals SET service_principal = ? WHERE object_id = ?",
                     (int(present), principal.object_id))


def rename_principal(db: Database, principal: Principal, display_name: str) -> None:
    """Change an app's display name (Graph ``PATCH displayName``)."""
    _require_display_name(display_name)
    with db.transaction() as conn:
        conn.execute("UPDATE principals SET display_name = ? WHERE object_id = ?", (display_name, principal.object_id))


def set_enabled(db: Database, principal: Principal, enabled: bool) -> None:
    """Disable or re-enable an app: a disabled app gets AADSTS7000112 and the hub refuses its tokens."""
    with db.transaction() as conn:
        conn.execute("UPDATE principals SET enabled = ? WHERE object_id = ?", (int(enabled), principal.object_id))


def delete_principal(db: Database, principal: Principal) -> None:
    """Delete an app (or managed identity) into the deleted items, as Entra soft-deletes app registrations.

    Its credentials go with it; its role assignments stay, as on Azure, where they show as "Identity not found"
    until someone deletes them (role-based-access-control/troubleshooting.md). They grant nothing: the principal
    can no longer sign in, and a re-created app gets a new object id."""
    document = json.dumps({"object_id": principal.object_id, "app_object_id": principal.app_object_id,
                           "client_id": principal.client_id, "kind": principal.kind,
                           "tenant_id": principal.tenant_id})
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO deleted_items VALUES (?, ?, ?, ?, ?, ?)",
                     (principal.app_object_id or principal.object_id, principal.kind, principal.display_name,
                      principal.client_id, time.time(), document))
        conn.execute("DELETE FROM principals WHERE object_id = ?", (principal.object_id,))


def deleted_items(db: Database) -> list[sqlite3.Row]:
    """Deleted app registrations (Entra keeps them 30 days; the sandbox keeps them until a reset)."""
    return db.all("SELECT * FROM deleted_items ORDER BY deleted_at")


def describe(db: Database, principal: Principal) -> dict[str, Any]:
    """What ``app list`` shows: the registration and its credentials (never a secret value)."""
    now = time.time()
    secrets_ = [
        {"key_id": r["key_id"], "hint": r["hint"], "expires": iso(r["expires_at"]), "expired": r["expires_at"] < now}
        for r in secret_rows(db, principal)
    ]
    certs = [{"thumbprint": r["sha1"], "subject": r["subject"], "expires": iso(r["expires_at"])}
             for r in key_credential_rows(db, principal)]
    fics = [{"name": f["name"], "issuer": f["issuer"], "subject": f["subject"], "audiences": [f["audience"]]}
            for f in federated_credentials(db, principal)]
    return {
        "display_name": principal.display_name, "client_id": principal.client_id,
        "object_id": principal.object_id, "app_object_id": principal.app_object_id, "tenant_id": principal.tenant_id,
        "kind": principal.kind, "enabled": principal.enabled, "service_principal": principal.has_service_principal,
        "secrets": secrets_, "certificates": certs, "federated_credentials": fics,
        "roles": [role.name for role in rbac.roles_of(db, principal.object_id)],
    }


def iso(epoch: float) -> str:
    """A moment as Graph and the admin commands show it: UTC, seconds, ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class DirectoryError(ValueError):
    """A refused directory change; ``code`` is the error code Microsoft Graph answers it with."""

    def __init__(self, message: str, code: str = "Request_BadRequest") -> None:
        super().__init__(message)
        self.code = code


def _require_display_name(display_name: str | None) -> None:
    """Every app needs a name, whether it is registered or renamed."""
    if not display_name or not display_name.strip():
        raise DirectoryError("displayName: give the app a name (1-256 characters).")


def _require_app(principal: Principal, what: str) -> None:
    if principal.kind != "application":
        raise DirectoryError(f"app: '{principal.display_name}' is a {principal.kind.replace('_', ' ')}; only app "
                             f"registrations hold {what}.")


# --- client secrets ---------------------------------------------------------------------------------------------

def add_secret(db: Database, principal: Principal, days: float = DEFAULT_SECRET_DAYS, value: str | None = None,
               display_name: str | None = None, start_at: float | None = None,
               expires_at: float | None = None) -> dict[str, Any]:
    """Add a client secret (``addPassword``); the value is returned once and only its hash is kept."""
    _require_app(principal, "client secrets")
    value = value or new_secret_value()
    key_id = str(uuid.uuid4())
    start_at = time.time() if start_at is None else start_at
    expires_at = start_at + days * DAY_S if expires_at is None else expires_at
    if expires_at <= start_at:
        raise DirectoryError("endDateTime: the secret must end after it starts (startDateTime).")
    with db.transaction() as conn:
        conn.execute("INSERT INTO client_secrets (key_id, object_id, hint, sha256, expires_at, display_name, "
                     "start_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (key_id, principal.object_id, value[:3], _hash(value), expires_at, display_name, start_at))
    return {"key_id": key_id, "client_secret": value, "expires": iso(expires_at), "hint": value[:3],
            "display_name": display_name, "start": iso(start_at)}


def secret_rows(db: Database, principal: Principal) -> list[sqlite3.Row]:
    """The app's secrets (hint, dates, name; never the value), soonest expiry first."""
    return db.all("SELECT * FROM client_secrets WHERE object_id = ? ORDER BY expires_at", (principal.object_id,))


def remove_secret(db: Database, principal: Principal, key_id: str) -> None:
    """Delete one secret (``removePassword``); an unknown key id is refused."""
    with db.transaction() as conn:
        removed = conn.execute("DELETE FROM client_secrets WHERE object_id = ? AND key_id = ? COLLATE NOCASE",
                               (principal.object_id, key_id)).rowcount
    if not removed:
        raise DirectoryError(f"keyId: '{principal.display_name}' has no password credential with key id '{key_id}'.")


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

def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER bytes, with an error that says what to give."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise DirectoryError(f"certificate: not an X.509 certificate ({error}). Give the .pem that holds "
                             "'-----BEGIN CERTIFICATE-----' (the public certificate, not the private key).") from None


def add_certificate(db: Database, principal: Principal, certificate: bytes, key_id: str | None = None,
                    display_name: str | None = None, custom_key_identifier: str | None = None,
                    usage: str = "Verify") -> dict[str, Any]:
    """Register a public certificate (never the private key), identified by its SHA-1 thumbprint and a key id."""
    _require_app(principal, "certificates")
    if usage not in ("Verify", "Sign"):
        raise DirectoryError('The value for the property "usage" in one of your credentials is invalid. '
                             "Acceptable values are Sign, Verify.")
    cert = load_certificate(certificate)
    sha1, sha256 = certificate_thumbprints(cert)
    public_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_id = key_id or str(uuid.uuid4())
    with db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO key_credentials (object_id, sha1, sha256, certificate, subject, "
                     "expires_at, key_id, display_name, custom_key_identifier, usage, start_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (principal.object_id, sha1, sha256, public_pem, cert.subject.rfc4514_string(),
                      cert.not_valid_after_utc.timestamp(), key_id, display_name or cert.subject.rfc4514_string(),
                      custom_key_identifier, usage, cert.not_valid_before_utc.timestamp()))
    return {"thumbprint": sha1, "thumbprint_sha256": sha256, "expires": iso(cert.not_valid_after_utc.timestamp()),
            "key_id": key_id}


def key_credential_rows(db: Database, principal: Principal) -> list[sqlite3.Row]:
    """The app's certificates (public parts only)."""
    return db.all("SELECT * FROM key_credentials WHERE object_id = ? ORDER BY start_at", (principal.object_id,))


def replace_key_credentials(db: Database, principal: Principal, entries: list[dict[str, Any]]) -> None:
    """Graph's ``PATCH keyCredentials``: the array replaces the app's certificates. An entry naming a stored
    ``keyId`` with no ``key`` keeps that certificate (``az ... --append`` resends them so)."""
    stored = {row["key_id"].lower(): row for row in key_credential_rows(db, principal)}
    keep, add = [], []
    for entry in entries:
        key_id = str(entry.get("keyId") or "")
        if not entry.get("key"):
            if key_id.lower() not in stored:
                raise DirectoryError("keyCredentials: an entry without 'key' must name the keyId of a certificate "
                                     "the app already has.")
            keep.append(key_id.lower())
        else:
            add.append(entry)
    for entry in add:
        if entry.get("type", "AsymmetricX509Cert") != "AsymmetricX509Cert":
            raise DirectoryError("keyCredentials: the sandbox takes certificates (type AsymmetricX509Cert) only.")
        load_certificate(_key_bytes(entry["key"]))  # validate every new entry before changing anything
        if entry.get("usage", "Verify") not in ("Verify", "Sign"):
            raise DirectoryError('The value for the property "usage" in one of your credentials is invalid. '
                                 "Acceptable values are Sign, Verify.")
    with db.transaction():
        for key_id, row in stored.items():
            if key_id not in keep:
                db.execute("DELETE FROM key_credentials WHERE object_id = ? AND sha1 = ?",
                           (principal.object_id, row["sha1"]))
        for entry in add:
            add_certificate(db, principal, _key_bytes(entry["key"]), entry.get("keyId"), entry.get("displayName"),
                            entry.get("customKeyIdentifier"), entry.get("usage", "Verify"))


def _key_bytes(value: str) -> bytes:
    """``key`` of a keyCredential: base64 of the certificate (DER, or a PEM file's text)."""
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        raise DirectoryError("keyCredentials.key: give the certificate's bytes in base64.") from None


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
        raise DirectoryError(f"app: '{principal.display_name}' is a public client and cannot hold federated "
                             "credentials.")
    if not FIC_NAME.match(name or ""):
        raise DirectoryError(f"name: '{name}' must be 3-120 characters: letters, digits, '-', '_' or '.'.")
    if not issuer or not issuer.startswith("https://") or len(issuer) > 600:
        raise DirectoryError(f"issuer: '{issuer}' must be an https URL of at most 600 characters, copied exactly "
                             "(a trailing slash counts).")
    if not subject or len(subject) > 600:
        raise DirectoryError("subject: give the exact 'sub' claim of the external token (1-600 characters).")
    if not audience or len(audience) > 600:
        raise DirectoryError(f"audiences: give exactly one audience, usually '{FIC_AUDIENCE}'.")
    if len(description) > 600:
        raise DirectoryError("description: at most 600 characters.")
    count = db.scalar("SELECT COUNT(*) FROM federated_credentials WHERE object_id = ?", (principal.object_id,))
    if count >= MAX_FEDERATED_CREDENTIALS:
        raise DirectoryError(f"app: '{principal.display_name}' already has {MAX_FEDERATED_CREDENTIALS} federated "
                             "credentials, the maximum. Delete one first.")
    if db.one("SELECT 1 FROM federated_credentials WHERE object_id = ? AND name = ?", (principal.object_id, name)):
        raise DirectoryError(f"name: '{principal.display_name}' already has a federated credential named '{name}'; "
                             "names are unique within an app.")
    if db.one("SELECT 1 FROM federated_credentials WHERE object_id = ? AND issuer = ? AND subject = ?",
              (principal.object_id, issuer, subject)):
        raise DirectoryError(
            "The combination of issuer and subject must be unique for the application. Issuer: "
            f"{issuer} and Subject: {subject} already exist. paramName: FederatedIdentityCredential.Subject",
            code="InvalidFederatedIdentityCredentialValue")
    credential_id = str(uuid.uuid4())
    with db.transaction() as conn:
        conn.execute("INSERT INTO federated_credentials (object_id, name, issuer, subject, audience, description, id) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (principal.object_id, name, issuer, subject, audience, description, credential_id))
    return {"id": credential_id, "name": name, "issuer": issuer, "subject": subject, "audiences": [audience],
            "description": description}


def federated_credentials(db: Database, principal: Principal) -> list[sqlite3.Row]:
    """The app's federated credentials, by name: the records a federated assertion must match."""
    return db.all("SELECT * FROM federated_credentials WHERE object_id = ? ORDER BY name", (principal.object_id,))


def federated_credential(db: Database, principal: Principal, id_or_name: str) -> sqlite3.Row | None:
    """One federated credential by its id or its name (Graph's alternate key)."""
    return db.one("SELECT * FROM federated_credentials WHERE object_id = ? AND (id = ? COLLATE NOCASE OR name = ?)",
                  (principal.object_id, id_or_name, id_or_name))


def delete_federated_credential(db: Database, principal: Principal, id_or_name: str) -> bool:
    """Delete one federated credential by id or name; False when there was none."""
    with db.transaction() as conn:
        return conn.execute("DELETE FROM federated_credentials WHERE object_id = ? AND (id = ? COLLATE NOCASE "
                            "OR name = ?)", (principal.object_id, id_or_name, id_or_name)).rowcount > 0


# --- Microsoft Graph permissions ----------------------------------------------------------------------------------

def grant_graph_permission(db: Database, object_id: str, permission: str = APPLICATION_READWRITE_ALL) -> None:
    """Grant a Graph permission (admin consent): an app's tokens carry it in ``roles``, a user's in ``scp``."""
    with db.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO graph_permissions VALUES (?, ?)", (object_id, permission))


def graph_permissions(db: Database, object_id: str) -> list[str]:
    """The Graph permissions granted to a principal or user."""
    return [row["permission"] for row in
            db.all("SELECT permission FROM graph_permissions WHERE object_id = ? ORDER BY permission", (object_id,))]


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
