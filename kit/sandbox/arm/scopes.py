"""ARM scopes in the sandbox: the subscription, its one resource group and its one hub.

A scope in a URL is checked against that tree (case-insensitively, as ARM compares ids) and returned in the
canonical spelling, so a role assignment made at ``/subscriptions/x/resourcegroups/RG`` is stored at the same
scope as one made with the id the hub's GET returns. Unknown parts get ARM's 404s.
"""

from __future__ import annotations

import re

from kit.sandbox.arm.http import ArmError
from kit.sandbox.resource import PROVIDER, HubResource

SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+)"
    r"(?:/providers/Microsoft\.Devices/IotHubs/(?P<hub>[^/]+))?)?$",
    re.IGNORECASE,
)


def hub_not_found(name: str, group: str) -> ArmError:
    """ARM's 404 for a hub the resource group does not hold."""
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{PROVIDER}/{name}' under resource group '{group}' was not found. For more "
                    "details please go to https://aka.ms/ARMResourceNotFoundFix")


def canonical_scope(scope: str, hub: HubResource) -> str:
    """The scope in the sandbox's spelling; ``""`` is the root (``/``). Unknown scopes raise ARM's 404."""
    text = "/" + scope.strip("/")
    if text == "/":
        return ""
    found = SCOPE.match(text)
    if found is None:
        raise ArmError(400, "InvalidScope", f"The scope '{text}' is not a subscription, resource group or IoT hub "
                       "the sandbox knows. Use the hub's resource id (connection.json: hub_resource_id).")
    if found["sub"].lower() != hub.subscription_id.lower():
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{found['sub']}' could not be found.")
    if found["rg"] is None:
        return hub.subscription_scope
    if found["rg"].lower() != hub.resource_group.lower():
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{found['rg']}' could not be found.")
    if found["hub"] is None:
        return hub.resource_group_scope
    if found["hub"].lower() != hub.name.lower():
        raise hub_not_found(found["hub"], found["rg"])
    return hub.resource_id
