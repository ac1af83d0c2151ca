"""ARM's ``Microsoft.Devices/IotHubs`` subset (api-version 2023-06-30, what azure-mgmt-iothub 4.0.0 sends).

A view over the hub side's settings: ``GET`` shows the hub (``authorizationPolicies`` absent, as on Azure);
``PUT`` (with ``If-Match``) changes ``disableLocalAuth``, the SKU and tags through the same functions as the
``local-auth`` and ``hub-tier`` commands and answers 200 with ``provisioningState: Succeeded``, so the SDK's
long-running operation completes at once; ``PATCH`` changes tags only, as on Azure; ``listkeys`` returns the shared
access policies and needs ``Microsoft.Devices/IotHubs/listkeys/action``, which Owner and Contributor hold.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kit.sandbox import resource
from kit.sandbox.arm.http import ArmError, authorize, json_body, reply
from kit.sandbox.context import SandboxContext
from kit.sandbox.db import Database
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.limits import sku
from kit.sandbox.hub.security import sas
from kit.sandbox.hub.security.permissions import DEVICE_CONNECT, REGISTRY_READ, REGISTRY_WRITE, SERVICE_CONNECT
from kit.sandbox.hub.transport.http import parse_etag
from kit.sandbox.resource import HubResource

API_VERSIONS = ("2023-06-30", "2023-06-30-preview", "2019-07-01-preview", "2019-03-22")
RIGHTS_ORDER = (REGISTRY_READ, REGISTRY_WRITE, SERVICE_CONNECT, DEVICE_CONNECT)
READ, WRITE = "Microsoft.Devices/IotHubs/read", "Microsoft.Devices/IotHubs/write"
LIST_KEYS = "Microsoft.Devices/IotHubs/listkeys/action"
LIST_KEY = "Microsoft.Devices/IotHubs/IotHubKeys/listkeys/action"


def etag(db: Database) -> str:
    """An etag that changes whenever a writable property does (PUT's If-Match is compared with it)."""
    state = json.dumps([sas.local_auth_disabled(db), job_store.tier(db), sku.units(db), resource.tags(db)])
    return base64.b64encode(hashlib.sha256(state.encode()).digest()[:8]).decode()


def hub_document(ctx: SandboxContext, hub: HubResource) -> dict[str, Any]:
    """The hub resource as ``GET`` returns it (security properties left out)."""
    db, tier = ctx.db, job_store.tier(ctx.db)
    return {
        "id": hub.resource_id, "name": hub.name, "type": resource.PROVIDER, "location": resource.LOCATION,
        "tags": resource.tags(db), "etag": etag(db),
        "properties": {
            "state": "Active", "provisioningState": "Succeeded", "hostName": ctx.hub_host,
            "disableLocalAuth": sas.local_auth_disabled(db), "disableDeviceSAS": False, "disableModuleSAS": False,
            "eventHubEndpoints": {"events": {"retentionTimeInDays": 1, "partitionCount": 2, "partitionIds": ["0", "1"],
                                             "path": hub.name, "endpoint": f"sb://{hub.name}.localhost/"}},
            "cloudToDevice": {"maxDeliveryCount": 10, "defaultTtlAsIso8601": "PT1H",
                              "feedback": {"lockDurationAsIso8601": "PT1M", "ttlAsIso8601": "PT1H",
                                           "maxDeliveryCount": 10}},
            "features": "None", "minTlsVersion": "1.2",
            "locations": [{"location": "West Europe", "role": "primary"}],
        },
        "sku": {"name": tier, "tier": sku.SKU_TIERS[tier], "capacity": sku.units(db)},
    }


def get_hub(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource) -> Response:
    """``GET`` the hub resource."""
    authorize(ctx, claims, READ, hub.resource_id)
    return reply(request, hub_document(ctx, hub))


async def put_hub(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource) -> Response:
    """Merge the writable fields the sandbox emulates; read-only ones the client cannot send are kept."""
    authorize(ctx, claims, WRITE, hub.resource_id)
    expected = parse_etag(request.headers.get("if-match"))
    if expected not in (None, "*") and expected != etag(ctx.db):
        raise ArmError(412, "PreconditionFailed", f"The etag '{expected}' does not match the hub's current etag. "
                       "GET the hub again and send its etag in If-Match.")
    body = await json_body(request)
    properties = body.get("properties") or {}
    if properties.get("authorizationPolicies") is not None:
        raise ArmError(400, "InvalidRequestContent", "The sandbox keeps its shared access policies: leave "
                       "properties.authorizationPolicies out of the PUT body (a GET never returns it).")
    wanted = body.get("sku") or {}
    local = properties.get("disableLocalAuth")
    if local is not None and not isinstance(local, bool):
        raise ArmError(400, "InvalidRequestContent", "properties.disableLocalAuth must be true or false.")
    try:
        if wanted.get("name"):
            capacity = wanted.get("capacity")
            sku.set_sku(ctx.db, str(wanted["name"]), int(capacity) if capacity is not None else None)
    except (ValueError, TypeError) as error:
        raise ArmError(400, "InvalidRequestContent", str(error)) from None
    if local is not None:
        sas.set_local_auth(ctx.db, enabled=not local)
    if isinstance(body.get("tags"), dict):
        resource.set_tags(ctx.db, body["tags"])
    return reply(request, hub_document(ctx, hub))


async def patch_hub(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource) -> Response:
    """Azure's PATCH changes tags only ("to update other fields use the CreateOrUpdate method")."""
    authorize(ctx, claims, WRITE, hub.resource_id)
    tags = (await json_body(request)).get("tags")
    if not isinstance(tags, dict):
        raise ArmError(400, "InvalidRequestContent", "PATCH changes only tags: send {\"tags\": {...}}. Change "
                       "other properties with a PUT of the whole hub (begin_create_or_update).")
    resource.set_tags(ctx.db, tags)
    return reply(request, hub_document(ctx, hub))


def _rule(policy: sas.Policy) -> dict[str, Any]:
    rights = ", ".join(right for right in RIGHTS_ORDER if right in policy.rights)
    return {"keyName": policy.name, "primaryKey": policy.primary_key, "secondaryKey": policy.secondary_key,
            "rights": rights}


def list_keys(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource) -> Response:
    """``POST .../listkeys``: every shared access policy with its keys."""
    authorize(ctx, claims, LIST_KEYS, hub.resource_id)
    return reply(request, {"value": [_rule(p) for p in sas.ensure_policies(ctx.db).values()]})


def list_key(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource,
             key_name: str) -> Response:
    """``POST .../IotHubKeys/{name}/listkeys``: one policy, or 404 ``KeyNameNotFound``."""
    authorize(ctx, claims, LIST_KEY, hub.resource_id)
    policy = sas.ensure_policies(ctx.db).get(key_name)
    if policy is None:
        raise ArmError(404, "KeyNameNotFound", f"The key name '{key_name}' was not found on IoT hub '{hub.name}'.")
    return reply(request, _rule(policy))


def list_hubs(ctx: SandboxContext, request: Request, claims: dict[str, Any], hub: HubResource, scope: str) -> Response:
    """``GET`` the hubs of the subscription or resource group (the sandbox has one)."""
    authorize(ctx, claims, READ, hub.resource_id)
    return reply(request, {"value": [hub_document(ctx, hub)]})
