"""Twin document rules: sections with ``$metadata``/``$version``, merge patches, replacement, limits, etags.

Sources: device-twins.md (2020) and the swagger. Documented choices where the reference says UNCONFIRMED:

* A new twin has ``version`` 1, etag ``AAAAAAAAAAE=`` (base64 of the 8-byte big-endian version) and empty desired and
  reported sections with ``$version`` 1.
* Every twin change (tags, desired, reported) bumps ``version`` and the etag; desired changes bump the desired
  ``$version``, device reports the reported ``$version``.
* A service PATCH/PUT that carries ``properties.reported`` ignores that section (the SDK re-sends fetched twins),
  as it ignores read-only root fields; ``$metadata``/``$version`` at the root of a section are ignored too.
* PUT replaces only the sections present in the body (``tags``, ``properties.desired``); an absent one is kept.
* Arrays are accepted as values (newer hubs accept them). ``null`` in a PATCH removes the key; in a PUT it is dropped.
* Limit violations (key names, depth > 10, tags > 8 KB, desired/reported > 32 KB, string value > 4 KB) answer
  400 ArgumentInvalid with a message naming the key and the limit.
* Desired ``$metadata`` nodes carry ``$lastUpdated`` and ``$lastUpdatedVersion``; reported ones ``$lastUpdated``.
"""

from __future__ import annotations

import base64
import datetime as dt
import unicodedata
from typing import Any

from kit.sandbox.hub.transport.errors import argument_invalid

MAX_DEPTH = 10
MAX_KEY_BYTES = 1024
MAX_STRING_BYTES = 4 * 1024
SECTION_LIMITS = {"tags": 8 * 1024, "desired": 32 * 1024, "reported": 32 * 1024}
META_KEYS = ("$metadata", "$version")
NEVER = "0001-01-01T00:00:00"


def iso(moment: dt.datetime) -> str:
    """A time written as the hub writes it: UTC, seven fraction digits and ``Z``."""
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


def now_iso() -> str:
    """The current time in the hub's format (``iso``)."""
    return iso(dt.datetime.now(dt.UTC))


def twin_etag(version: int) -> str:
    """The twin's etag, derived from its version so it changes with every write."""
    return base64.b64encode(version.to_bytes(8, "big", signed=True)).decode()


def identity_etag(counter: int) -> str:
    """A device or module identity etag from the hub-wide counter."""
    return base64.b64encode(str(counter).encode()).decode()


def empty_section(stamp: dict[str, Any]) -> dict[str, Any]:
    return {"$metadata": dict(stamp), "$version": 1}


def desired_stamp(now: str, version: int) -> dict[str, Any]:
    return {"$lastUpdated": now, "$lastUpdatedVersion": version}


def reported_stamp(now: str) -> dict[str, Any]:
    return {"$lastUpdated": now}


# ---- validation -----------------------------------------------------------------------------------------------

def _bad_key(key: str) -> str | None:
    if not key:
        return "is empty"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"is longer than {MAX_KEY_BYTES} bytes"
    for char in key:
        if char in ".$ ":
            return f"contains '{char}' (keys may not contain '.', '$' or spaces)"
        if unicodedata.category(char) == "Cc":
            return "contains a control character"
    return None


