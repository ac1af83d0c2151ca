"""Twin queries lag twin writes (kit/sandbox/hub/limits/query_lag.py); GET /twins never lags."""

from __future__ import annotations

import time

import pytest
from azure.iot.hub.models import QuerySpecification, Twin

from kit.sandbox.hub.limits import realism
from kit.sandbox.hub.limits.query_lag import TwinHistory, lagged

LAG_S = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_queries_see_each_row_as_it_was_lag_seconds_ago():
    clock = Clock()
    history = TwinHistory(lambda: 2.0, clock)
    history.record("hub_devices", 1, "v1")  # v1 replaced by v2 at t=100
    clock.now = 101
    history.record("hub_devices", 1, "v2")  # v2 replaced by v3 at t=101
    history.record("hub_devices", 7, None)  # row 7 created at t=101
    assert history.visible("hub_devices") == {1: "v1", 7: None}
    clock.now = 102.5  # the first write is 2.5 s old: queries see v2
    assert history.visible("hub_devices") == {1: "v2", 7: None}
    rows = iter([(1, "v3"), (5, "x"), (7, "new")])
    assert list(lagged(rows, history.visible("hub_devices"), 0)) == [(1, "v2"), (5, "x")]
    clock.now = 104
    assert history.visible("hub_devices") == {}


def test_no_lag_records_nothing():
    history = TwinHistory(lambda: 0.0)
    history.record("hub_devices", 1, "v1")
    assert history.visible("hub_devices") == {}


def matching(registry, device_id: str, value: str) -> list[str]:
    query = f"SELECT deviceId FROM devices WHERE deviceId = '{device_id}' AND tags.lagTest = '{value}'"
    return [twin.device_id for twin in registry.query_iot_hub(QuerySpecification(query=query)).items]


@pytest.mark.realism
def test_a_query_right_after_a_write_misses_it_until_the_lag_passes(token_registry, state_db, new_id):
    realism.ensure(state_db, {"query_lag_seconds": LAG_S, "throttling": False})  # no shaping delay in between
    device_id = new_id("lag")
    token_registry.create_device_with_sas(device_id, None, None, "enabled")
    try:
        token_registry.update_twin(device_id, Twin(tags={"lagTest": "before"}), "*")
        time.sleep(LAG_S + 0.2)
        written = time.monotonic()
        token_registry.update_twin(device_id, Twin(tags={"lagTest": "after"}), "*")
        assert token_registry.get_twin(device_id).tags["lagTest"] == "after"  # a GET is never lagged
        assert matching(token_registry, device_id, "after") == []  # the query does not see the write yet...
        assert matching(token_registry, device_id, "before") == [device_id]  # ...it sees the twin as it was
        while not matching(token_registry, device_id, "after"):
            assert time.monotonic() - written < LAG_S + 5, "the query never caught up with the write"
            time.sleep(0.1)
        assert time.monotonic() - written >= LAG_S * 0.9
        realism.ensure(state_db, {"query_lag_seconds": 0})  # off: the next write shows at once
        token_registry.update_twin(device_id, Twin(tags={"lagTest": "now"}), "*")
        assert matching(token_registry, device_id, "now") == [device_id]
    finally:
        token_registry.delete_device(device_id)


@pytest.mark.realism
def test_new_and_deleted_devices_lag_in_queries(token_registry, state_db, new_id):
    realism.ensure(state_db, {"query_lag_seconds": LAG_S, "throttling": False})  # no shaping delay in between
    device_id = new_id("lagnew")
    query = QuerySpecification(query=f"SELECT COUNT() AS n FROM devices WHERE deviceId = '{device_id}'")

    def count() -> int:
        return token_registry.query_iot_hub(query).items[0].additional_properties["n"]

    token_registry.create_device_with_sas(device_id, None, None, "enabled")
    assert count() == 0
    time.sleep(LAG_S + 0.2)
    assert count() == 1
    token_registry.delete_device(device_id)
    assert count() == 1  # deleted, but the query still counts it for a moment
    time.sleep(LAG_S + 0.2)
    assert count() == 0
