"""The identity registry and its twins, stored in SQLite: one row per device (or module) with the identity JSON and
the twin JSON exactly as served, and an integer rowid that query paging resumes from.

Nothing is cached in memory, so 100,000 twins cost disk, not RAM. A twin read is one indexed lookup returning the
stored text. For queries, device rows also carry generated columns (``q_tags``, ``q_status``, ``q_connection_state``,
``q_model_id``: SQLite computes them from the twin JSON, so they can never disagree with it) with indexes, so a filter
or COUNT()/GROUP BY on those paths reads a small index instead of parsing every twin (``QUERY_COLUMNS``). Other parts
of the sandbox (jobs, methods, configurations, the simulator) use ``Registry`` rather than the tables.

Documented choices where the reference says UNCONFIRMED:

* PUT /devices/{id} with If-Match on a device that does not exist → 404 DeviceNotFound; without If-Match on an existing
  one → 409 DeviceAlreadyExists; etag mismatch → 412 PreconditionFailed (the same rules for modules and twins).
* ``sas`` authentication without keys gets two generated 256-bit keys; a missing key on update keeps the stored one.
* Bulk ``update`` of a device that does not exist is an error entry DeviceNotFound; the bulk call is not atomic
  (each entry succeeds or fails alone), answering 200 when every entry succeeded, else 400.
* A module twin mirrors its device's ``status``; module identities have no ``status`` of their own.
* ``modelId`` is ``""`` until a device announces a model.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.hub.devices import twins
from kit.sandbox.hub.query.sql import Columns, CountPlan, bind, json_value
from kit.sandbox.hub.security.sas import new_key
from kit.sandbox.hub.transport.errors import (
    HubError,
    argument_invalid,
    not_found_device,
    not_found_module,
    precondition_failed,
)

if TYPE_CHECKING:
    from kit.sandbox.hub.limits.query_lag import TwinHistory

SCHEMA = """
CREATE TABLE IF NOT EXISTS hub_devices (
    rowid     INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    enabled   INTEGER NOT NULL DEFAULT 1,
    connected INTEGER NOT NULL DEFAULT 0,
    behaviour TEXT,
    identity  TEXT NOT NULL,
    twin      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hub_devices_enabled ON hub_devices (enabled);
CREATE INDEX IF NOT EXISTS hub_devices_connected ON hub_devices (connected);
CREATE INDEX IF NOT EXISTS hub_devices_behaviour ON hub_devices (behaviour) WHERE behaviour IS NOT NULL;
CREATE TABLE IF NOT EXISTS hub_modules (
    rowid     INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES hub_devices (device_id) ON DELETE CASCADE,
    module_id TEXT NOT NULL,
    identity  TEXT NOT NULL,
    twin      TEXT NOT NULL,
    UNIQUE (device_id, module_id)
);
"""

# Every leaf of every device's tags (path as json_tree's fullkey), kept by triggers on hub_devices whoever writes it,
# so tags.role = 'gateway' is an index lookup even when one device in a thousand matches.
TAG_LEAVES = "hub_device_tags"
_TAG_ROWS = "SELECT {row}, fullkey, type, atom FROM json_tree({twin}, '$.tags') WHERE type NOT IN ('object', 'array')"
TAG_LEAVES_STATEMENTS = (  # run one by one inside a transaction (executescript would commit first)
    f"CREATE TABLE IF NOT EXISTS {TAG_LEAVES} (row_id INTEGER NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL, value)",
    f"CREATE INDEX IF NOT EXISTS {TAG_LEAVES}_value ON {TAG_LEAVES} (path, value, type, row_id)",  # covering
    f"CREATE INDEX IF NOT EXISTS {TAG_LEAVES}_row ON {TAG_LEAVES} (row_id)",
    f"CREATE TRIGGER IF NOT EXISTS {TAG_LEAVES}_insert AFTER INSERT ON hub_devices BEGIN "
    f"INSERT INTO {TAG_LEAVES} {_TAG_ROWS.format(row='NEW.rowid', twin='NEW.twin')}; END",
    f"CREATE TRIGGER IF NOT EXISTS {TAG_LEAVES}_update AFTER UPDATE OF twin ON hub_devices "
    f"WHEN OLD.q_tags IS NOT NEW.q_tags BEGIN DELETE FROM {TAG_LEAVES} WHERE row_id = OLD.rowid; "
    f"INSERT INTO {TAG_LEAVES} {_TAG_ROWS.format(row='NEW.rowid', twin='NEW.twin')}; END",
    f"CREATE TRIGGER IF NOT EXISTS {TAG_LEAVES}_delete AFTER DELETE ON hub_devices BEGIN "
    f"DELETE FROM {TAG_LEAVES} WHERE row_id = OLD.rowid; END",
    f"INSERT INTO {TAG_LEAVES} {_TAG_ROWS.format(row='hub_devices.rowid', twin='hub_devices.twin')}"
    .replace("FROM json_tree", "FROM hub_devices, json_tree"),  # the devices stored before the table
)


ETAG_COUNTER = "identity_etag_counter"
ID_PATTERN = re.compile(r"^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$")
AUTH_TYPES = ("sas", "selfSigned", "certificateAuthority", "none")
THUMBPRINT = re.compile(r"^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$")
EDGE_SCOPE = "ms-azure-iot-edge://{id}-{generation}"
MAX_BULK = 100


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def generation_id() -> str:
    """An 18-digit id like the hub's (.NET ticks of the creation time)."""
    return str(time.time_ns() // 100 + 621355968000000000)


def check_id(kind: str, value: str) -> None:
    """400 for an id outside the hub's allowed characters and length, before anything is stored."""
    if not ID_PATTERN.match(value or ""):
        raise argument_invalid(
            f"{kind} '{value}' is invalid: use 1-128 ASCII letters, digits or - : . + % _ # * ? ! ( ) , = @ ; $ '."
        )


def _same_etag(current: str, given: str | None) -> bool:
    return given in (None, "*") or given == current


def _authentication(body: dict[str, Any] | None, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Validate and complete an AuthenticationMechanism (generating SAS keys when none are given)."""
    body = body or {}
    kind = body.get("type") or "sas"
    if kind not in AUTH_TYPES:
        raise argument_invalid(f"authentication.type '{kind}' is invalid: use one of {', '.join(AUTH_TYPES)}.")
    keys = body.get("symmetricKey") or {}
    prints = body.get("x509Thumbprint") or {}
    old_keys = (previous or {}).get("symmetricKey") or {}
    result_keys: dict[str, Any] = {"primaryKey": None, "secondaryKey": None}
    result_prints: dict[str, Any] = {"primaryThumbprint": None, "secondaryThumbprint": None}
    if kind == "sas":
        for name in ("primaryKey", "secondaryKey"):
            key = keys.get(name) or old_keys.get(name) or new_key()
            try:
                raw = base64.b64decode(key, validate=True)
            except (ValueError, TypeError):
                raw = b""
            if not 16 <= len(raw) <= 64:
                raise argument_invalid(
                    f"authentication.symmetricKey.{name} must be base64 of 16 to 64 bytes; "
                    "omit it to have one generated."
                )
            result_keys[name] = key
    elif kind == "selfSigned":
        if not prints.get("primaryThumbprint"):
            raise argument_invalid(
                "authentication.x509Thumbprint.primaryThumbprint is required for selfSigned authentication."
            )
        for name in ("primaryThumbprint", "secondaryThumbprint"):
            value = prints.get(name)
            if value and not THUMBPRINT.match(value):
                raise argument_invalid(
                    f"authentication.x509Thumbprint.{name} must be a SHA-1 (40 hex) or SHA-256 (64 hex) thumbprint."
                )
            result_prints[name] = value.upper() if value else None
    return {"symmetricKey": result_keys, "x509Thumbprint": result_prints, "type": kind}


def _twin_root(identity: dict[str, Any], module_id: str | None, status: str | None = None) -> dict[str, Any]:
    auth = identity.get("authentication") or {}
    root: dict[str, Any] = {"deviceId": identity["deviceId"]}
    if module_id:
        root["moduleId"] = module_id
    root.update({
        "etag": None, "deviceEtag": identity["etag"],
        "status": status or identity.get("status", "enabled"),
        "statusReason": identity.get("statusReason"),
        "statusUpdateTime": identity.get("statusUpdatedTime", twins.NEVER),
        "connectionState": identity.get("connectionState", "Disconnected"),
        "lastActivityTime": identity.get("lastActivityTime", twins.NEVER),
        "cloudToDeviceMessageCount": identity.get("cloudToDeviceMessageCount", 0),
        "authenticationType": auth.get("type", "sas"),
        "x509Thumbprint": auth.get("x509Thumbprint") or {"primaryThumbprint": None, "secondaryThumbprint": None},
    })
    return root


def _with_root(twin: dict[str, Any], root: dict[str, Any], identity: dict[str, Any], module: bool) -> dict[str, Any]:
    """The twin with its identity-derived root fields refreshed, keeping the hub's key order."""
    out = {k: v for k, v in root.items() if k != "etag"}
    out["etag"] = twin["etag"]
    ordered = {"deviceId": out.pop("deviceId")}
    if module:
        ordered["moduleId"] = out.pop("moduleId")
    ordered["etag"] = out.pop("etag")
    ordered.update(out)
    ordered["modelId"] = twin.get("modelId", "")
    ordered["version"] = twin["version"]
    ordered["tags"] = twin.get("tags", {})
    ordered["properties"] = twin["properties"]
    if not module:
        ordered["capabilities"] = identity.get("capabilities", {"iotEdge": False})
        ordered["deviceScope"] = identity.get("deviceScope")
        ordered["parentScopes"] = identity.get("parentScopes", [])
    return ordered


def new_twin(identity: dict[str, Any], module_id: str | None, now: str,
             tags: dict[str, Any] | None = None, desired: dict[str, Any] | None = None,
             reported: dict[str, Any] | None = None, model_id: str = "", status: str | None = None) -> dict[str, Any]:
    """A first-version twin for a new identity (used by create, bulk create and the fleet)."""
    stamp_d, stamp_r = twins.desired_stamp(now, 1), twins.reported_stamp(now)
    desired_section = ({**desired, "$metadata": twins._stamp_all(desired, stamp_d), "$version": 1}
                       if desired else twins.empty_section(stamp_d))
    reported_section = ({**reported, "$metadata": twins._stamp_all(reported, stamp_r), "$version": 1}
                        if reported else twins.empty_section(stamp_r))
    twin = {"etag": twins.twin_etag(1), "version": 1, "modelId": model_id, "tags": tags or {},
            "properties": {"desired": desired_section, "reported": reported_section}}
    return _with_root(twin, _twin_root(identity, module_id, status), identity, module_id is not None)


def device_identity(device_id: str, body: dict[str, Any], previous: dict[str, Any] | None, etag: str,
                    now: str) -> dict[str, Any]:
    """Build the stored Device from a PUT body (create or update)."""
    status = body.get("status") or (previous or {}).get("status") or "enabled"
    if status not in ("enabled", "disabled"):
        raise argument_invalid(f"status '{status}' is invalid: use 'enabled' or 'disabled'.")
    reason = body.get("statusReason")
    if reason is not None and len(str(reason)) > 128:
        raise argument_invalid("statusReason is longer than 128 characters.")
    generation = (previous or {}).get("generationId") or generation_id()
    edge = bool((body.get("capabilities") or {}).get("iotEdge"))
    scope = EDGE_SCOPE.format(id=device_id, generation=generation) if edge else body.get("deviceScope")
    status_time = (previous or {}).get("statusUpdatedTime", twins.NEVER)
    if previous and previous.get("status") != status:
        status_time = now
    return {
        "deviceId": device_id, "generationId": generation, "etag": etag,
        "connectionState": (previous or {}).get("connectionState", "Disconnected"),
        "status": status, "statusReason": reason,
        "connectionStateUpdatedTime": (previous or {}).get("connectionStateUpdatedTime", twins.NEVER),
        "statusUpdatedTime": status_time,
        "lastActivityTime": (previous or {}).get("lastActivityTime", twins.NEVER),
        "cloudToDeviceMessageCount": (previous or {}).get("cloudToDeviceMessageCount", 0),
        "authentication": _authentication(body.get("authentication"), (previous or {}).get("authentication")),
        "capabilities": {"iotEdge": edge},
        "deviceScope": scope,
        "parentScopes": list(body.get("parentScopes") or []),
    }


def module_identity(device_id: str, module_id: str, body: dict[str, Any], previous: dict[str, Any] | None,
                    etag: str) -> dict[str, Any]:
    """The module identity document for a create or an update; read-only fields carry over from ``previous``."""
    return {
        "moduleId": module_id, "managedBy": body.get("managedBy", (previous or {}).get("managedBy")),
        "deviceId": device_id,
        "generationId": (previous or {}).get("generationId") or generation_id(), "etag": etag,
        "connectionState": (previous or {}).get("connectionState", "Disconnected"),
        "connectionStateUpdatedTime": (previous or {}).get("connectionStateUpdatedTime", twins.NEVER),
        "lastActivityTime": (previous or {}).get("lastActivityTime", twins.NEVER),
        "cloudToDeviceMessageCount": (previous or {}).get("cloudToDeviceMessageCount", 0),
        "authentication": _authentication(body.get("authentication"), (previous or {}).get("authentication")),
    }


# Generated columns of hub_devices for the query engine: (column, JSON path in the twin). VIRTUAL, so adding them to
# an existing database rewrites nothing; their indexes hold the values.
GENERATED = (("q_tags", "$.tags"), ("q_status", "$.status"), ("q_connection_state", "$.connectionState"),
             ("q_model_id", "$.modelId"))
QUERY_COLUMNS = {
    "hub_devices": Columns("twin", objects={"tags": "q_tags"},
                           strings={"status": "q_status", "connectionState": "q_connection_state",
                                    "modelId": "q_model_id"},
                           indexes={column: f"hub_devices_{column}" for column, _ in GENERATED},
                           leaves={"tags": TAG_LEAVES}),
    "hub_modules": Columns("twin"),
}
DEVICE_COLUMNS = "rowid, device_id, enabled, connected, behaviour, identity, twin"  # not the generated ones


def _add_generated_columns(db: Database) -> None:
    """The query columns of ``GENERATED`` with their indexes, and the tag leaves with their triggers, added once to
    a database made before them (filled from the stored twins)."""
    def missing() -> list[tuple[str, str]]:
        present = {row[1] for row in db.all("PRAGMA table_xinfo(hub_devices)")}
        return [(column, path) for column, path in GENERATED if column not in present]

    def leaves_missing() -> bool:
        return db.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TAG_LEAVES,)) is None

    if not missing() and not leaves_missing():
        return
    with db.transaction() as conn:
        for column, path in missing():  # again inside the lock: another process may have added them meanwhile
            conn.execute(f"ALTER TABLE hub_devices ADD COLUMN {column} GENERATED ALWAYS AS "
                         f"(json_extract(twin, '{path}')) VIRTUAL")
            conn.execute(f"CREATE INDEX IF NOT EXISTS hub_devices_{column} ON hub_devices ({column})")
        if leaves_missing():
            for statement in TAG_LEAVES_STATEMENTS:
                conn.execute(statement)


DesiredListener = Callable[[dict[str, Any]], None]


class Registry:
    """Devices, modules and their twins in the sandbox database.

    The registry owns "a desired property changed": every write of desired properties goes through
    :meth:`update_twin`, which then hands the twin to each listener of :meth:`on_desired_change` (the simulated
    devices acknowledge through it), whichever path wrote (REST, bulk, import, jobs, configurations, digital twins).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.history: TwinHistory | None = None  # told about every twin write, so queries can lag (query_lag)
        self._desired_listeners: list[DesiredListener] = []
        db.ensure_schema(SCHEMA)
        db.ensure_schema(settings_store.SCHEMA)
        _add_generated_columns(db)

    def on_desired_change(self, listener: DesiredListener) -> None:
        """Call ``listener(twin)`` after each write that sets desired properties, whichever path made it."""
        self._desired_listeners.append(listener)

    # ---- identities -------------------------------------------------------------------------------------------

    def _replaced(self, table: str, rowid: int, previous: str | None) -> None:
        """Tell the query-lag history that a twin row changed (``previous`` None: it was just created)."""
        if self.history is not None:
            self.history.record(table, rowid, previous)

    def _next_etag(self) -> str:
        return twins.identity_etag(settings_store.next_counter(self.db, ETAG_COUNTER))

    def _device_row(self, device_id: str) -> Any:
        row = self.db.one(f"SELECT {DEVICE_COLUMNS} FROM hub_devices WHERE device_id = ?", (device_id,))
        if row is None:
            raise not_found_device(device_id)
        return row

    def get_device(self, device_id: str) -> dict[str, Any]:
        return json.loads(self._device_row(device_id)["identity"])

    def list_devices(self, top: int | None) -> list[dict[str, Any]]:
        limit = top if top is not None and 1 <= top <= 1000 else 1000
        rows = self.db.all("SELECT identity FROM hub_devices ORDER BY rowid LIMIT ?", (limit,))
        return [json.loads(row["identity"]) for row in rows]

    def put_device(self, device_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        check_id("deviceId", device_id)
        if body.get("deviceId") not in (None, device_id):
            raise argument_invalid(f"deviceId '{body['deviceId']}' in the body differs from '{device_id}' in the URL.")
        with self.db.transaction():
            row = self.db.one(f"SELECT {DEVICE_COLUMNS} FROM hub_devices WHERE device_id = ?", (device_id,))
            if row is None and if_match is not None:
                raise not_found_device(device_id)
            if row is not None and if_match is None:
                raise HubError(409, "DeviceAlreadyExists", f"A device with ID '{device_id}' is already registered.")
            now = twins.now_iso()
            if row is None:
                identity = device_identity(device_id, body, None, self._next_etag(), now)
                twin = new_twin(identity, None, now)
                cursor = self.db.execute(
                    "INSERT INTO hub_devices (device_id, enabled, identity, twin) VALUES (?, ?, ?, ?)",
                    (device_id, identity["status"] == "enabled", dumps(identity), dumps(twin)),
                )
                self._replaced("hub_devices", cursor.lastrowid or 0, None)
                return identity
            previous = json.loads(row["identity"])
            if not _same_etag(previous["etag"], if_match):
                raise precondition_failed("Device", previous["etag"], str(if_match))
            identity = device_identity(device_id, body, previous, self._next_etag(), now)
            self._store_identity(row, identity)
            return identity

    def _store_identity(self, row: Any, identity: dict[str, Any]) -> None:
        twin = _with_root(json.loads(row["twin"]), _twin_root(identity, None), identity, False)
        self._replaced("hub_devices", row["rowid"], row["twin"])
        self.db.execute(
            "UPDATE hub_devices SET identity = ?, twin = ?, enabled = ?, connected = ? WHERE rowid = ?",
            (dumps(identity), dumps(twin), identity["status"] == "enabled",
             identity["connectionState"] == "Connected", row["rowid"]),
        )
        for module in self.db.all("SELECT rowid, twin FROM hub_modules WHERE device_id = ?", (identity["deviceId"],)):
            module_twin = json.loads(module["twin"])
            if module_twin.get("status") != identity["status"]:
                module_twin["status"] = identity["status"]
                self._replaced("hub_modules", module["rowid"], module["twin"])
                self.db.execute("UPDATE hub_modules SET twin = ? WHERE rowid = ?",
                                (dumps(module_twin), module["rowid"]))

    def delete_device(self, device_id: str, if_match: str | None) -> None:
        with self.db.transaction():
            row = self._device_row(device_id)
            etag = json.loads(row["identity"])["etag"]
            if not _same_etag(etag, if_match):
                raise precondition_failed("Device", etag, str(if_match))
            if self.history is not None:
                self._replaced("hub_devices", row["rowid"], row["twin"])
                for module in self.db.all("SELECT rowid, twin FROM hub_modules WHERE device_id = ?", (device_id,)):
                    self._replaced("hub_modules", module["rowid"], module["twin"])
            self.db.execute("DELETE FROM hub_devices WHERE device_id = ?", (device_id,))

    def set_connection(self, device_id: str, connected: bool, activity: bool = False) -> None:
        """Device side: mark a device online/offline (the simulator), optionally touching lastActivityTime."""
        with self.db.transaction():
            row = self._device_row(device_id)
            identity = json.loads(row["identity"])
            state = "Connected" if connected else "Disconnected"
            now = twins.now_iso()
            if identity["connectionState"] != state:
                identity["connectionState"] = state
                identity["connectionStateUpdatedTime"] = now
            if activity or connected:
                identity["lastActivityTime"] = now
            self._store_identity(row, identity)

    def set_cloud_to_device_count(self, device_id: str, count: int) -> None:
        """Cloud-to-device side: the number of messages queued for the device (identity and twin root)."""
        with self.db.transaction():
            row = self._device_row(device_id)
            identity = json.loads(row["identity"])
            if identity.get("cloudToDeviceMessageCount") != count:
                identity["cloudToDeviceMessageCount"] = count
                self._store_identity(row, identity)

    # ---- modules ----------------------------------------------------------------------------------------------

    def _module_row(self, device_id: str, module_id: str) -> Any:
        row = self.db.one("SELECT * FROM hub_modules WHERE device_id = ? AND module_id = ?", (device_id, module_id))
        if row is None:
            self._device_row(device_id)
            raise not_found_module(device_id, module_id)
        return row

    def get_module(self, device_id: str, module_id: str) -> dict[str, Any]:
        return json.loads(self._module_row(device_id, module_id)["identity"])

    def list_modules(self, device_id: str) -> list[dict[str, Any]]:
        self._device_row(device_id)
        rows = self.db.all("SELECT identity FROM hub_modules WHERE device_id = ? ORDER BY rowid", (device_id,))
        return [json.loads(row["identity"]) for row in rows]

    def put_module(self, device_id: str, module_id: str, body: dict[str, Any],
                   if_match: str | None) -> tuple[dict[str, Any], bool]:
        """Create or update a module; returns (module, created)."""
        check_id("moduleId", module_id)
        for name, expected in (("moduleId", module_id), ("deviceId", device_id)):
            if body.get(name) not in (None, expected):
                raise argument_invalid(f"{name} '{body[name]}' in the body differs from '{expected}' in the URL.")
        with self.db.transaction():
            device = json.loads(self._device_row(device_id)["identity"])
            row = self.db.one("SELECT * FROM hub_modules WHERE device_id = ? AND module_id = ?",
                              (device_id, module_id))
            if row is None and if_match is not None:
                raise not_found_module(device_id, module_id)
            if row is not None and if_match is None:
                raise HubError(409, "ModuleAlreadyExistsOnDevice",
                               f"A module with ID '{module_id}' already exists on device '{device_id}'.")
            if row is None:
                module = module_identity(device_id, module_id, body, None, self._next_etag())
                twin = new_twin(module, module_id, twins.now_iso(), status=device["status"])
                cursor = self.db.execute(
                    "INSERT INTO hub_modules (device_id, module_id, identity, twin) VALUES (?, ?, ?, ?)",
                    (device_id, module_id, dumps(module), dumps(twin)),
                )
                self._replaced("hub_modules", cursor.lastrowid or 0, None)
                return module, True
            previous = json.loads(row["identity"])
            if not _same_etag(previous["etag"], if_match):
                raise precondition_failed("Module", previous["etag"], str(if_match))
            module = module_identity(device_id, module_id, body, previous, self._next_etag())
            twin = _with_root(json.loads(row["twin"]), _twin_root(module, module_id, device["status"]), module, True)
            self._replaced("hub_modules", row["rowid"], row["twin"])
            self.db.execute("UPDATE hub_modules SET identity = ?, twin = ? WHERE rowid = ?",
                            (dumps(module), dumps(twin), row["rowid"]))
            return module, False

    def delete_module(self, device_id: str, module_id: str, if_match: str | None) -> None:
        with self.db.transaction():
            row = self._module_row(device_id, module_id)
            etag = json.loads(row["identity"])["etag"]
            if not _same_etag(etag, if_match):
                raise precondition_failed("Module", etag, str(if_match))
            self._replaced("hub_modules", row["rowid"], row["twin"])
            self.db.execute("DELETE FROM hub_modules WHERE rowid = ?", (row["rowid"],))

    # ---- twins ------------------------------------------------------------------------------------------------

    def _twin_row(self, device_id: str, module_id: str | None) -> Any:
        return self._module_row(device_id, module_id) if module_id else self._device_row(device_id)

    def twin_text(self, device_id: str, module_id: str | None = None) -> str:
        """The stored twin JSON, as served by GET /twins."""
        if module_id is None:
            text = self.db.scalar("SELECT twin FROM hub_devices WHERE device_id = ?", (device_id,))
            if text is None:
                raise not_found_device(device_id)
            return text
        return self._module_row(device_id, module_id)["twin"]

    def get_twin(self, device_id: str, module_id: str | None = None) -> dict[str, Any]:
        return json.loads(self.twin_text(device_id, module_id))

    def update_twin(self, device_id: str, body: dict[str, Any], if_match: str | None,
                    module_id: str | None = None, replace: bool = False) -> dict[str, Any]:
        """Service side: PATCH (merge) or PUT (replace) tags and desired properties; read-only fields are ignored."""
        tags = body.get("tags")
        desired = (body.get("properties") or {}).get("desired")
        for name, value in (("tags", tags), ("properties.desired", desired)):
            if value is not None and not isinstance(value, dict):
                raise argument_invalid(f"{name} must be a JSON object.")
        with self.db.transaction():
            row = self._twin_row(device_id, module_id)
            twin = json.loads(row["twin"])
            if not _same_etag(twin["etag"], if_match):
                raise precondition_failed("Twin", twin["etag"], str(if_match))
            if tags is None and desired is None:
                return twin
            now = twins.now_iso()
            if tags is not None:
                twin["tags"] = twins.replace_tags(tags) if replace else twins.merge_tags(twin.get("tags", {}), tags)
            if desired is not None:
                change = twins.replace_section if replace else twins.patch_section
                twin["properties"]["desired"] = change("desired", twin["properties"]["desired"], desired, now)
            self._store_twin(row, twin, module_id)
        if desired is not None:
            for listener in self._desired_listeners:
                listener(twin)
        return twin

    def update_reported(self, device_id: str, patch: dict[str, Any], module_id: str | None = None) -> dict[str, Any]:
        """Device side: merge a reported-properties patch (simulated devices)."""
        with self.db.transaction():
            row = self._twin_row(device_id, module_id)
            twin = json.loads(row["twin"])
            now = twins.now_iso()
            twin["properties"]["reported"] = twins.patch_section("reported", twin["properties"]["reported"], patch, now)
            self._store_twin(row, twin, module_id)
            return twin

    def _store_twin(self, row: Any, twin: dict[str, Any], module_id: str | None) -> None:
        twin["version"] = int(twin["version"]) + 1
        twin["etag"] = twins.twin_etag(twin["version"])
        table = "hub_modules" if module_id else "hub_devices"
        self._replaced(table, row["rowid"], row["twin"])
        self.db.execute(f"UPDATE {table} SET twin = ? WHERE rowid = ?", (dumps(twin), row["rowid"]))

    # ---- enumeration (query, statistics) ----------------------------------------------------------------------

    def twin_rows(self, table: str, after_rowid: int, where: str | None = None, params: tuple = (),
                  batch: int = 256) -> Iterator[tuple[int, str]]:
        """(rowid, twin text) in rowid order after ``after_rowid``, optionally narrowed by an SQL condition on
        the ``twin`` column; fetched in batches so the lock is never held for long."""
        condition = f" AND ({where})" if where else ""
        sql = f"SELECT rowid, twin FROM {table} WHERE rowid > ?{condition} ORDER BY rowid LIMIT ?"
        cursor_rowid = after_rowid
        while True:
            rows = self.db.all(sql, (cursor_rowid, *bind(params, cursor_rowid), batch))
            for row in rows:
                yield row[0], row[1]
            if len(rows) < batch:
                return
            cursor_rowid = rows[-1][0]

    def query_columns(self, table: str) -> Columns:
        """Where the query engine's SQL reads the twins of ``table`` (``hub_devices`` or ``hub_modules``)."""
        return QUERY_COLUMNS[table]

    def count_groups(self, table: str, plan: CountPlan,
                     excluded: Iterable[int] = ()) -> Iterator[tuple[int, list[Any], int]]:
        """Run a query's exact COUNT() plan: (first rowid, group values, count) per group in order of first rowid,
        leaving out the rowids in ``excluded`` (rows the caller counts itself)."""
        excluded = list(excluded)
        select = [sql for pair in plan.groups for sql in pair]
        conditions, params = [], list(plan.params)
        if plan.where is not None:
            conditions.append(f"({plan.where[0]})")
            params += plan.where[1]
        if excluded:
            conditions.append(f"rowid NOT IN ({','.join('?' * len(excluded))})")
            params += excluded
        sql = (f"SELECT {', '.join([*select, 'COUNT(*)', 'MIN(rowid)'])} FROM {table}"
               + (f" INDEXED BY {plan.index}" if plan.index else "")
               + (f" WHERE {' AND '.join(conditions)}" if conditions else ""))
        if select:
            sql += f" GROUP BY {', '.join(str(n + 1) for n in range(len(select)))} ORDER BY MIN(rowid)"
        for row in self.db.all(sql, bind(params, -(2**63))):
            count, first = row[len(select)], row[len(select) + 1]
            if count:
                values = [json_value(row[2 * n], row[2 * n + 1]) for n in range(len(plan.groups))]
                yield first, values, count

    def statistics(self) -> dict[str, int]:
        total = self.db.scalar("SELECT COUNT(*) FROM hub_devices") or 0
        enabled = self.db.scalar("SELECT COUNT(*) FROM hub_devices WHERE enabled = 1") or 0
        return {"totalDeviceCount": total, "enabledDeviceCount": enabled, "disabledDeviceCount": total - enabled}

    def connected_count(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM hub_devices WHERE connected = 1") or 0
