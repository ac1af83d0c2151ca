"""IoT Plug and Play digital twins: the device twin seen through its model's components, properties and commands.

The digital twin is computed from the device twin on every read (the twin stays the only stored state):

* ``$dtId`` is the device id and ``$metadata.$model`` the twin's ``modelId``;
* a property's value is its reported value (for a writable property acknowledged the PnP way,
  ``{"value", "ac", "av", "ad"}``, the ``value``); its ``$metadata`` entry carries ``desiredValue`` /
  ``desiredVersion`` when the service asked for a value, ``ackVersion`` / ``ackCode`` / ``ackDescription`` when the
  device acknowledged, and ``lastUpdateTime``;
* a component is a twin section marked ``"__t": "c"``; it appears as an object with its own ``$metadata`` (the
  marker itself is not shown).

A JSON Patch (``add``, ``replace``, ``remove``) on ``/<property>`` or ``/<component>/<property>`` (deeper paths
address inside an object value) becomes one desired-properties patch of the twin; ``remove`` and ``replace`` need
the property to exist. The ETag is the twin's etag, quoted. A command is the direct method ``<command>`` (root) or
``<component>*<command>`` (PnP convention). UNCONFIRMED: the digital twin of a device without a model id is
served with an empty ``$model``.
"""

from __future__ import annotations

from typing import Any

from kit.sandbox.hub.devices.twins import strip_meta
from kit.sandbox.hub.transport.errors import argument_invalid

COMPONENT_MARKER = "__t"
ACK_FIELDS = {"ac": "ackCode", "av": "ackVersion", "ad": "ackDescription"}
PATCH_OPS = ("add", "replace", "remove")


def _is_component(value: Any) -> bool:
    return isinstance(value, dict) and value.get(COMPONENT_MARKER) == "c"


def components(twin: dict[str, Any]) -> set[str]:
    """The names of the twin's components: top-level properties marked ``__t: c``."""
    properties = twin["properties"]
    return {name for section in ("desired", "reported") for name, value in properties[section].items()
            if _is_component(value)}


def _section_view(desired: dict[str, Any], reported: dict[str, Any], desired_meta: dict[str, Any],
                  reported_meta: dict[str, Any], desired_version: Any, skip: set[str]) -> dict[str, Any]:
    """Values and ``$metadata`` of one level (the root or a component) of the digital twin."""
    values: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    names = [n for n in {**strip_meta(reported), **strip_meta(desired)} if n not in skip and n != COMPONENT_MARKER]
    for name in names:
        entry: dict[str, Any] = {}
        if name in desired:
            entry.update(desiredValue=desired[name], desiredVersion=desired_version)
        if name in reported:
            value = reported[name]
            if isinstance(value, dict) and "value" in value and "ac" in value:
                values[name] = value["value"]
                entry.update({label: value.get(key) for key, label in ACK_FIELDS.items()})
            else:
                values[name] = value
        stamp = (reported_meta.get(name) or desired_meta.get(name) or {}).get("$lastUpdated")
        if stamp:
            entry["lastUpdateTime"] = stamp
        metadata[name] = entry
    return {**values, "$metadata": metadata}


def digital_twin(twin: dict[str, Any]) -> dict[str, Any]:
    """The digital twin of a device twin."""
    desired, reported = twin["properties"]["desired"], twin["properties"]["reported"]
    desired_meta, reported_meta = desired.get("$metadata") or {}, reported.get("$metadata") or {}
    version = desired.get("$version")
    parts = components(twin)
    root = _section_view(desired, reported, desired_meta, reported_meta, version, parts)
    result: dict[str, Any] = {"$dtId": twin["deviceId"]}
    result.update({k: v for k, v in root.items() if k != "$metadata"})
    result["$metadata"] = {"$model": twin.get("modelId", ""), **root["$metadata"]}
    for name in sorted(parts):
        section_d = desired.get(name) if isinstance(desired.get(name), dict) else {}
        section_r = reported.get(name) if isinstance(reported.get(name), dict) else {}
        result[name] = _section_view(section_d, section_r, desired_meta.get(name) or {},
                                     reported_meta.get(name) or {}, version, set())
    return result


def _segments(path: Any, index: int) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/") or path == "/":
        raise argument_invalid(f"patch[{index}].path '{path}' must be a JSON Pointer such as /targetTemperature "
                               "or /thermostat1/targetTemperature.")
    segments = [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]
    if any(not s or s.startswith("$") for s in segments):
        raise argument_invalid(f"patch[{index}].path '{path}' has an empty segment or names metadata ($...).")
    return segments


def _exists(section: dict[str, Any], segments: list[str]) -> bool:
    node: Any = section
    for segment in segments:
        if not isinstance(node, dict) or segment not in node:
            return False
        node = node[segment]
    return True


def desired_patch(twin: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """The desired-properties merge patch a JSON Patch on the digital twin stands for."""
    if not operations:
        raise argument_invalid("The JSON Patch is empty; send a list such as "
                               "[{\"op\": \"add\", \"path\": \"/targetTemperature\", \"value\": 42}].")
    parts = components(twin)
    properties = twin["properties"]
    patch: dict[str, Any] = {}
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict) or operation.get("op") not in PATCH_OPS:
            op = operation.get("op") if isinstance(operation, dict) else operation
            raise argument_invalid(f"patch[{index}].op '{op}' is not supported; use add, replace or remove.")
        op, segments = operation["op"], _segments(operation.get("path"), index)
        if op != "add" and not any(_exists(properties[s], segments) for s in ("desired", "reported")):
            raise argument_invalid(f"patch[{index}]: {op} needs an existing property at {operation['path']}.")
        if op != "remove" and "value" not in operation:
            raise argument_invalid(f"patch[{index}]: {op} needs a 'value'.")
        value = None if op == "remove" else operation["value"]
        node = patch
        for depth, segment in enumerate(segments[:-1]):
            node = node.setdefault(segment, {})
            if depth == 0 and segment in parts:
                node[COMPONENT_MARKER] = "c"
        if len(segments) == 1 and segments[0] in parts and isinstance(value, dict):
            value = {COMPONENT_MARKER: "c", **value}
        node[segments[-1]] = value
    return patch
