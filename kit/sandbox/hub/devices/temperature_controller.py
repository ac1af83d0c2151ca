"""A simulated IoT Plug and Play temperature controller with two thermostat components.

Model ``dtmi:com:example:TemperatureController;2`` (the public PnP sample model): root properties ``serialNumber``
and ``workingSet``, root command ``reboot``, components ``thermostat1`` and ``thermostat2`` that behave like the
simulator's thermostat. Following the PnP conventions, component sections of the twin carry the marker
``"__t": "c"`` and a component command reaches the device as the method ``<component>*<command>``.

``add(registry, device_id)`` registers such a device, online at once (``python -m kit.sandbox pnp-device add ID``).
The seeded fleet does not include one, so its documented shape (12 devices) stays as it is.
"""

from __future__ import annotations

import random
from typing import Any

from kit.sandbox.hub.devices import fleet
from kit.sandbox.hub.devices.registry import Registry, check_id
from kit.sandbox.hub.devices.simulator import BEHAVIOURS, Behaviour, Thermostat

COMPONENTS = ("thermostat1", "thermostat2")
COMPONENT_MARKER = {"__t": "c"}


def component_view(twin: dict[str, Any], component: str) -> dict[str, Any]:
    """A component's part of the twin shaped like a whole twin (so the thermostat logic applies to it)."""
    properties = twin["properties"]
    desired = properties["desired"].get(component)
    reported = properties["reported"].get(component)
    return {"properties": {
        "desired": {**(desired if isinstance(desired, dict) else {}), "$version": properties["desired"]["$version"]},
        "reported": reported if isinstance(reported, dict) else {},
    }}


class TemperatureController(Behaviour):
    """A multi-component IoT Plug and Play device: two thermostat components plus device-level properties."""

    name = "temperatureController"
    model_id = "dtmi:com:example:TemperatureController;2"

    def __init__(self) -> None:
        super().__init__()
        self.thermostat = Thermostat()
        self.methods["reboot"] = self._reboot
        for component in COMPONENTS:
            self.methods[f"{component}*getMaxMinReport"] = self.thermostat.methods["getMaxMinReport"]

    def _per_component(self, twin: dict[str, Any], step: str) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        for component in COMPONENTS:
            part = getattr(self.thermostat, step)(component_view(twin, component))
            if part:
                patch[component] = {**COMPONENT_MARKER, **part}
        return patch

    def report(self, twin: dict[str, Any]) -> dict[str, Any]:
        return {"serialNumber": "SN-TC-0001", "workingSet": random.randint(1800, 2200),
                **self._per_component(twin, "report")}

    def on_desired(self, twin: dict[str, Any]) -> dict[str, Any]:
        return self._per_component(twin, "on_desired")

    @staticmethod
    def _reboot(payload: Any) -> tuple[int, Any]:
        delay = payload.get("delay", 0) if isinstance(payload, dict) else payload if isinstance(payload, int) else 0
        return 200, {"rebooting": True, "delay": delay}


def register() -> None:
    """Make the behaviour known to the simulator."""
    BEHAVIOURS.setdefault(TemperatureController.name, TemperatureController())


def add(registry: Registry, device_id: str, tags: dict[str, Any] | None = None) -> None:
    """Register a simulated temperature controller (with its PnP model id) and bring it online."""
    check_id("deviceId", device_id)
    reported: dict[str, Any] = {"serialNumber": "SN-TC-0001", "workingSet": 2000}
    for component in COMPONENTS:
        reported[component] = {**COMPONENT_MARKER, "temperature": 21.5, "maxTempSinceLastReboot": 23.0}
    added = fleet._insert(registry, [{  # the fleet's own insert: identity, first twin and behaviour in one step
        "id": device_id, "reported": reported, "model_id": TemperatureController.model_id,
        "behaviour": TemperatureController.name, "tags": tags or {"deviceType": "temperatureController"},
    }])
    if not added:
        raise ValueError(f"device id: '{device_id}' is already registered; choose another id.")
    registry.set_connection(device_id, True)
