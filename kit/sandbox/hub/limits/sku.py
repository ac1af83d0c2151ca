"""The hub's SKU: its tier (the name the job limits follow, see ``job_store``) and its number of units.

One implementation behind the ``hub-tier`` command and ARM's PUT of the hub resource.
"""

from __future__ import annotations

from kit.sandbox import settings_store
from kit.sandbox.db import Database
from kit.sandbox.hub.jobs import store as job_store

UNITS_KEY = "hub_units"
SKU_TIERS = {"F1": "Free", "S1": "Standard", "S2": "Standard", "S3": "Standard"}
MAX_UNITS = {"F1": 1, "S1": 200, "S2": 200, "S3": 10}  # iot-hub-scaling.md: one free unit; S3 scales to 10 units


def units(db: Database) -> int:
    """The number of hub units (the SKU's ``capacity``); the operation throttles scale with it (``throttling``)."""
    return int(settings_store.get(db, UNITS_KEY, "1") or 1)


def set_sku(db: Database, name: str, capacity: int | None = None) -> None:
    """Change the tier and, when given, the number of units (checked first, so a refused change changes nothing);
    units beyond the new tier's maximum are lowered to it."""
    if name not in SKU_TIERS:
        raise ValueError(f"sku.name: '{name}' is not a tier the sandbox emulates; use one of {', '.join(SKU_TIERS)} "
                         "(the Basic tiers B1-B3 have no cloud-to-device messages, jobs or twins).")
    limit = MAX_UNITS[name]
    if capacity is not None and not 1 <= capacity <= limit:
        raise ValueError(f"sku.capacity: {capacity} units is out of range; a {name} hub has 1 to {limit} units.")
    job_store.set_tier(db, name)
    if capacity is not None or units(db) > limit:
        settings_store.put(db, UNITS_KEY, str(min(capacity or limit, limit)))
