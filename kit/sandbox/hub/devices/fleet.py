"""The seeded fleet of a new sandbox, and growing it to N devices for exploration and load.

Seed (first start only): 12 devices in 3 buildings, with ``tags.building``, ``tags.floor``, ``tags.deviceType`` and
reported telemetry; the 6 thermostats are online (simulated) and announce ``dtmi:com:example:Thermostat;1``.
``grow(registry, n)`` adds plain devices up to ``n`` in one transaction (100,000 in seconds);
``remove_generated(registry)`` deletes them again (the admin's shortcut: on a hub, deleting 10,000 devices through the
registry API takes 100 minutes on an S1 hub with one unit, or an import job).

The grown fleet has a story for queries to uncover (notebook 08 asks about it):

* buildings of very different sizes (``building-a`` the largest, each next one smaller);
* every device reports ``firmwareVersion``; the thermostats running :data:`FAULTY_FIRMWARE` read about 3 °C above
  the :data:`TARGET_TEMPERATURE` the others hold, so once a desired target is set their drift stands out;
* :data:`OUTAGE_BUILDING`'s network went down days ago: most of its devices were last active 3 to 10 days ago
  (``lastActivityTime``), and their reported properties are as old (``$metadata.$lastUpdated``), while elsewhere
  a few devices are. ``connectionState`` stays ``Disconnected`` for all grown devices (none is simulated);
* every :data:`GATEWAY_EVERY`-th device is a field gateway (``tags.role = 'gateway'``) with one to three module
  identities (``modbus-1``...), each reporting the protocol it polls, found with ``FROM devices.modules``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from kit.sandbox import settings_store
from kit.sandbox.hub.devices import twins
from kit.sandbox.hub.devices.registry import Registry, device_identity, dumps, module_identity, new_twin
from kit.sandbox.hub.devices.simulator import Thermostat

SEEDED_KEY = "fleet_seeded"
GENERATED_PREFIX = "sim-"
BUILDINGS = ("building-a", "building-b", "building-c")
MAX_DEVICES = 100_000
DEVICE_TYPES = ("thermostat", "humidity", "light")
GROWN_BUILDINGS = tuple(f"building-{chr(ord('a') + n)}" for n in range(26))
BUILDING_WEIGHTS = tuple(1 / (n + 1) for n in range(len(GROWN_BUILDINGS)))  # a: 1, b: 1/2, c: 1/3, ...
FIRMWARE_VERSIONS = {"1.4.2": 0.4, "1.5.0": 0.2, "1.5.1": 0.4}  # version: share of the grown fleet
FAULTY_FIRMWARE = "1.5.0"
TARGET_TEMPERATURE = 21.5
FAULTY_OFFSET = 3.0
OUTAGE_BUILDING = "building-e"
OFFLINE_SHARE = {OUTAGE_BUILDING: 0.7}  # elsewhere, OFFLINE_ELSEWHERE
OFFLINE_ELSEWHERE = 0.02
GATEWAY_EVERY = 50


def _telemetry(device_type: str, rng: random.Random) -> dict[str, Any]:
    if device_type == "thermostat":
        return {"temperature": round(rng.uniform(19, 24), 2), "maxTempSinceLastReboot": 25.0}
    if device_type == "humidity":
        return {"humidity": round(rng.uniform(30, 60), 1), "temperature": round(rng.uniform(18, 25), 2)}
    return {"brightness": rng.randint(0, 100), "on": rng.random() > 0.5}


def _insert(registry: Registry, specs: list[dict[str, Any]]) -> int:
    """Insert new devices (id, tags, reported, model id, behaviour, optionally ``last_seen``) in one transaction;
    existing ids are skipped. A device's ``last_seen`` is its ``lastActivityTime`` and the time its twin was last
    written."""
    db = registry.db
    with db.transaction() as conn:
        etags = iter(range(settings_store.next_counter(db, "identity_etag_counter",
                                                      sum(1 + len(spec.get("modules", {})) for spec in specs)), 2**62))
        now = twins.now_iso()
        rows, module_rows = [], []
        for spec in specs:
            identity = device_identity(spec["id"], {}, None, twins.identity_etag(next(etags)), now)
            if "last_seen" in spec:
                identity["lastActivityTime"] = spec["last_seen"]
            seen = spec.get("last_seen", now)
            twin = new_twin(identity, None, seen, tags=spec["tags"], reported=spec["reported"],
                            model_id=spec.get("model_id", ""))
            rows.append((spec["id"], dumps(identity), dumps(twin), spec.get("behaviour")))
            for module_id, reported in spec.get("modules", {}).items():
                module = module_identity(spec["id"], module_id, {}, None, twins.identity_etag(next(etags)))
                module_rows.append((spec["id"], module_id, dumps(module),
                                    dumps(new_twin(module, module_id, seen, reported=reported))))
        inserted = conn.executemany(
            "INSERT OR IGNORE INTO hub_devices (device_id, enabled, identity, twin, behaviour) VALUES (?, 1, ?, ?, ?)",
            rows,
        )
        added = inserted.rowcount  # the devices inserted (rows the triggers write are not counted)
        conn.executemany("INSERT OR IGNORE INTO hub_modules (device_id, module_id, identity, twin) VALUES (?, ?, ?, ?)",
                         module_rows)
        return added


def seed(registry: Registry) -> int:
    """Create the starter fleet once per state folder; returns the number of devices created."""
    if settings_store.get(registry.db, SEEDED_KEY) == "1":
        return 0
    rng = random.Random(7)
    specs = []
    for building in BUILDINGS:
        letter = building[-1]
        for kind, number, floor in (("thermostat", 1, 1), ("thermostat", 2, 2), ("humidity", 1, 1), ("light", 1, 2)):
            spec = {"id": f"{kind}-{letter}-{number}", "reported": _telemetry(kind, rng),
                    "tags": {"building": building, "floor": floor, "deviceType": kind}}
            if kind == "thermostat":
                spec.update(model_id=Thermostat.model_id, behaviour=Thermostat.name)
            specs.append(spec)
    created = _insert(registry, specs)
    settings_store.put(registry.db, SEEDED_KEY, "1")
    return created


def _grown_device(number: int, rng: random.Random, now: dt.datetime) -> dict[str, Any]:
    """One generated device of the story: its building, firmware, telemetry and when it was last seen."""
    kind = DEVICE_TYPES[number % len(DEVICE_TYPES)]
    building = rng.choices(GROWN_BUILDINGS, weights=BUILDING_WEIGHTS)[0]
    firmware = rng.choices(list(FIRMWARE_VERSIONS), weights=list(FIRMWARE_VERSIONS.values()))[0]
    reported = {**_telemetry(kind, rng), "firmwareVersion": firmware}
    if kind == "thermostat":
        offset = FAULTY_OFFSET if firmware == FAULTY_FIRMWARE else 0.0
        reported["temperature"] = round(TARGET_TEMPERATURE + offset + rng.gauss(0, 0.3), 2)
    offline = rng.random() < OFFLINE_SHARE.get(building, OFFLINE_ELSEWHERE)
    ago = dt.timedelta(days=rng.uniform(3, 10)) if offline else dt.timedelta(minutes=rng.uniform(1, 60))
    spec = {"id": f"{GENERATED_PREFIX}{number:06d}", "reported": reported, "last_seen": twins.iso(now - ago),
            "tags": {"building": building, "floor": number % 10 + 1, "deviceType": kind}}
    if number % GATEWAY_EVERY == 0:
        spec["tags"]["role"] = "gateway"
        spec["modules"] = {f"modbus-{n}": {"protocol": "modbus", "polledDevices": rng.randint(2, 12)}
                           for n in range(1, rng.randint(1, 3) + 1)}
    return spec


def grow(registry: Registry, target: int, batch: int = 10_000) -> int:
    """Add generated devices until the registry holds ``target`` devices; returns how many were added."""
    if not 1 <= target <= MAX_DEVICES:
        raise ValueError(f"devices: {target} is out of range; give 1 to {MAX_DEVICES:,}.")
    count = registry.db.scalar("SELECT COUNT(*) FROM hub_devices") or 0
    next_number = (registry.db.scalar("SELECT MAX(rowid) FROM hub_devices") or 0) + 1
    rng = random.Random(next_number)
    now = dt.datetime.now(dt.UTC)
    added = 0
    with registry.db.transaction():  # one transaction: all or nothing, and one commit
        while count + added < target:
            size = min(batch, target - count - added)
            specs = [_grown_device(number, rng, now) for number in range(next_number, next_number + size)]
            added += _insert(registry, specs)
            next_number += size
    return added


def remove_generated(registry: Registry) -> int:
    """Delete every device ``grow`` generated (ids ``sim-...``), in one transaction; returns how many were removed."""
    with registry.db.transaction() as conn:
        deleted = conn.execute("DELETE FROM hub_devices WHERE device_id LIKE ?", (GENERATED_PREFIX + "%",))
        return deleted.rowcount  # the devices (not the modules and tag leaves deleted with them)
