"""Shared access policies of the hub and the verification of SharedAccessSignature tokens.

A real hub is created with five policies; the sandbox has the four service-facing ones the SDK uses
(``iothubowner``, ``service``, ``registryRead``, ``registryReadWrite``) with their rights. Keys are made at first start
and stored in the database, so connection strings stay valid across restarts.

The signature is checked exactly as ``azure/iot/hub/sastoken.py`` computes it: HMAC-SHA256 with the base64-decoded
key over ``<sr as sent> + "\\n" + <se>``, base64-encoded. ``sr`` is taken as it appears in the token (the REST client
URL-encodes the host, the AMQP client does not), which is what the signer signed.

``disableLocalAuth`` (the portal's "Connect using shared access policies: Deny") makes every SAS token refused.
UNCONFIRMED: the real hub's message for that case; the sandbox answers 401 IotHubUnauthorizedAccess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.hub.security.permissions import DEVICE_CONNECT, REGISTRY_READ, REGISTRY_WRITE, SERVICE_CONNECT
from kit.sandbox.hub.transport.errors import HubError

LOCAL_AUTH_KEY = "disable_local_auth"

DEFAULT_POLICIES: dict[str, tuple[str, ...]] = {
    "iothubowner": (REGISTRY_READ, REGISTRY_WRITE, SERVICE_CONNECT, DEVICE_CONNECT),
    "service": (SERVICE_CONNECT,),
    "registryRead": (REGISTRY_READ,),
    "registryReadWrite": (REGISTRY_READ, REGISTRY_WRITE),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_policies (
    name          TEXT PRIMARY KEY,
    rights        TEXT NOT NULL,
    primary_key   TEXT NOT NULL,
    secondary_key TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Policy:
    """A shared access policy: its rights and two keys, which never appear in a repr."""

    name: str
    rights: frozenset[str]
    primary_key: str = field(repr=False)
    secondary_key: str = field(repr=False)

    def connection_string(self, host: str) -> str:
        """The hub connection string the portal shows for this policy, with its primary key."""
        return f"HostName={host};SharedAccessKeyName={self.name};SharedAccessKey={self.primary_key}"


def new_key() -> str:
    """A 256-bit key, base64 like the portal's."""
    return base64.b64encode(os.urandom(32)).decode()


def ensure_policies(db: Database) -> dict[str, Policy]:
    """Create the default policies with fresh keys on first start; return all of them."""
    db.ensure_schema(SCHEMA)
    with db.transaction() as conn:
        for name, rights in DEFAULT_POLICIES.items():
            conn.execute(
                "INSERT OR IGNORE INTO hub_policies (name, rights, primary_key, secondary_key) VALUES (?, ?, ?, ?)",
                (name, " ".join(rights), new_key(), new_key()),
            )
    return load_policies(db)


def load_policies(db: Database) -> dict[str, Policy]:
    """The hub's policies from the database; ``auth`` caches them per running sandbox."""
    db.ensure_schema(SCHEMA)
    return {
        row["name"]: Policy(row["name"], frozenset(row["rights"].split()), row["primary_key"], row["secondary_key"])
        for row in db.all("SELECT * FROM hub_policies")
    }


def local_auth_disabled(db: Database) -> bool:
    """Whether SAS is refused (``disableLocalAuth``), leaving Entra ID as the only way in."""
    return settings_store.get(db, LOCAL_AUTH_KEY, "0") == "1"


def set_local_auth(db: Database, enabled: bool) -> None:
    """Turn SAS authentication on or off, as the hub's ``disableLocalAuth`` property does."""
    settings_store.put(db, LOCAL_AUTH_KEY, "0" if enabled else "1")


def _unauthorized(message: str) -> HubError:
    return HubError(401, "IotHubUnauthorizedAccess", message)


def parse_token(token: str) -> dict[str, str]:
    """The raw (still URL-encoded) fields of ``SharedAccessSignature sr=..&sig=..&se=..&skn=..``."""
    body = token.strip()
    if body.startswith("SharedAccessSignature "):
        body = body[len("SharedAccessSignature "):]
    fields: dict[str, str] = {}
    for part in body.split("&"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def signature(key: str, signed_resource: str, expiry: str) -> bytes:
    """The base64 HMAC-SHA256 of ``<resource>\\n<expiry>``, the ``sig`` of a SAS token."""
    digest = hmac.new(base64.b64decode(key), f"{signed_resource}\n{expiry}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest)


def verify(policies: dict[str, Policy], token: str, accepted_hosts: tuple[str, ...],
           now: float | None = None) -> Policy:
    """Check a service SAS token; return the policy it was signed with, or raise 401 IotHubUnauthorizedAccess."""
    fields = parse_token(token)
    missing = [name for name in ("sr", "sig", "se", "skn") if name not in fields]
    if missing:
        raise _unauthorized(
            f"Malformed SharedAccessSignature: missing {', '.join(missing)}. A service token has "
            "sr=<host>&sig=<signature>&se=<expiry>&skn=<policy name>; build it from the hub connection string."
        )
    name = unquote(fields["skn"])
    policy = policies.get(name)
    if policy is None:
        raise _unauthorized(
            f"Authorization rule '{name}' does not exist on this hub. "
            f"Use one of its shared access policies: {', '.join(sorted(policies))}."
        )
    resource = unquote(fields["sr"]).lower()
    if not any(resource == host or resource.startswith(host + "/") for host in accepted_hosts):
        raise _unauthorized(
            f"The token's resource (sr) '{resource}' is not this hub ({accepted_hosts[0]}). "
            "Build the token from this hub's connection string."
        )
    try:
        expiry = int(fields["se"])
    except ValueError:
        raise _unauthorized("The token's expiry (se) is not a number of seconds since 1970.") from None
    if expiry <= (time.time() if now is None else now):
        raise _unauthorized(
            f"The SharedAccessSignature expired at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(expiry))}. "
            "Create a new token (the SDK does this for every request when built from a connection string)."
        )
    given = unquote(fields["sig"]).encode()
    for key in (policy.primary_key, policy.secondary_key):
        if hmac.compare_digest(signature(key, fields["sr"], fields["se"]), given):
            return policy
    raise _unauthorized(
        f"The signature of the token for policy '{name}' does not match its keys. The key may have been "
        "regenerated, or the connection string is from another hub: copy it again."
    )
