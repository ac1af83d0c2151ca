"""Graph's JSON shapes for what the identity side's directory holds: applications, service principals, password
and key credentials, federated identity credentials; and the ``$filter`` forms clients send to find them.

Shapes follow Graph v1.0 as captured by ``az``'s test recordings (control-plane.md §1.3-1.7). A fresh application's
``signInAudience`` is ``AzureADMyOrg``, the value most tenants show today (2022 captures show
``AzureADandPersonalMicrosoftAccount``). The Azure CLI's public client (``04b07795-...``) is Microsoft's app: the
tenant holds only its service principal, so it is not listed among the tenant's applications.
"""

from __future__ import annotations

import base64
import binascii
import re
import sqlite3
from typing import Any

from cryptography.hazmat.primitives import serialization

from kit.sandbox.db import Database
from kit.sandbox.graph.http import METADATA, bad_request
from kit.sandbox.identity import directory

MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # the tenant that owns Microsoft's first-party apps
FILTER = re.compile(
    r"^\s*(?:(?P<prop>appId|id|displayName)\s+eq\s+'(?P<value>(?:[^']|'')*)'"
    r"|startswith\(\s*displayName\s*,\s*'(?P<prefix>(?:[^']|'')*)'\s*\))\s*$",
    re.IGNORECASE,
)


def iso(epoch: float | None) -> str | None:
    """Graph's date-time form (UTC, ``Z``)."""
    return None if epoch is None else directory.iso(epoch)


def is_application(principal: directory.Principal) -> bool:
    """Whether the tenant holds the principal's application object (not Microsoft's apps, not managed identities)."""
    return principal.app_object_id is not None and principal.client_id != directory.DEVELOPER_CLIENT_ID


def password_credential(row: sqlite3.Row) -> dict[str, Any]:
    """A secret as Graph shows it after creation: hint and dates, ``secretText`` null."""
    return {"customKeyIdentifier": None, "displayName": row["display_name"], "endDateTime": iso(row["expires_at"]),
            "hint": row["hint"], "keyId": row["key_id"], "secretText": None,
            "startDateTime": iso(row["start_at"] if row["start_at"] is not None else row["expires_at"])}


def key_credential(row: sqlite3.Row, with_key: bool = False) -> dict[str, Any]:
    """A certificate; ``key`` (base64 DER) only on ``$select=keyCredentials`` of one app, as Graph does."""
    identifier = row["custom_key_identifier"] or base64.b64encode(binascii.unhexlify(row["sha1"])).decode()
    key = None
    if with_key:
        cert = directory.load_certificate(row["certificate"].encode())
        key = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return {"customKeyIdentifier": identifier, "displayName": row["display_name"],
            "endDateTime": iso(row["expires_at"]), "key": key, "keyId": row["key_id"],
            "startDateTime": iso(row["start_at"]), "type": "AsymmetricX509Cert", "usage": row["usage"]}


def application(db: Database, principal: directory.Principal, tenant_domain: str,
                with_keys: bool = False) -> dict[str, Any]:
    """An application object as ``GET /applications/{id}`` returns it."""
    public = principal.kind == "public_client"
    return {
        "id": principal.app_object_id, "deletedDateTime": None, "appId": principal.client_id,
        "createdDateTime": iso(principal.created_at), "displayName": principal.display_name, "description": None,
        "identifierUris": [], "isFallbackPublicClient": public, "publisherDomain": tenant_domain,
        "signInAudience": "AzureADMyOrg", "tags": [],
        "api": {"requestedAccessTokenVersion": None, "oauth2PermissionScopes": [], "knownClientApplications": [],
                "preAuthorizedApplications": [], "acceptMappedClaims": None},
        "appRoles": [],
        "keyCredentials": [key_credential(r, with_keys) for r in directory.key_credential_rows(db, principal)],
        "passwordCredentials": [password_credential(r) for r in directory.secret_rows(db, principal)],
        "publicClient": {"redirectUris": []}, "requiredResourceAccess": [],
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [],
                "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False}},
        "spa": {"redirectUris": []},
    }


def service_principal(principal: directory.Principal) -> dict[str, Any]:
    """A service principal: ``id`` is the object id role assignments name (neither the app's ``id`` nor ``appId``)."""
    managed = principal.kind == "managed_identity"
    owner = MICROSOFT_TENANT if principal.client_id == directory.DEVELOPER_CLIENT_ID else principal.tenant_id
    return {
        "id": principal.object_id, "accountEnabled": principal.enabled, "appDisplayName": principal.display_name,
        "appId": principal.client_id, "appOwnerOrganizationId": None if managed else owner,
        "appRoleAssignmentRequired": False, "displayName": principal.display_name,
        "servicePrincipalNames": [principal.client_id],
        "servicePrincipalType": "ManagedIdentity" if managed else "Application",
        "tags": [], "appRoles": [], "keyCredentials": [], "passwordCredentials": [], "oauth2PermissionScopes": [],
    }


def federated_credential(row: sqlite3.Row) -> dict[str, Any]:
    """A federated identity credential as Graph returns it."""
    return {"id": row["id"], "name": row["name"], "issuer": row["issuer"], "subject": row["subject"],
            "description": row["description"] or None, "audiences": [row["audience"]]}


def context(path: str) -> str:
    """An ``@odata.context`` value under Graph's metadata URL."""
    return f"{METADATA}#{path}"


def matches_filter(expression: str | None, principal: directory.Principal, object_id: str) -> bool:
    """Whether a principal passes ``$filter`` (``appId eq``, ``id eq``, ``displayName eq``, ``startswith``)."""
    if not expression:
        return True
    found = FILTER.match(expression)
    if found is None:
        raise bad_request(f"Unsupported or invalid query filter clause specified: '{expression}'. The sandbox "
                          "understands appId eq '...', id eq '...', displayName eq '...' and "
                          "startswith(displayName,'...').", code="Request_UnsupportedQuery")
    if found["prefix"] is not None:
        return principal.display_name.lower().startswith(found["prefix"].replace("''", "'").lower())
    value = found["value"].replace("''", "'")
    prop = found["prop"].lower()
    if prop == "appid":
        return principal.client_id.lower() == value.lower()
    if prop == "id":
        return object_id.lower() == value.lower()
    return principal.display_name == value
