"""Operation throttles per tier and unit, with traffic shaping, as IoT Hub applies them (realism knob ``throttling``).

Rates come from the quota table of iot-hub-devguide-quotas-throttling.md (2023-02) and scale with the hub's tier and
units (``hub-tier``). Each operation class is a bucket holding one minute of its rate ("operation throttles are rate
limitations that are applied in minute ranges"), refilled continuously. A request takes its cost from the bucket:

* enough left: it runs at once (a burst within the minute's quota);
* short, but the missing part refills within ``SHAPING_WINDOW_S``: the hub queues it and answers late (traffic
  shaping: "IoT Hub starts placing the requests in a queue and requests are processed at the limit rate");
* more than that: 429 ThrottlingException ("the size of this queue is limited ... IoT Hub starts rejecting requests").

A bulk registry request costs one identity operation per device (the same article: on an S1 hub with one unit,
two 50-device bulk requests are accepted per minute and the third is rejected). A direct method costs one meter of
4 KB per started 4 KB of payload. Not throttled here: device-side traffic, cloud-to-device receives and jobs' own
device operations (the sandbox's jobs run them inside the hub).

UNCONFIRMED: the size of the shaping queue (``SHAPING_WINDOW_S``) and whether the real hub sends ``Retry-After`` on
429 (it is not documented; the sandbox does not send it, and says how long to wait in the message, as the hub's
ThrottlingBacklogTimeout message does).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kit.sandbox.db import Database
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.limits import realism, sku
from kit.sandbox.hub.transport.errors import HubError

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

SHAPING_WINDOW_S = 3.0  # how much queueing traffic shaping absorbs before answering 429 (UNCONFIRMED)
METHOD_METER_BYTES = 4 * 1024

# Operation classes, with (per-unit rate, floor) per tier as operations per second. The floor is the "higher of"
# part of the table (twin reads on S2: the higher of 100/s or 10/s/unit). A rate of None means "not per unit".
REGISTRY, QUERIES, TWIN_READS, TWIN_UPDATES, JOBS, CONFIGURATIONS, METHODS, C2D_SENDS = (
    "identity registry operations", "queries", "twin reads", "twin updates", "jobs operations",
    "configurations", "direct methods", "cloud-to-device sends")

PER_MINUTE = 1 / 60


@dataclass(frozen=True)
class Rate:
    """``per_unit`` operations per second for each unit, and never less than ``floor`` per second."""

    per_unit: float
    floor: float = 0.0

    def for_units(self, units: int) -> float:
        return max(self.per_unit * units, self.floor)


def _fixed(per_second: float) -> Rate:
    """A rate that does not grow with units (twin reads on S1: 100/s)."""
    return Rate(0.0, per_second)


_S1 = {
    REGISTRY: Rate(100 * PER_MINUTE), QUERIES: Rate(20 * PER_MINUTE), TWIN_READS: _fixed(100),
    TWIN_UPDATES: _fixed(50), JOBS: Rate(100 * PER_MINUTE), CONFIGURATIONS: Rate(20 * PER_MINUTE),
    METHODS: Rate(160 / 4), C2D_SENDS: Rate(100 * PER_MINUTE),
}
RATES: dict[str, dict[str, Rate]] = {
    "F1": _S1,
    "S1": _S1,
    "S2": {**_S1, TWIN_READS: Rate(10, 100), TWIN_UPDATES: Rate(5, 50), METHODS: Rate(480 / 4)},
    "S3": {
        REGISTRY: Rate(5000 * PER_MINUTE), QUERIES: Rate(1000 * PER_MINUTE), TWIN_READS: Rate(500),
        TWIN_UPDATES: Rate(250), JOBS: Rate(5000 * PER_MINUTE), CONFIGURATIONS: Rate(20 * PER_MINUTE),
        METHODS: Rate(24 * 1024 / 4), C2D_SENDS: Rate(5000 * PER_MINUTE),
    },
}

# The class of each REST operation (method, route template); absent means not throttled here.
OPERATION_CLASSES: dict[tuple[str, str], str] = {
    ("GET", "/devices"): REGISTRY,
    ("POST", "/devices"): REGISTRY,
    ("GET", "/devices/{device_id}"): REGISTRY,
    ("PUT", "/devices/{device_id}"): REGISTRY,
    ("DELETE", "/devices/{device_id}"): REGISTRY,
    ("GET", "/devices/{device_id}/modules"): REGISTRY,
    ("GET", "/devices/{device_id}/modules/{module_id}"): REGISTRY,
    ("PUT", "/devices/{device_id}/modules/{module_id}"): REGISTRY,
    ("DELETE", "/devices/{device_id}/modules/{module_id}"): REGISTRY,
    ("POST", "/devices/query"): QUERIES,
    ("GET", "/twins/{device_id}"): TWIN_READS,
    ("GET", "/twins/{device_id}/modules/{module_id}"): TWIN_READS,
    ("GET", "/digitaltwins/{device_id}"): TWIN_READS,
    ("PUT", "/twins/{device_id}"): TWIN_UPDATES,
    ("PATCH", "/twins/{device_id}"): TWIN_UPDATES,
    ("PUT", "/twins/{device_id}/modules/{module_id}"): TWIN_UPDATES,
    ("PATCH", "/twins/{device_id}/modules/{module_id}"): TWIN_UPDATES,
    ("PATCH", "/digitaltwins/{device_id}"): TWIN_UPDATES,
    ("POST", "/twins/{device_id}/methods"): METHODS,
    ("POST", "/twins/{device_id}/modules/{module_id}/methods"): METHODS,
    ("POST", "/digitaltwins/{device_id}/commands/{command}"): METHODS,
    ("POST", "/digitaltwins/{device_id}/components/{component}/commands/{command}"): METHODS,
    ("GET", "/jobs"): JOBS,
    ("POST", "/jobs/create"): JOBS,
    ("GET", "/jobs/{job_id}"): JOBS,
    ("DELETE", "/jobs/{job_id}"): JOBS,
    ("PUT", "/jobs/v2/{job_id}"): JOBS,
    ("GET", "/jobs/v2/{job_id}"): JOBS,
    ("POST", "/jobs/v2/{job_id}/cancel"): JOBS,
    ("GET", "/jobs/v2/query"): JOBS,
    ("GET", "/configurations"): CONFIGURATIONS,
    ("GET", "/configurations/{configuration_id}"): CONFIGURATIONS,
    ("PUT", "/configurations/{configuration_id}"): CONFIGURATIONS,
    ("DELETE", "/configurations/{configuration_id}"): CONFIGURATIONS,
    ("POST", "/devices/{device_id}/applyConfigurationContent"): CONFIGURATIONS,
    ("AMQP", "/messages/devicebound"): C2D_SENDS,
}


def method_cost(body: bytes) -> int:
    """Direct methods are metered in 4 KB: a call with up to 4 KB of payload costs one, up to 8 KB two..."""
    return max(1, math.ceil(len(body) / METHOD_METER_BYTES))


def bulk_cost(body: bytes) -> int:
    """A bulk registry request costs one identity operation per entry (a malformed body costs one; it is refused)."""
    try:
        entries = json.loads(body)
    except ValueError:
        return 1
    return max(1, len(entries)) if isinstance(entries, list) else 1


def cost_function(method: str, path: str) -> Callable[[bytes], int] | None:
    """How to price a request from its body, for the operations whose cost is not one."""
    if (method, path) == ("POST", "/devices"):
        return bulk_cost
    if OPERATION_CLASSES.get((method, path)) == METHODS:
        return method_cost
    return None


def throttled(operation: str, tier: str, units: int, per_minute: float, wait_s: float) -> HubError:
    """The hub's 429 for a request beyond what traffic shaping absorbs."""
    unit_text = "unit" if units == 1 else "units"
    return HubError(
        429, "ThrottlingException",
        f"The request has been throttled. Wait {max(1, math.ceil(wait_s))} seconds and try again. Operation type: "
        f"{operation}, limited to {per_minute:g} per minute on this {tier} hub with {units} {unit_text}.",
    )


