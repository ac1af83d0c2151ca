"""Direct methods: how the hub hands a method call to a device and waits for its answer.

The sandbox's devices are the simulator's: an online simulated device answers with its behaviour's handler (status
and payload come from the device, as on the real hub; the HTTP status is 200 whatever the device answers). Used by
``POST /twins/{id}/methods``, the digital twin commands and method jobs.

Rules (direct-methods and troubleshoot-error-codes docs; UNCONFIRMED ones marked):

* ``responseTimeoutInSeconds``: default 30, 5 to 300; outside → 400 ArgumentInvalid (the code is UNCONFIRMED).
  A device that does not answer in time → 504 GatewayTimeout.
* ``connectTimeoutInSeconds``: default 0 (the device must already be online), at most 300. The hub waits that long
  for an offline device to connect. A simulated device is online while its registry connection state is
  ``Connected``: the simulator connects its devices at start and again at every tick, and an admin (or a test) can
  flip the state in the registry; the wait polls that state.
* Unknown device, or a disabled one → 404 DeviceNotFound; a device that is not connected or has no method handler
  (every device without a simulated behaviour) → 404 DeviceNotOnline.
* A module of an online simulated device answers with its device's behaviour (a sandbox simplification).
* A method the device does not implement is answered by the device with status 501, as the device SDKs do.
* Payloads are limited to 128 KB each way → 413 RequestEntityTooLarge beyond (code UNCONFIRMED).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.devices.simulator import Behaviour, behaviour_of
from kit.sandbox.hub.transport.errors import HubError, argument_invalid

MAX_PAYLOAD_BYTES = 128 * 1024
DEFAULT_RESPONSE_TIMEOUT_S = 30
MIN_RESPONSE_TIMEOUT_S = 5
MAX_TIMEOUT_S = 300
CONNECT_POLL_S = 0.1
NOT_IMPLEMENTED = 501


@dataclass(frozen=True)
class MethodCall:
    """One direct-method call, validated."""

    name: str
    payload: Any
    response_timeout: int = DEFAULT_RESPONSE_TIMEOUT_S
    connect_timeout: int = 0


def _seconds(value: Any, field: str, low: int, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or isinstance(value, float) and value != number:
        raise argument_invalid(f"{field} '{value}' is not a whole number of seconds; give {low} to {MAX_TIMEOUT_S}.")
    if not low <= number <= MAX_TIMEOUT_S:
        raise argument_invalid(f"{field} is {number}; it must be between {low} and {MAX_TIMEOUT_S} seconds.")
    return number


def check_payload_size(payload: Any, direction: str) -> None:
    """413 for a method payload over the hub's 128 KB limit, request or response."""
    size = len(json.dumps(payload, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise HubError(413, "RequestEntityTooLarge",
                       f"The method {direction} payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES // 1024} KB.")


def method_call(name: Any, payload: Any, response_timeout: Any = None, connect_timeout: Any = None) -> MethodCall:
    """A checked call from its parts (the JSON body's fields, or a digital twin command's query parameters)."""
    if not isinstance(name, str) or not name.strip():
        raise HubError(400, "ArgumentNull", "methodName is missing; name the method to invoke, e.g. 'reboot'.")
    if len(name) > 128:
        raise argument_invalid("methodName is longer than 128 characters.")
    check_payload_size(payload, "request")
    return MethodCall(
        name, payload,
        _seconds(response_timeout, "responseTimeoutInSeconds", MIN_RESPONSE_TIMEOUT_S, DEFAULT_RESPONSE_TIMEOUT_S),
        _seconds(connect_timeout, "connectTimeoutInSeconds", 0, 0),
    )


def method_call_from_body(body: dict[str, Any]) -> MethodCall:
    """A CloudToDeviceMethod body: ``{methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds}``."""
    return method_call(body.get("methodName"), body.get("payload"), body.get("responseTimeoutInSeconds"),
                       body.get("connectTimeoutInSeconds"))


def device_not_online(device_id: str) -> HubError:
    """The hub's 404 DeviceNotOnline: nobody is connected to answer the method."""
    return HubError(404, "DeviceNotOnline",
                    f"Timed out waiting for device {device_id} to connect: it is offline or has not subscribed to "
                    "direct methods.")


class MethodInvoker:
    """Delivers method calls to simulated devices and waits for their answers (never blocking the event loop)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _check_target(self, device_id: str, module_id: str | None) -> None:
        device = self.registry.get_device(device_id)
        if device.get("status") != "enabled":
            raise HubError(404, "DeviceNotFound", f"Device {device_id} either isn't registered or is disabled.")
        if module_id is not None:
            self.registry.get_module(device_id, module_id)

    async def _online_behaviour(self, device_id: str, connect_timeout: int) -> Behaviour:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + connect_timeout
        while True:
            behaviour = behaviour_of(self.registry, device_id)
            if behaviour is not None:
                return behaviour
            if loop.time() >= deadline:
                raise device_not_online(device_id)
            await asyncio.sleep(min(CONNECT_POLL_S, max(deadline - loop.time(), 0)))

    async def invoke(self, device_id: str, call: MethodCall, module_id: str | None = None) -> dict[str, Any]:
        """The device's answer as a CloudToDeviceMethodResult ``{"status", "payload"}``, or a HubError."""
        self._check_target(device_id, module_id)
        behaviour = await self._online_behaviour(device_id, call.connect_timeout)
        delay = behaviour.answer_delay(call.name, call.payload)
        if delay > call.response_timeout:
            await asyncio.sleep(call.response_timeout)
            raise HubError(504, "GatewayTimeout",
                           f"Timed out waiting for the response from device {device_id} to method '{call.name}' "
                           f"after {call.response_timeout} seconds.")
        if delay > 0:
            await asyncio.sleep(delay)
        handler = behaviour.methods.get(call.name)
        if handler is None:
            status, payload = NOT_IMPLEMENTED, {"message": f"Method '{call.name}' is not implemented by this device."}
        else:
            status, payload = handler(call.payload)
        check_payload_size(payload, "response")
        return {"status": status, "payload": payload}
