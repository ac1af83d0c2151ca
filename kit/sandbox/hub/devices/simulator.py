"""Simulated devices: a few online devices with a behaviour that keeps their reported properties moving.

The simulator runs as a coroutine in ``ctx.background``. Only devices with a behaviour are online (a bounded number,
``MAX_ONLINE``), so its cost does not grow with the fleet. Each tick every online device ``report``s telemetry; when
the service changes desired properties of an online device, its behaviour's ``on_desired`` answers with an
acknowledgement (the IoT Plug and Play convention: ``{"value", "ac", "av", "ad"}``), shortly after, as a device would.

A ``Behaviour`` also has a ``methods`` dict (name → callable(payload) -> (status, payload)) for direct methods, and
``answer_delay(name, payload)``: how long the device takes to answer (the thermostat's ``slow`` method waits
``payload.seconds``, so a caller's response timeout can be seen to expire).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport.errors import HubError

log = logging.getLogger("kit.sandbox.hub.devices.simulator")

TICK_S = 5.0
ACK_DELAY_S = 0.3
MAX_ONLINE = 50

MethodHandler = Callable[[Any], tuple[int, Any]]


class Behaviour:
    """How a simulated device acts. Subclasses override ``report``/``on_desired`` and fill ``methods``."""

    name = "device"
    model_id = ""

    def __init__(self) -> None:
        self.methods: dict[str, MethodHandler] = {}

    def report(self, twin: dict[str, Any]) -> dict[str, Any]:
        """A reported-properties patch for this tick (``{}`` for none)."""
        return {}

    def on_desired(self, twin: dict[str, Any]) -> dict[str, Any]:
        """A reported-properties patch acknowledging the twin's desired properties (``{}`` for none)."""
        return {}

    def answer_delay(self, method: str, payload: Any) -> float:
        """Seconds the device takes before answering ``method`` (0: at once)."""
        return 0.0


class Thermostat(Behaviour):
    """A thermostat (``dtmi:com:example:Thermostat;1``): temperature drifts towards ``targetTemperature``."""

    name = "thermostat"
    model_id = "dtmi:com:example:Thermostat;1"

    def __init__(self) -> None:
        super().__init__()
        self.methods["getMaxMinReport"] = self._max_min_report
        self.methods["reboot"] = self._reboot
        self.methods["slow"] = self._slow

    @staticmethod
    def _target(twin: dict[str, Any]) -> float | None:
        target = twin["properties"]["desired"].get("targetTemperature")
        return float(target) if isinstance(target, (int, float)) and not isinstance(target, bool) else None

    def report(self, twin: dict[str, Any]) -> dict[str, Any]:
        """The next reported temperature, drifting toward the desired target with a little noise."""
        reported = twin["properties"]["reported"]
        current = reported.get("temperature")
        current = float(current) if isinstance(current, (int, float)) else 21.0
        target = self._target(twin)
        step = (target - current) * 0.3 if target is not None else 0.0
        temperature = round(current + step + random.uniform(-0.2, 0.2), 2)
        high = max(float(reported.get("maxTempSinceLastReboot", temperature)), temperature)
        return {"temperature": temperature, "maxTempSinceLastReboot": high}

    def on_desired(self, twin: dict[str, Any]) -> dict[str, Any]:
        """The IoT Plug and Play acknowledgement of a new ``targetTemperature`` (once per desired version)."""
        target = self._target(twin)
        if target is None:
            return {}
        desired = twin["properties"]["desired"]
        acked = twin["properties"]["reported"].get("targetTemperature") or {}
        if isinstance(acked, dict) and acked.get("av") == desired.get("$version"):
            return {}
        return {"targetTemperature": {"value": target, "ac": 200, "av": desired.get("$version"),
                                      "ad": "Target temperature accepted"}}

    def _max_min_report(self, payload: Any) -> tuple[int, Any]:
        return 200, {"maxTemp": 30.0, "minTemp": 18.0, "avgTemp": 22.5}

    @staticmethod
    def _reboot(payload: Any) -> tuple[int, Any]:
        delay = payload.get("delay", 0) if isinstance(payload, dict) else 0
        return 200, {"rebooting": True, "delay": delay}

    @staticmethod
    def _slow(payload: Any) -> tuple[int, Any]:
        return 200, {"answeredAfterSeconds": Thermostat._slow_seconds(payload)}

    @staticmethod
    def _slow_seconds(payload: Any) -> float:
        seconds = payload.get("seconds", 60) if isinstance(payload, dict) else 60
        return float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 60.0

    def answer_delay(self, method: str, payload: Any) -> float:
        """How long the device takes to answer ``method``: only ``slow`` makes callers wait."""
        return self._slow_seconds(payload) if method == "slow" else 0.0


BEHAVIOURS: dict[str, Behaviour] = {b.name: b for b in (Thermostat(),)}


def behaviour_of(registry: Registry, device_id: str) -> Behaviour | None:
    """The behaviour of a simulated online device, or None (for direct methods and the like)."""
    name = registry.db.scalar("SELECT behaviour FROM hub_devices WHERE device_id = ? AND connected = 1",
                              (device_id,))
    return BEHAVIOURS.get(name) if name else None


class Simulator:
    """Keeps the simulated devices online, reporting and acknowledging desired properties."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def online(self) -> list[tuple[str, Behaviour]]:
        """The simulated devices that are enabled, up to ``MAX_ONLINE``, with their behaviours."""
        rows = self.registry.db.all(
            "SELECT device_id, behaviour FROM hub_devices WHERE behaviour IS NOT NULL AND enabled = 1 "
            "ORDER BY rowid LIMIT ?", (MAX_ONLINE,))
        return [(row[0], BEHAVIOURS[row[1]]) for row in rows if row[1] in BEHAVIOURS]

    def connect_all(self) -> None:
        for device_id, _ in self.online():
            self.registry.set_connection(device_id, True)

    def tick(self) -> None:
        """One round: each online device acknowledges desired changes, reports, and counts as active."""
        for device_id, behaviour in self.online():
            try:
                twin = self.registry.get_twin(device_id)
                patch = {**behaviour.on_desired(twin), **behaviour.report(twin)}
                if patch:
                    self.registry.update_reported(device_id, patch)
                self.registry.set_connection(device_id, True, activity=True)
            except HubError:  # deleted meanwhile
                continue

    def acknowledge(self, twin: dict[str, Any]) -> None:
        """Desired listener: an online simulated device acknowledges soon after the change."""
        if twin.get("moduleId"):
            return
        device_id = twin["deviceId"]
        behaviour = behaviour_of(self.registry, device_id)
        if behaviour is None:
            return

        def ack() -> None:
            try:
                patch = behaviour.on_desired(self.registry.get_twin(device_id))
                if patch:
                    self.registry.update_reported(device_id, patch)
            except HubError:
                pass

        try:
            asyncio.get_running_loop().call_later(ACK_DELAY_S, ack)
        except RuntimeError:
            ack()

    def disconnect_all(self) -> None:
        """Mark the simulated devices disconnected when the sandbox stops, as the hub would see them."""
        for device_id, _ in self.online():
            try:
                self.registry.set_connection(device_id, False)
            except HubError:
                continue

    async def run(self) -> None:
        """The background task: connect the devices, then tick every ``TICK_S`` until cancelled."""
        self.connect_all()
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.tick()
            except Exception:  # keep simulating whatever one tick hit
                log.exception("simulator tick failed")

