"""Operation throttles (kit/sandbox/hub/limits/throttling.py): the documented rates per tier and unit, traffic shaping,
then 429 ThrottlingException, through the real SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import ExportImportDevice, QuerySpecification
from msrest.exceptions import HttpOperationError

from kit import retry
from kit.bulk import new_device
from kit.sandbox.db import Database
from kit.sandbox.hub.limits import realism, throttling
from kit.sandbox.hub.transport.errors import HubError
from tests.sandbox.hub.conftest import error_code


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("tier", "units", "operation", "per_minute"), [
    ("S1", 1, throttling.REGISTRY, 100), ("S1", 3, throttling.REGISTRY, 300), ("S3", 2, throttling.REGISTRY, 10_000),
    ("F1", 1, throttling.QUERIES, 20), ("S3", 1, throttling.QUERIES, 1000),
    ("S1", 5, throttling.TWIN_READS, 6000), ("S2", 5, throttling.TWIN_READS, 6000), ("S2", 20, throttling.TWIN_READS,
                                                                                     12_000),
    ("S2", 20, throttling.TWIN_UPDATES, 6000), ("S3", 1, throttling.CONFIGURATIONS, 20),
    ("S1", 1, throttling.C2D_SENDS, 100), ("S1", 1, throttling.METHODS, 2400),
])
def test_documented_rates_per_tier_and_unit(tier, units, operation, per_minute):
    assert throttling.RATES[tier][operation].for_units(units) * 60 == pytest.approx(per_minute)


def test_a_minute_of_quota_then_shaping_then_refusal():
    clock = Clock()
    bucket = throttling.Bucket(100 / 60, clock)
    assert bucket.reserve(100) == 0  # a burst of one minute's quota runs at once
    shaped = bucket.reserve(1)
    assert 0 < shaped <= throttling.SHAPING_WINDOW_S  # a little over: queued, answered late
    assert bucket.reserve(50) < 0  # far over: the queue is full, refused
    clock.now += 60
    assert bucket.reserve(50) == 0  # a minute later the quota is back


def test_costs_of_bulk_and_methods():
    assert throttling.bulk_cost(b'[{"id":"a"},{"id":"b"}]') == 2
    assert throttling.bulk_cost(b"not json") == 1
    assert throttling.method_cost(b"x" * 4096) == 1 and throttling.method_cost(b"x" * 4097) == 2


def bulk(registry: IoTHubRegistryManager, ids: list[str], mode: str = "create"):
    entries = [new_device(i) for i in ids] if mode == "create" else [
        ExportImportDevice(id=i, import_mode="delete") for i in ids]
    return registry.bulk_create_or_update_devices(entries)


@pytest.mark.realism
def test_third_50_device_bulk_request_in_a_minute_is_throttled_on_s1(token_registry, state_db, s1_one_unit, new_id):
    """quotas-throttling: an S1 hub with one unit accepts two 50-device bulk requests a minute; the third is refused."""
    batches = [[new_id(f"bulk{n}") for _ in range(50)] for n in range(3)]
    try:
        assert bulk(token_registry, batches[0]).is_successful
        assert bulk(token_registry, batches[1]).is_successful
        with pytest.raises(HttpOperationError) as refused:
            bulk(token_registry, batches[2])
        response = refused.value.response
        assert response.status_code == 429 and error_code(response) == "ThrottlingException"
        assert response.json()["Message"].startswith("ErrorCode:ThrottlingException;The request has been throttled.")
        assert retry.is_throttled(refused.value) and 20 <= retry.suggested_wait(refused.value) <= 60
        assert token_registry.get_device_registry_statistics().total_device_count > 0  # other classes still work
        realism.ensure(state_db, {"throttling": False})  # applies to the running hub at once
        assert bulk(token_registry, batches[2]).is_successful
    finally:
        realism.ensure(state_db, {"throttling": False})
        for ids in batches:
            bulk(token_registry, ids, "delete")


@pytest.mark.realism
def test_traffic_shaping_delays_a_little_then_refuses(token_registry, s1_one_unit):
    """Queries on S1 with one unit: 20 a minute. Beyond that a request waits its turn in the hub's queue; when two
    arrive together, the second would wait longer than the queue holds and is refused."""
    spec = QuerySpecification(query="SELECT COUNT() AS n FROM devices")
    for _ in range(20):
        token_registry.query_iot_hub(spec)

    def timed() -> tuple[str, float]:
        started = time.monotonic()
        try:
            token_registry.query_iot_hub(spec)
            return "ok", time.monotonic() - started
        except HttpOperationError as error:
            return str(error.response.status_code), time.monotonic() - started

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: timed(), range(2)))
    (refused, _), (answered, waited) = outcomes
    assert (refused, answered) == ("429", "ok") and waited >= 1.5  # one queued and answered late, one refused
    waits: list[float] = []
    with ThreadPoolExecutor(2) as pool:  # the same burst through kit.retry: both succeed, one after waiting
        results = list(pool.map(lambda _: retry.call(lambda: token_registry.query_iot_hub(spec),
                                                     on_wait=lambda seconds, error: waits.append(seconds)), range(2)))
    assert all(result.items for result in results) and waits and min(waits) >= 1


def test_cloud_to_device_sends_wait_then_are_refused(tmp_path):
    """The AMQP listener admits each send through ``admit_blocking``: S1 with one unit takes 100 a minute, then
    queues briefly, then refuses (the AMQP link reports the 429)."""
    db = Database.in_state_dir(tmp_path)
    try:
        ctx = SimpleNamespace(realism=realism.Live(db), throttle=throttling.Throttle(), db=db)
        for _ in range(100):
            throttling.admit_blocking(ctx, throttling.C2D_SENDS)
        started = time.monotonic()
        throttling.admit_blocking(ctx, throttling.C2D_SENDS)  # waits for its share of the rate, about 0.6 s
        assert time.monotonic() - started >= 0.4
        with pytest.raises(HubError) as refused:
            throttling.admit_blocking(ctx, throttling.C2D_SENDS, cost=10)
        assert (refused.value.status, refused.value.code) == (429, "ThrottlingException")
        assert "cloud-to-device sends, limited to 100 per minute" in refused.value.message
    finally:
        db.close()
