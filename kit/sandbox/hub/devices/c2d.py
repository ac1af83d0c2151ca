"""Cloud-to-device messages: per-device queues, delivery to simulated devices, feedback batches and purge.

The hub keeps at most 50 pending messages per device (the 51st is refused with 403004
DeviceMaximumQueueDepthExceeded) of at most 64 KB each (413 MessageTooLarge). A connected simulated device takes
each message after a short delay and completes it; a message nobody takes before it expires (default time to live
one hour) is dead-lettered as Expired. When the sender asked for it with the ``iothub-ack`` application property
(``positive``: on completion, ``negative``: on expiry, rejection or purge, ``full``: both), the outcome becomes a
feedback record. Feedback records are handed out in batches under a lock token, like messages of a queue: GET
locks a batch for a minute, DELETE completes it, POST .../abandon returns it; after ten deliveries it is dropped.

Defaults are the hub's documented ones (cloudToDevice.defaultTtlAsIso8601 PT1H, feedback lockDurationAsIso8601
PT1M, ttlAsIso8601 PT1H, maxDeliveryCount 10).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proton import Message

from kit.sandbox.hub.transport.errors import HubError, argument_invalid, not_found_device

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

log = logging.getLogger("kit.sandbox.hub.devices.c2d")

MAX_PENDING_PER_DEVICE = 50
MAX_MESSAGE_BYTES = 64 * 1024
DEFAULT_TTL_S = 3600.0
DEVICE_PICKUP_DELAY_S = 0.3
SWEEP_INTERVAL_S = 0.2
FEEDBACK_LOCK_S = 60.0
FEEDBACK_TTL_S = 3600.0
FEEDBACK_MAX_DELIVERIES = 10
ACK_PROPERTY = "iothub-ack"
ACK_MODES = ("none", "positive", "negative", "full")
DEVICEBOUND_TO = re.compile(r"^/devices/(?P<device>[^/]+)/messages/devicebound$", re.IGNORECASE)

# Feedback status codes and descriptions, as the hub writes them.
SUCCESS = ("Success", "Success")
EXPIRED = ("Expired", "Message expired")
PURGED = ("Purged", "Message purged")

SCHEMA = """
CREATE TABLE IF NOT EXISTS c2d_messages (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id      TEXT NOT NULL,
    message_id     TEXT,
    correlation_id TEXT,
    ack            TEXT NOT NULL DEFAULT 'none',
    body           BLOB NOT NULL,
    properties     TEXT NOT NULL DEFAULT '{}',
    enqueued_at    REAL NOT NULL,
    expires_at     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS c2d_messages_by_device ON c2d_messages (device_id, seq);
CREATE TABLE IF NOT EXISTS c2d_feedback_batches (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    lock_token     TEXT UNIQUE,
    locked_until   REAL NOT NULL DEFAULT 0,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    created_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS c2d_feedback (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id             INTEGER REFERENCES c2d_feedback_batches (id) ON DELETE CASCADE,
    original_message_id  TEXT,
    device_id            TEXT NOT NULL,
    device_generation_id TEXT NOT NULL,
    status_code          TEXT NOT NULL,
    description          TEXT NOT NULL,
    enqueued_at          REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS c2d_feedback_by_batch ON c2d_feedback (batch_id);
"""


def utc_iso(epoch: float) -> str:
    """Milliseconds and ``Z``: how the hub writes message times (twin times have seven digits)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class FeedbackBatch:
    """One locked feedback message: its records and the lock token that completes or abandons it."""

    lock_token: str
    delivery_count: int
    enqueued_at: float
    records: list[dict[str, Any]]


# -- the registry's view of a device ---------------------------------------------------------------------------------

def _identity(ctx: HubContext, device_id: str) -> dict[str, Any] | None:
    try:
        return ctx.registry.get_device(device_id)
    except HubError as error:
        if error.status == 404:
            return None
        raise


def _count_pending(ctx: HubContext, device_id: str) -> None:
    """The device identity's cloudToDeviceMessageCount is the number of messages queued for it."""
    if _identity(ctx, device_id) is not None:
        ctx.registry.set_cloud_to_device_count(device_id, pending_count(ctx, device_id))


# -- sending --------------------------------------------------------------------------------------------------------

def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, default=str).encode()


def _ack_mode(properties: dict[str, Any]) -> str:
    value = properties.get(ACK_PROPERTY)
    if value is None:
        return "none"
    mode = str(value).strip().lower()
    if mode not in ACK_MODES:
        raise argument_invalid(
            f"Invalid value '{value}' for the {ACK_PROPERTY} property. Use one of: {', '.join(ACK_MODES)}."
        )
    return mode


def _expiry(message: Message, now: float) -> float:
    """``absolute-expiry-time`` if the sender set one (seconds since 1970), else the hub's default TTL."""
    expiry = message.expiry_time
    return float(expiry) if expiry else now + DEFAULT_TTL_S


def enqueue(ctx: HubContext, message: Message, size: int) -> int:
    """Queue an AMQP message addressed ``to=/devices/{id}/messages/devicebound``; return its sequence number."""
    match = DEVICEBOUND_TO.match(message.address or "")
    if match is None:
        raise argument_invalid(
            f"The message's 'to' property is '{message.address}'. A cloud-to-device message must be addressed "
            "to /devices/{deviceId}/messages/devicebound."
        )
    device_id = match.group("device")
    if size > MAX_MESSAGE_BYTES:
        raise HubError(413, "MessageTooLarge",
                       f"Message size {size} bytes exceeds the cloud-to-device limit of {MAX_MESSAGE_BYTES} bytes "
                       "(64 KB). Send less data, or point the device at a blob.")
    properties = {str(k): v for k, v in (message.properties or {}).items()}
    ack = _ack_mode(properties)
    now = time.time()
    with ctx.db.transaction() as conn:
        if _identity(ctx, device_id) is None:
            raise not_found_device(device_id)
        pending = conn.execute("SELECT COUNT(*) FROM c2d_messages WHERE device_id = ?", (device_id,)).fetchone()[0]
        if pending >= MAX_PENDING_PER_DEVICE:
            raise HubError(403, "DeviceMaximumQueueDepthExceeded",
                           f"Device Queue depth cannot exceed {MAX_PENDING_PER_DEVICE} messages. Device {device_id} "
                           "has that many pending; wait for it to take them, or purge its queue.")
        cursor = conn.execute(
            "INSERT INTO c2d_messages (device_id, message_id, correlation_id, ack, body, properties, enqueued_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (device_id, _text(message.id), _text(message.correlation_id), ack, _body_bytes(message.body),
             json.dumps(properties, default=str), now, _expiry(message, now)),
        )
        _count_pending(ctx, device_id)
    return int(cursor.lastrowid)


def pending_count(ctx: HubContext, device_id: str) -> int:
    """Messages still queued for a device, the count the 50-message queue limit applies to."""
    return int(ctx.db.scalar("SELECT COUNT(*) FROM c2d_messages WHERE device_id = ?", (device_id,)))


# -- outcomes: completion by simulated devices, expiry, purge ------------------------------------------------------

def _record_feedback(conn: Any, ctx: HubContext, row: Any, outcome: tuple[str, str], now: float) -> None:
    wanted = {"positive": (SUCCESS,), "negative": (EXPIRED, PURGED), "full": (SUCCESS, EXPIRED, PURGED)}
    if outcome not in wanted.get(row["ack"], ()):
        return
    identity = _identity(ctx, row["device_id"]) or {}
    generation = identity.get("generationId", "")
    conn.execute(
        "INSERT INTO c2d_feedback (original_message_id, device_id, device_generation_id, status_code, description,"
        " enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
        (row["message_id"], row["device_id"], generation, outcome[0], outcome[1], now),
    )


def _settle(ctx: HubContext, rows: list[Any], outcome: tuple[str, str], now: float) -> int:
    with ctx.db.transaction() as conn:
        for row in rows:
            _record_feedback(conn, ctx, row, outcome, now)
            conn.execute("DELETE FROM c2d_messages WHERE seq = ?", (row["seq"],))
        for device_id in {row["device_id"] for row in rows}:
            _count_pending(ctx, device_id)
    return len(rows)


def sweep(ctx: HubContext, now: float | None = None) -> dict[str, int]:
    """One round of the hub's housekeeping: devices take due messages, old messages and feedback expire."""
    now = time.time() if now is None else now
    expired = ctx.db.all("SELECT * FROM c2d_messages WHERE expires_at <= ?", (now,))
    due = ctx.db.all("SELECT * FROM c2d_messages WHERE enqueued_at <= ? AND expires_at > ? ORDER BY seq",
                     (now - DEVICE_PICKUP_DELAY_S, now))
    state: dict[str, str | None] = {}
    taken, orphans = [], []
    for row in due:
        device_id = row["device_id"]
        if device_id not in state:
            identity = _identity(ctx, device_id)
            state[device_id] = None if identity is None else identity.get("connectionState")
        if state[device_id] == "Connected":
            taken.append(row)
        elif state[device_id] is None:  # the device was deleted, and its queue with it
            orphans.append((row["seq"],))
    ctx.db.executemany("DELETE FROM c2d_messages WHERE seq = ?", orphans)
    completed = _settle(ctx, taken, SUCCESS, now)
    dead = _settle(ctx, expired, EXPIRED, now)
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM c2d_feedback_batches WHERE created_at <= ? OR delivery_count >= ? AND "
                     "locked_until <= ?", (now - FEEDBACK_TTL_S, FEEDBACK_MAX_DELIVERIES, now))
        conn.execute("DELETE FROM c2d_feedback WHERE batch_id IS NULL AND enqueued_at <= ?", (now - FEEDBACK_TTL_S,))
    return {"completed": completed, "expired": dead}


