"""A target as a cloud: the endpoints and identifiers a notebook's admin steps and data-plane calls go to.

Azure's clouds (public, China, US Government, Azure Stack Hub) differ only by endpoints, which is how ``az cloud``
and azure-identity's ``AzureAuthorityHosts`` describe them. The sandbox is one more: it publishes its endpoints in
``connection.json`` and the settings carry them, so ``Cloud.for_settings`` reads the same fields on both targets.
The token scopes stay the public cloud's resource ids on the sandbox, whose tokens carry the real audiences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kit.settings import SettingsError

__all__ = ["Cloud"]

if TYPE_CHECKING:
    from kit.settings import Settings

FIXES = {
    "subscription_id": "Copy the Subscription ID from the hub's Overview in the portal (or run "
                       "az account show --query id -o tsv) and save it in the settings.",
    "resource_group": "Copy the resource group from the hub's Overview in the portal and save it in the settings.",
    "hub_name": "Save the hub's name (myhub for myhub.azure-devices.net) in the settings.",
    "tenant_id": "Copy 'Directory (tenant) ID' from the app registration's Overview and save it in the settings.",
}


@dataclass(frozen=True)
class Cloud:
    """Where the target's services are (no secrets here)."""

    authority_host: str
    tenant_id: str | None
    graph_endpoint: str
    graph_scope: str
    arm_endpoint: str
    arm_scope: str
    hub_host: str | None
    subscription_id: str | None
    resource_group: str | None
    hub_name: str | None

    @classmethod
    def for_settings(cls, settings: Settings) -> Cloud:
        """The cloud the settings describe (the sandbox's settings carry its endpoints from ``connection.json``)."""
        hub_name = settings.hub_name or (settings.hub_host or "").split(".", 1)[0].split(":", 1)[0] or None
        return cls(settings.authority_host, settings.tenant_id, settings.graph_endpoint, settings.graph_scope,
                   settings.arm_endpoint, settings.arm_scope, settings.hub_host, settings.subscription_id,
                   settings.resource_group, hub_name)

    @classmethod
    def for_session(cls, target: Any) -> Cloud:
        """The cloud of a session, of settings, or a cloud itself."""
        if isinstance(target, Cloud):
            return target
        return cls.for_settings(getattr(target, "settings", target))

    def require(self, *names: str) -> None:
        """A :class:`SettingsError` naming each missing field and where to find its value."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError("Settings are not complete for this step:\n  " + "\n  ".join(
                f"{name}: missing. {FIXES.get(name, 'Enter it in the settings.')}" for name in missing),
                tuple(missing))

    @property
    def subscription_scope(self) -> str:
        """``/subscriptions/{id}``, once ``subscription_id`` is known."""
        self.require("subscription_id")
        return f"/subscriptions/{self.subscription_id}"

    @property
    def hub_resource_id(self) -> str:
        """The hub's ARM id, the scope of its role assignments."""
        self.require("subscription_id", "resource_group", "hub_name")
        return (f"{self.subscription_scope}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Devices/IotHubs/{self.hub_name}")
