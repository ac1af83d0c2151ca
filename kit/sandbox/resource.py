"""The hub as an Azure resource: its subscription, resource group, name and resource id, and tags.

A real hub lives at ``/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Devices/IotHubs/{name}``; role
assignments are made at that scope (or above it) and ARM reads and changes the resource there. The sandbox has one
hub, in one resource group of one subscription whose id is made at the first start and kept in the hub settings;
its tags are a setting too (the SKU is in ``sku``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from kit.sandbox import settings_store
from kit.sandbox.db import Database

HUB_NAME = "sandbox"
RESOURCE_GROUP = "sandbox-rg"
LOCATION = "westeurope"
SUBSCRIPTION_KEY = "subscription_id"
TAGS_KEY = "hub_tags"
PROVIDER = "Microsoft.Devices/IotHubs"


@dataclass(frozen=True)
class HubResource:
    """Where the hub sits in ARM's resource tree."""

    subscription_id: str
    resource_group: str = RESOURCE_GROUP
    name: str = HUB_NAME

    @property
    def subscription_scope(self) -> str:
        """``/subscriptions/{id}``."""
        return f"/subscriptions/{self.subscription_id}"

    @property
    def resource_group_scope(self) -> str:
        """``/subscriptions/{id}/resourceGroups/{name}``."""
        return f"{self.subscription_scope}/resourceGroups/{self.resource_group}"

    @property
    def resource_id(self) -> str:
        """The hub's ARM id, the scope of its role assignments."""
        return f"{self.resource_group_scope}/providers/{PROVIDER}/{self.name}"


def hub_resource(db: Database) -> HubResource:
    """The sandbox hub's place in ARM; the subscription id is made once and then kept."""
    subscription = settings_store.get(db, SUBSCRIPTION_KEY)
    if subscription is None:
        subscription = str(uuid.uuid4())
        settings_store.put(db, SUBSCRIPTION_KEY, subscription)
    return HubResource(subscription)


def tags(db: Database) -> dict[str, str]:
    """The hub resource's tags."""
    return json.loads(settings_store.get(db, TAGS_KEY, "{}") or "{}")


def set_tags(db: Database, value: dict[str, str]) -> None:
    """Replace the hub resource's tags (ARM's PUT and PATCH)."""
    settings_store.put(db, TAGS_KEY, json.dumps(value, sort_keys=True))
