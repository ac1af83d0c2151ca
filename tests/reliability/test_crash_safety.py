"""A sandbox killed with SIGKILL in the middle of a stream of writes keeps every write it acknowledged.

A client thread creates devices and patches one twin (each patch adds its own tag) as fast as the sandbox answers,
remembering what was acknowledged with 200. The sandbox is killed mid-stream; its SQLite file must then pass
``PRAGMA integrity_check`` as left by the kill and again once the sandbox has restarted on it, and every
acknowledged device and tag must be there.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

from kit.sandbox.paths import DATABASE_FILE
from tests.reliability.reporting import report
from tests.sandbox.hub.conftest import HubHttp, credential_for

TWIN_DEVICE = "crash-twin"
MAX_WRITES = 600  # bounds the stream if the kill comes late
KILL_AFTER_ACKS = 60


def integrity(database: Path) -> str:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def write_stream(hub: HubHttp, acked_devices: list[str], acked_tags: list[str]) -> None:
    """Alternate device creates and twin patches until the sandbox stops answering."""
    authorization = hub.sas()
    for seq in range(MAX_WRITES):
        try:
            if seq % 2:
                device_id = f"crash-dev-{seq}"
                response = hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id},
                                    authorization=authorization)
                done, acked = response.status_code == 200, (acked_devices, device_id)
            else:
                tag = f"n{seq}"
                response = hub.call("PATCH", f"/twins/{TWIN_DEVICE}", {"tags": {tag: seq}},
                                    authorization=authorization)
                done, acked = response.status_code == 200, (acked_tags, tag)
        except requests.RequestException:
            return  # the sandbox is gone
        if done:
            acked[0].append(acked[1])


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(private_sandbox):
    conn = private_sandbox()
    state_dir = Path(conn.state_dir)
    hub = HubHttp(conn, credential_for(conn, conn.client_id, conn.client_secret))
    assert hub.call("PUT", f"/devices/{TWIN_DEVICE}", {"deviceId": TWIN_DEVICE}).status_code == 200

    acked_devices: list[str] = []
    acked_tags: list[str] = []
    writer = threading.Thread(target=write_stream, args=(hub, acked_devices, acked_tags))
    writer.start()
    deadline = time.monotonic() + 30
    while len(acked_devices) + len(acked_tags) < KILL_AFTER_ACKS and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(conn.pid, signal.SIGKILL)
    writer.join(timeout=30)
    acknowledged = len(acked_devices) + len(acked_tags)
    assert acknowledged >= KILL_AFTER_ACKS and acknowledged < MAX_WRITES, "the kill did not land mid-stream"

    after_kill = integrity(state_dir / DATABASE_FILE)
    restarted = private_sandbox(state_dir=state_dir)
    assert restarted.pid != conn.pid
    after_restart = integrity(state_dir / DATABASE_FILE)
    hub = HubHttp(restarted, hub.credential)
    missing_devices = [d for d in acked_devices if hub.call("GET", f"/devices/{d}").status_code != 200]
    tags = hub.call("GET", f"/twins/{TWIN_DEVICE}").json()["tags"]
    missing_tags = [t for t in acked_tags if t not in tags]

    report("crash safety (SIGKILL mid-stream)",
           f"acknowledged writes: {acknowledged} ({len(acked_devices)} creates, {len(acked_tags)} twin patches); "
           f"lost after restart: {len(missing_devices) + len(missing_tags)}; integrity_check after kill: "
           f"{after_kill}, after restart: {after_restart}")
    assert after_kill == "ok" and after_restart == "ok"
    assert not missing_devices and not missing_tags