def validate(section: str, value: dict[str, Any], allow_null: bool) -> None:
    """Check key names, depth and value types of a tags/desired/reported object (or patch)."""

    def walk(node: dict[str, Any], path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise argument_invalid(
                f"{section}: '{path}' is nested deeper than {MAX_DEPTH} levels of objects, the twin limit."
            )
        for key, child in node.items():
            where = f"{path}.{key}" if path else key
            problem = _bad_key(key)
            if problem:
                raise argument_invalid(f"{section}: the key '{where}' {problem}. Rename it.")
            if isinstance(child, dict):
                walk(child, where, depth + 1)
            elif child is None and not allow_null:
                continue
            elif isinstance(child, str) and len(child.encode()) > MAX_STRING_BYTES:
                raise argument_invalid(
                    f"{section}: the value of '{where}' is longer than {MAX_STRING_BYTES} bytes, the limit for a "
                    "property value."
                )

    walk(value, "", 1)


def size_of(value: Any) -> int:
    """Twin size as the docs count it: key lengths plus values (strings UTF-8, numbers 8, booleans 4)."""
    if isinstance(value, dict):
        return sum(len(k.encode()) + size_of(v) for k, v in value.items() if k not in META_KEYS)
    if isinstance(value, list):
        return sum(size_of(v) for v in value)
    if isinstance(value, bool):
        return 4
    if isinstance(value, (int, float)):
        return 8
    if isinstance(value, str):
        return len(value.encode())
    return 0


def check_size(section: str, value: dict[str, Any]) -> None:
    """400 when a twin section exceeds the hub's size limit (tags 8 KB, desired and reported 32 KB each)."""
    limit = SECTION_LIMITS[section]
    size = size_of(value)
    if size > limit:
        raise argument_invalid(
            f"{section}: the result would be {size} bytes, over the {limit // 1024} KB limit of this twin section."
        )


def strip_meta(section: dict[str, Any] | None) -> dict[str, Any]:
    """A section without ``$metadata`` and ``$version``, as exports and patches carry it."""
    return {k: v for k, v in (section or {}).items() if k not in META_KEYS}


# ---- changes --------------------------------------------------------------------------------------------------

def _merge(data: dict[str, Any], meta: dict[str, Any], patch: dict[str, Any], stamp: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            data.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict):
            if not isinstance(data.get(key), dict):
                data[key] = {}
                meta[key] = dict(stamp)
            _merge(data[key], meta.setdefault(key, dict(stamp)), value, stamp)
        else:
            data[key] = value
            meta[key] = dict(stamp)
    meta.update(stamp)


def _stamp_all(data: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    meta = dict(stamp)
    for key, value in data.items():
        meta[key] = _stamp_all(value, stamp) if isinstance(value, dict) else dict(stamp)
    return meta


def _drop_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {k: (_drop_nulls(v) if isinstance(v, dict) else v) for k, v in value.items() if v is not None}


def merge_tags(tags: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch on tags (no metadata is kept for tags)."""
    validate("tags", patch, allow_null=True)
    merged = _apply_plain(dict(tags), patch)
    check_size("tags", merged)
    return merged


def _apply_plain(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _apply_plain(dict(current) if isinstance(current, dict) else {}, value)
        else:
            target[key] = value
    return target


def replace_tags(tags: dict[str, Any]) -> dict[str, Any]:
    validate("tags", tags, allow_null=True)
    cleaned = _drop_nulls(tags)
    check_size("tags", cleaned)
    return cleaned


def patch_section(name: str, section: dict[str, Any], patch: dict[str, Any], now: str) -> dict[str, Any]:
    """Apply a merge patch to a desired/reported section; returns the new section with its next ``$version``."""
    patch = strip_meta(patch)
    validate(name, patch, allow_null=True)
    version = int(section.get("$version", 0)) + 1
    stamp = desired_stamp(now, version) if name == "desired" else reported_stamp(now)
    data = strip_meta(section)
    meta = section.get("$metadata") or {}
    _merge(data, meta, patch, stamp)
    check_size(name, data)
    return {**data, "$metadata": meta, "$version": version}


def replace_section(name: str, section: dict[str, Any], new: dict[str, Any], now: str) -> dict[str, Any]:
    """Replace a desired/reported section wholesale, stamping every node."""
    new = _drop_nulls(strip_meta(new))
    validate(name, new, allow_null=False)
    check_size(name, new)
    version = int(section.get("$version", 0)) + 1
    stamp = desired_stamp(now, version) if name == "desired" else reported_stamp(now)
    return {**new, "$metadata": _stamp_all(new, stamp), "$version": version}