async def simulate_devices(ctx: HubContext) -> None:
    """Background work of the hub: connected devices complete their messages; expiry runs on time."""
    while True:
        try:
            await asyncio.to_thread(sweep, ctx)
        except Exception:  # keep the hub running; the next round retries
            log.exception("cloud-to-device sweep failed")
        await asyncio.sleep(SWEEP_INTERVAL_S)


def purge(ctx: HubContext, device_id: str) -> dict[str, Any]:
    """Drop every pending message of a device (``DELETE /devices/{id}/commands``)."""
    if _identity(ctx, device_id) is None:
        raise not_found_device(device_id)
    rows = ctx.db.all("SELECT * FROM c2d_messages WHERE device_id = ?", (device_id,))
    purged = _settle(ctx, rows, PURGED, time.time())
    return {"totalMessagesPurged": purged, "deviceId": device_id, "moduleId": None}


# -- feedback ---------------------------------------------------------------------------------------------------------

def _lock_lost(lock_token: str) -> HubError:
    return HubError(
        412, "DeviceMessageLockLost",
        f"The lock token '{lock_token}' does not hold a feedback message: it was already completed or abandoned, "
        f"or its {int(FEEDBACK_LOCK_S)} s lock expired. Receive the feedback again for a new lock token.",
    )


