"""Which permission each hub REST operation needs: one table, read by every route of the hub side.

An Entra ID principal needs every listed data action (from its role assignments, see ``rbac``); a shared access
policy needs one of the listed SAS rights. A route is built from this table, so an operation cannot exist without
its permission entry. Sources: authenticate-authorize-azure-ad.md (data actions) and the IoT Hub access-control
docs (SAS rights: twins and methods need ServiceConnect, the registry RegistryRead / RegistryWrite).

UNCONFIRMED (documented choices): ``POST /devices/query`` is accepted with ServiceConnect *or* RegistryRead; the jobs
``cancel`` operation maps to ``jobs/write``; a RegistryWrite right also lets a policy read the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from kit.sandbox.rbac import PREFIX

REGISTRY_READ = "RegistryRead"
REGISTRY_WRITE = "RegistryWrite"
SERVICE_CONNECT = "ServiceConnect"
DEVICE_CONNECT = "DeviceConnect"


@dataclass(frozen=True)
class Permission:
    """What one operation needs: all of ``data_actions`` (Entra ID), or any of ``sas_rights`` (SAS)."""

    data_actions: tuple[str, ...]
    sas_rights: tuple[str, ...]


def _p(actions: str, rights: str) -> Permission:
    return Permission(tuple(PREFIX + a for a in actions.split()), tuple(rights.split()))


_READ = f"{REGISTRY_READ} {REGISTRY_WRITE}"

# (METHOD, path template as routed) -> permission.
OPERATIONS: dict[tuple[str, str], Permission] = {
    ("GET", "/devices"): _p("devices/read", _READ),
    ("POST", "/devices"): _p("devices/write devices/delete", REGISTRY_WRITE),
    ("GET", "/devices/{device_id}"): _p("devices/read", _READ),
    ("PUT", "/devices/{device_id}"): _p("devices/write", REGISTRY_WRITE),
    ("DELETE", "/devices/{device_id}"): _p("devices/delete", REGISTRY_WRITE),
    ("GET", "/devices/{device_id}/modules"): _p("devices/read", _READ),
    ("GET", "/devices/{device_id}/modules/{module_id}"): _p("devices/read", _READ),
    ("PUT", "/devices/{device_id}/modules/{module_id}"): _p("devices/write", REGISTRY_WRITE),
    ("DELETE", "/devices/{device_id}/modules/{module_id}"): _p("devices/delete", REGISTRY_WRITE),
    ("POST", "/devices/query"): _p("twins/read", f"{SERVICE_CONNECT} {_READ}"),
    ("GET", "/twins/{device_id}"): _p("twins/read", SERVICE_CONNECT),
    ("PUT", "/twins/{device_id}"): _p("twins/write", SERVICE_CONNECT),
    ("PATCH", "/twins/{device_id}"): _p("twins/write", SERVICE_CONNECT),
    ("GET", "/twins/{device_id}/modules/{module_id}"): _p("twins/read", SERVICE_CONNECT),
    ("PUT", "/twins/{device_id}/modules/{module_id}"): _p("twins/write", SERVICE_CONNECT),
    ("PATCH", "/twins/{device_id}/modules/{module_id}"): _p("twins/write", SERVICE_CONNECT),
    ("POST", "/twins/{device_id}/methods"): _p("directMethods/invoke/action", SERVICE_CONNECT),
    ("POST", "/twins/{device_id}/modules/{module_id}/methods"): _p("directMethods/invoke/action", SERVICE_CONNECT),
    ("GET", "/digitaltwins/{device_id}"): _p("twins/read", SERVICE_CONNECT),
    ("PATCH", "/digitaltwins/{device_id}"): _p("twins/write", SERVICE_CONNECT),
    ("POST", "/digitaltwins/{device_id}/commands/{command}"): _p("directMethods/invoke/action", SERVICE_CONNECT),
    ("POST", "/digitaltwins/{device_id}/components/{component}/commands/{command}"):
        _p("directMethods/invoke/action", SERVICE_CONNECT),
    ("GET", "/statistics/devices"): _p("statistics/read", _READ),
    ("GET", "/statistics/service"): _p("statistics/read", SERVICE_CONNECT),
    ("GET", "/jobs"): _p("jobs/read", _READ),
    ("POST", "/jobs/create"): _p("jobs/write", REGISTRY_WRITE),
    ("GET", "/jobs/{job_id}"): _p("jobs/read", _READ),
    ("DELETE", "/jobs/{job_id}"): _p("jobs/delete", REGISTRY_WRITE),
    ("PUT", "/jobs/v2/{job_id}"): _p("jobs/write", f"{REGISTRY_WRITE} {SERVICE_CONNECT}"),
    ("GET", "/jobs/v2/{job_id}"): _p("jobs/read", f"{_READ} {SERVICE_CONNECT}"),
    ("POST", "/jobs/v2/{job_id}/cancel"): _p("jobs/write", f"{REGISTRY_WRITE} {SERVICE_CONNECT}"),
    ("GET", "/jobs/v2/query"): _p("jobs/read", f"{_READ} {SERVICE_CONNECT}"),
    ("GET", "/configurations"): _p("configurations/read", _READ),
    ("GET", "/configurations/{configuration_id}"): _p("configurations/read", _READ),
    ("PUT", "/configurations/{configuration_id}"): _p("configurations/write", REGISTRY_WRITE),
    ("DELETE", "/configurations/{configuration_id}"): _p("configurations/delete", REGISTRY_WRITE),
    ("POST", "/configurations/testQueries"): _p("configurations/testQueries/action", _READ),
    ("POST", "/devices/{device_id}/applyConfigurationContent"):
        _p("configurations/applyToEdgeDevice/action", REGISTRY_WRITE),
    ("DELETE", "/devices/{device_id}/commands"): _p("cloudToDeviceMessages/queue/purge/action", SERVICE_CONNECT),
    ("GET", "/messages/serviceBound/feedback"): _p("cloudToDeviceMessages/feedback/action", SERVICE_CONNECT),
    ("DELETE", "/messages/serviceBound/feedback/{lock_token}"):
        _p("cloudToDeviceMessages/feedback/action", SERVICE_CONNECT),
    ("POST", "/messages/serviceBound/feedback/{lock_token}/abandon"):
        _p("cloudToDeviceMessages/feedback/action", SERVICE_CONNECT),
    # AMQP: sending a cloud-to-device message (no REST path; the AMQP listener authorises with this key).
    ("AMQP", "/messages/devicebound"): _p("cloudToDeviceMessages/send/action", SERVICE_CONNECT),
}


def permission_for(method: str, path_template: str) -> Permission:
    """The permission of an operation; a route without an entry is a programming error, caught at start."""
    try:
        return OPERATIONS[(method.upper(), path_template)]
    except KeyError:
        raise LookupError(
            f"No permission entry for {method} {path_template}: add it to OPERATIONS in "
            "kit/sandbox/hub/security/permissions.py"
        ) from None
