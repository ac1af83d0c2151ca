"""Bulk registry operations (POST /devices): up to 100 ExportImportDevice entries, each applied on its own.

The request is one SQLite transaction (one commit, not one per device); each entry runs in a savepoint, so a failed
entry leaves no partial write behind.

The answer is a BulkRegistryOperationResult with one error entry per failed device: 200 when all succeeded, else 400.
More than 100 entries → 413 TooManyDevices. Documented choices (UNCONFIRMED): an id listed twice fails the whole
request with 400 DeviceDefinedMultipleTimes; ``update`` of a missing device is a DeviceNotFound entry; warnings are
never produced.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kit.sandbox.hub.devices.registry import MAX_BULK, Registry
from kit.sandbox.hub.transport.errors import HubError, argument_invalid

IMPORT_MODES = ("create", "update", "updateIfMatchETag", "delete", "deleteIfMatchETag", "updateTwin",
                "updateTwinIfMatchETag")
IDENTITY_FIELDS = ("status", "statusReason", "authentication", "capabilities", "deviceScope", "parentScopes")


def _twin_body(entry: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if entry.get("tags") is not None:
        body["tags"] = entry["tags"]
    desired = (entry.get("properties") or {}).get("desired")
    if desired is not None:
        body["properties"] = {"desired": desired}
    return body


def _apply(registry: Registry, entry: dict[str, Any]) -> None:
    device_id, module_id, mode = entry.get("id"), entry.get("moduleId"), entry.get("importMode") or "create"
    if mode not in IMPORT_MODES:
        raise argument_invalid(f"importMode '{mode}' is invalid: use one of {', '.join(IMPORT_MODES)}.")
    identity = {name: entry[name] for name in IDENTITY_FIELDS if name in entry}
    etag = entry.get("eTag") if mode.endswith("IfMatchETag") else "*"
    if mode in ("delete", "deleteIfMatchETag"):
        if module_id:
            registry.delete_module(device_id, module_id, etag)
        else:
            registry.delete_device(device_id, etag)
        return
    if mode in ("updateTwin", "updateTwinIfMatchETag"):
        twin_etag = entry.get("twinETag") if mode == "updateTwinIfMatchETag" else "*"
        registry.update_twin(device_id, _twin_body(entry), twin_etag, module_id=module_id)
        return
    condition = None if mode == "create" else etag
    if module_id:
        registry.put_module(device_id, module_id, {"authentication": entry.get("authentication")}, condition)
    else:
        registry.put_device(device_id, identity, condition)
    twin_body = _twin_body(entry)
    if twin_body:
        registry.update_twin(device_id, twin_body, "*", module_id=module_id)


def bulk_update(registry: Registry, entries: list[Any]) -> tuple[int, dict[str, Any]]:
    """Apply the entries; return (HTTP status, BulkRegistryOperationResult)."""
    if len(entries) > MAX_BULK:
        raise HubError(413, "TooManyDevices",
                       f"{len(entries)} devices in one bulk operation; the limit is {MAX_BULK}. Split the list.")
    keys = Counter((e.get("id"), e.get("moduleId")) for e in entries if isinstance(e, dict))
    repeated = sorted(str(device) for (device, _), count in keys.items() if count > 1)
    if repeated:
        raise HubError(400, "DeviceDefinedMultipleTimes",
                       f"Devices listed more than once in the bulk operation: {', '.join(repeated)}.")
    if not all(isinstance(entry, dict) and entry.get("id") for entry in entries):
        raise argument_invalid("Each bulk entry must be an ExportImportDevice object with an 'id'.")
    errors = []
    with registry.db.transaction():  # one commit per request; a failed entry rolls back only its own writes
        for entry in entries:
            try:
                _apply(registry, entry)
            except HubError as error:
                errors.append({
                    "deviceId": entry["id"], "errorCode": error.code, "errorStatus": error.message,
                    "moduleId": entry.get("moduleId"), "operation": entry.get("importMode") or "create",
                })
    result = {"isSuccessful": not errors, "errors": errors, "warnings": []}
    return (200 if not errors else 400), result