class Bucket:
    """One operation class's minute of quota, refilled at its rate; its level may go below zero while requests wait
    in the shaping queue (their slots are reserved)."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = rate * 60
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def reserve(self, cost: float) -> float:
        """Take ``cost``; the seconds the request must wait for it (0 = now), or -1 when the queue is full
        (nothing taken)."""
        self._refill()
        after = self.level - cost
        wait = 0.0 if after >= 0 else -after / self.rate
        if wait > SHAPING_WINDOW_S:
            return -1.0
        self.level = after
        return wait

    def seconds_until(self, cost: float) -> float:
        """How long until a request of ``cost`` would no longer be refused."""
        self._refill()
        missing = cost - self.level - SHAPING_WINDOW_S * self.rate
        return max(0.0, missing / self.rate)


class Throttle:
    """The hub's buckets for the current tier and units; rebuilt (full) whenever they change."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.sizing: tuple[str, int] | None = None
        self.generation = -1
        self._lock = threading.Lock()  # the AMQP listener admits from its own threads
        self.buckets: dict[str, Bucket] = {}

    def resize(self, tier: str, units: int) -> None:
        if self.sizing != (tier, units):
            self.sizing = (tier, units)
            self.buckets = {name: Bucket(rate.for_units(units), self.clock) for name, rate in RATES[tier].items()}

    def idle(self) -> None:
        """Throttling is switched off: when it is switched on again, every bucket starts full."""
        self.sizing = None
        self.buckets = {}

    def admit(self, operation: str, cost: float, knobs: realism.Live, db: Database) -> float:
        """Seconds to hold the request (traffic shaping), or raise the 429 when the shaping queue is full. The
        buckets follow the hub's tier and units, read again whenever the settings changed."""
        with self._lock:
            if self.generation != knobs.generation or not self.buckets:
                self.generation = knobs.generation
                self.resize(job_store.tier(db), sku.units(db))
            bucket = self.buckets[operation]
            wait = bucket.reserve(cost)
            if wait < 0:
                tier, units = self.sizing or ("S1", 1)
                raise throttled(operation, tier, units, bucket.rate * 60, bucket.seconds_until(cost))
            return wait


def admit_blocking(ctx: HubContext, operation: str, cost: float = 1) -> None:
    """Admit a request handled outside the event loop (AMQP): wait out traffic shaping here, or raise the 429."""
    if ctx.realism["throttling"]:
        delay = ctx.throttle.admit(operation, cost, ctx.realism, ctx.db)
        if delay > 0:
            time.sleep(delay)
