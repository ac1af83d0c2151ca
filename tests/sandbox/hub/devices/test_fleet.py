"""The seeded fleet and growing it, on a database of its own (no server needed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kit.sandbox.db import Database
from kit.sandbox.hub.devices import fleet
from kit.sandbox.hub.devices.registry import Registry


@pytest.fixture
def registry(tmp_path):
    db = Database.in_state_dir(tmp_path)
    yield Registry(db)
    db.close()


def test_seed_once(registry):
    assert fleet.seed(registry) == 12
    assert fleet.seed(registry) == 0
    twins = [registry.get_twin(row[0]) for row in registry.db.all("SELECT device_id FROM hub_devices")]
    assert {t["tags"]["building"] for t in twins} == set(fleet.BUILDINGS)
    thermostats = [t for t in twins if t["tags"]["deviceType"] == "thermostat"]
    assert len(thermostats) == 6 and all(t["modelId"] == "dtmi:com:example:Thermostat;1" for t in thermostats)
    assert all("temperature" in t["properties"]["reported"] for t in thermostats)
    etags = [registry.get_device(t["deviceId"])["etag"] for t in twins]
    assert len(set(etags)) == 12


def test_grow_and_limits(registry):
    fleet.seed(registry)
    assert fleet.grow(registry, 500) == 488
    assert registry.statistics()["totalDeviceCount"] == 500
    assert fleet.grow(registry, 100) == 0
    with pytest.raises(ValueError, match="devices"):
        fleet.grow(registry, 100_001)


def test_fleet_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kit.sandbox", "fleet", "--devices", "50", "--state-dir",
                             str(tmp_path)], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["total_devices"] == 50


def test_the_grown_fleet_tells_a_story(registry):
    """Buildings of different sizes, one faulty firmware whose thermostats read high, one building whose devices have
    not been seen for days (with reported properties as old): what notebook 08's questions uncover."""
    import datetime as dt

    import pandas as pd

    fleet.grow(registry, 5000)
    rows = []
    for (device_id,) in registry.db.all("SELECT device_id FROM hub_devices WHERE device_id LIKE 'sim-%'"):
        twin = registry.get_twin(device_id)
        reported = twin["properties"]["reported"]
        rows.append({"building": twin["tags"]["building"], "type": twin["tags"]["deviceType"],
                     "firmware": reported["firmwareVersion"], "temperature": reported.get("temperature"),
                     "seen": pd.Timestamp(twin["lastActivityTime"]),
                     "reported_at": pd.Timestamp(reported["$metadata"]["$lastUpdated"])})
    frame = pd.DataFrame(rows)
    sizes = frame["building"].value_counts()
    assert sizes.index[0] == "building-a" and sizes.iloc[0] > 5 * sizes.iloc[-1]

    thermostats = frame[frame["type"] == "thermostat"]
    drift = (thermostats.groupby("firmware")["temperature"].mean() - fleet.TARGET_TEMPERATURE).abs()
    assert drift.idxmax() == fleet.FAULTY_FIRMWARE and drift.max() > 2.5
    assert drift.drop(fleet.FAULTY_FIRMWARE).max() < 0.2

    days_ago = pd.Timestamp.now(tz="UTC") - dt.timedelta(days=3)
    offline = frame[frame["seen"] < days_ago]
    assert offline["building"].value_counts().idxmax() == fleet.OUTAGE_BUILDING != sizes.index[0]
    assert (offline["reported_at"] == offline["seen"]).all()  # their reported values are as old


def test_grown_gateways_have_modules_that_go_with_them(registry):
    fleet.grow(registry, 500)
    gateways = [row[0] for row in registry.db.all("SELECT device_id FROM hub_devices WHERE device_id LIKE 'sim-%'")
                if registry.get_twin(row[0])["tags"].get("role") == "gateway"]
    assert len(gateways) == 500 // fleet.GATEWAY_EVERY
    modules = {gateway: registry.list_modules(gateway) for gateway in gateways}
    assert all(1 <= len(found) <= 3 for found in modules.values())
    module = modules[gateways[0]][0]
    twin = registry.get_twin(gateways[0], module["moduleId"])
    assert module["moduleId"].startswith("modbus-") and twin["properties"]["reported"]["protocol"] == "modbus"
    assert len({m["etag"] for found in modules.values() for m in found}) == sum(map(len, modules.values()))
    registry.delete_device(gateways[0], "*")
    assert registry.db.scalar("SELECT COUNT(*) FROM hub_modules WHERE device_id = ?", (gateways[0],)) == 0


def test_fleet_command_removes_what_it_generated(tmp_path):
    def fleet_command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kit.sandbox", "fleet", *args, "--state-dir", str(tmp_path)],
                              capture_output=True, text=True)

    fleet_command("--devices", "40")
    removed = json.loads(fleet_command("--remove-generated").stdout)
    assert removed["removed"] == 28 and removed["total_devices"] == 12  # the seeded fleet stays
    neither = fleet_command()
    assert neither.returncode == 2 and "--devices N or --remove-generated" in neither.stderr