def receive_feedback(ctx: HubContext, now: float | None = None) -> FeedbackBatch | None:
    """Lock the next feedback batch (a returned one first, else every new record), or None when there is none."""
    now = time.time() if now is None else now
    with ctx.db.transaction() as conn:
        batch = conn.execute(
            "SELECT * FROM c2d_feedback_batches WHERE locked_until <= ? AND delivery_count < ? ORDER BY id LIMIT 1",
            (now, FEEDBACK_MAX_DELIVERIES),
        ).fetchone()
        if batch is None:
            if conn.execute("SELECT 1 FROM c2d_feedback WHERE batch_id IS NULL LIMIT 1").fetchone() is None:
                return None
            batch_id = conn.execute("INSERT INTO c2d_feedback_batches (created_at) VALUES (?)", (now,)).lastrowid
            conn.execute("UPDATE c2d_feedback SET batch_id = ? WHERE batch_id IS NULL", (batch_id,))
            created_at, deliveries = now, 0
        else:
            batch_id, created_at, deliveries = batch["id"], batch["created_at"], batch["delivery_count"]
        lock_token = str(uuid.uuid4())
        conn.execute(
            "UPDATE c2d_feedback_batches SET lock_token = ?, locked_until = ?, delivery_count = ? WHERE id = ?",
            (lock_token, now + FEEDBACK_LOCK_S, deliveries + 1, batch_id),
        )
        rows = conn.execute("SELECT * FROM c2d_feedback WHERE batch_id = ? ORDER BY id", (batch_id,)).fetchall()
    records = [
        {
            "originalMessageId": row["original_message_id"],
            "description": row["description"],
            "deviceGenerationId": row["device_generation_id"],
            "deviceId": row["device_id"],
            "enqueuedTimeUtc": utc_iso(row["enqueued_at"]),
            "statusCode": row["status_code"],
        }
        for row in rows
    ]
    return FeedbackBatch(lock_token, deliveries + 1, created_at, records)


def _locked_batch(conn: Any, lock_token: str, now: float) -> int:
    row = conn.execute("SELECT id FROM c2d_feedback_batches WHERE lock_token = ? AND locked_until > ?",
                       (lock_token, now)).fetchone()
    if row is None:
        raise _lock_lost(lock_token)
    return int(row["id"])


def complete_feedback(ctx: HubContext, lock_token: str) -> None:
    """Delete a locked feedback batch for good."""
    with ctx.db.transaction() as conn:
        conn.execute("DELETE FROM c2d_feedback_batches WHERE id = ?", (_locked_batch(conn, lock_token, time.time()),))


def abandon_feedback(ctx: HubContext, lock_token: str) -> None:
    """Release the lock; the batch is handed out again by the next receive."""
    with ctx.db.transaction() as conn:
        batch_id = _locked_batch(conn, lock_token, time.time())
        conn.execute("UPDATE c2d_feedback_batches SET lock_token = NULL, locked_until = 0 WHERE id = ?", (batch_id,))


def setup(ctx: HubContext) -> dict[str, Any]:
    ctx.db.ensure_schema(SCHEMA)
    ctx.background.append(lambda: simulate_devices(ctx))
    return {}
