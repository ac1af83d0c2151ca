"""POST /devices/query through the real SDK: the reference's example queries, paging, TOP, aggregates, errors.

Each test works on its own devices (a unique ``tags.suite``), so the shared sandbox's other devices do not count.
Reported properties are written through the registry, as the device simulator writes them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.iot.hub.models import ExportImportDevice, QuerySpecification
from msrest.exceptions import HttpOperationError

from kit.sandbox.db import Database
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.routes.query import INVALID_QUERY
from tests.sandbox.hub.conftest import error_code

# The documentation's twin plus devices that make each example selective: (id, tags, desired, reported).
DOC_FLEET = [
    ("myDeviceId", {"location": {"region": "US", "plant": "Redmond43"}}, {"config": 1},
     {"connectivity": {"type": "cellular"}, "telemetryConfig": {"sendFrequencyInSecs": 300, "status": "Success"},
      "config": 1, "batteryLevel": 55}),
    ("eu-1", {"location": {"region": "EU"}, "group": {"name": "some_value"}}, {"config": 2},
     {"connectivity": "wifi", "telemetryConfig": {"sendFrequencyInSecs": 30, "status": "Pending"}, "config": 3,
      "batteryLevel": 20}),
    ("us-2", {"location": {"region": "US"}}, {},
     {"connectivity": "wired", "telemetryConfig": {"sendFrequencyInSecs": 30, "status": "Pending"},
      "batteryLevel": 81}),
    ("asia-1", {"location": {"region": "ASIA"}}, {},
     {"telemetryConfig": {"sendFrequencyInSecs": 0x12C, "status": "Error"}, "batteryLevel": 41}),
    ("plain", {}, {}, {}),
]


@pytest.fixture(scope="module")
def suite(sandbox, sas_registry):
    """Load the example fleet under a unique suite tag; yield (suite, id prefix)."""
    name = uuid.uuid4().hex[:8]
    prefix = f"q{name}-"
    sas_registry.bulk_create_or_update_devices([
        ExportImportDevice(id=prefix + device_id, import_mode="create", tags={**tags, "suite": name},
                           properties={"desired": desired} if desired else None)
        for device_id, tags, desired, _ in DOC_FLEET
    ])
    db = Database.in_state_dir(Path(sandbox.state_dir))
    registry = Registry(db)
    for device_id, _, _, reported in DOC_FLEET:
        if reported:
            registry.update_reported(prefix + device_id, reported)
    registry.put_module(prefix + "myDeviceId", "scanner", {}, None)
    registry.update_reported(prefix + "myDeviceId", {"status": "scanning"}, module_id="scanner")
    registry.put_module(prefix + "eu-1", "scanner", {}, None)
    db.close()
    yield name, prefix
    sas_registry.bulk_create_or_update_devices([
        ExportImportDevice(id=prefix + device_id, import_mode="delete") for device_id, *_ in DOC_FLEET])


def run(registry, query: str, page_size: int | None = None):
    result = registry.query_iot_hub(QuerySpecification(query=query), None, page_size)
    return result


def ids(result, prefix: str) -> set[str]:
    return {item.device_id.removeprefix(prefix) for item in result.items}


EXAMPLES = [
    ("SELECT * FROM devices WHERE tags.suite = '{s}'", {"myDeviceId", "eu-1", "us-2", "asia-1", "plain"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND tags.location.region = 'US'", {"myDeviceId", "us-2"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND tags.location.region = 'US' AND "
     "properties.reported.telemetryConfig.sendFrequencyInSecs >= 60", {"myDeviceId"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND properties.reported.connectivity IN ['wired', 'wifi']",
     {"eu-1", "us-2"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND is_defined(properties.reported.connectivity)",
     {"myDeviceId", "eu-1", "us-2"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND tags.[[group]].name = 'some_value'", {"eu-1"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND properties.desired.config = properties.reported.config",
     {"myDeviceId"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND NOT is_defined(tags.location)", {"plain"}),
    ('SELECT * FROM devices WHERE tags.suite = "{s}" AND tags.location.region = "US"', {"myDeviceId", "us-2"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND properties.reported.batteryLevel % 2 = 1",
     {"myDeviceId", "us-2", "asia-1"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND "
     "properties.reported.telemetryConfig.sendFrequencyInSecs = 0x12C", {"myDeviceId", "asia-1"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND tags.location.region NIN ['US', 'EU']", {"asia-1"}),
    ("SELECT * FROM devices WHERE tags.suite = '{s}' AND status = 'enabled'",
     {"myDeviceId", "eu-1", "us-2", "asia-1", "plain"}),
]


@pytest.mark.parametrize("query, expected", EXAMPLES)
def test_reference_examples(registry, suite, query, expected):
    name, prefix = suite
    result = run(registry, query.format(s=name))
    assert result.type == "twin" and ids(result, prefix) == expected


def test_counts_group_by_and_projections(registry, suite):
    name, prefix = suite
    count = run(registry, f"SELECT COUNT() AS TotalNumber FROM devices WHERE tags.suite = '{name}'")
    assert [item.additional_properties for item in count.items] == [{"TotalNumber": 5}]
    grouped = run(registry, "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices "
                            f"FROM devices WHERE tags.suite = '{name}' "
                            "GROUP BY properties.reported.telemetryConfig.status")
    rows = {item.status: item.additional_properties["numberOfDevices"] for item in grouped.items}  # a Twin field
    assert rows == {"Success": 1, "Pending": 2, "Error": 1, None: 1} and grouped.type == "raw"
    averaged = run(registry, "SELECT AVG(properties.reported.batteryLevel) AS avgBattery, "
                             "MAX(properties.reported.batteryLevel) AS maxBattery "
                             f"FROM devices WHERE tags.suite = '{name}'")
    assert averaged.items[0].additional_properties == {"avgBattery": 49.25, "maxBattery": 81}
    projected = run(registry, f"SELECT DeviceId, LastActivityTime FROM devices WHERE tags.suite = '{name}' "
                              "AND status = 'enabled' AND connectionState = 'Disconnected'")
    assert {item.device_id for item in projected.items} == {prefix + d for d, *_ in DOC_FLEET}
    assert projected.items[0].last_activity_time is not None


def test_module_twins(registry, suite):
    name, prefix = suite
    scanning = run(registry, "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' "
                             f"AND deviceId IN ['{prefix}myDeviceId', '{prefix}eu-1']")
    assert [(item.device_id, item.module_id) for item in scanning.items] == [(prefix + "myDeviceId", "scanner")]
    both = run(registry, f"SELECT * FROM devices.modules WHERE deviceId IN ['{prefix}myDeviceId', '{prefix}eu-1']")
    assert len(both.items) == 2


def test_paging_with_continuation_tokens(registry, suite):
    name, prefix = suite
    query = QuerySpecification(query=f"SELECT * FROM devices WHERE tags.suite = '{name}'")
    seen, pages, token = [], 0, None
    while True:
        page = registry.query_iot_hub(query, token, 2)
        pages += 1
        assert len(page.items) <= 2
        seen += [item.device_id for item in page.items]
        token = page.continuation_token
        if not token:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 5


def test_top_limits_rows_across_pages(registry, suite):
    name, _ = suite
    query = QuerySpecification(query=f"SELECT TOP 3 * FROM devices WHERE tags.suite = '{name}'")
    first = registry.query_iot_hub(query, None, 2)
    second = registry.query_iot_hub(query, first.continuation_token, 2)
    assert len(first.items) == 2 and len(second.items) == 1 and second.continuation_token is None


def test_aggregate_result_is_paged(registry, suite):
    name, _ = suite
    query = QuerySpecification(query=f"SELECT deviceId, COUNT() AS n FROM devices WHERE tags.suite = '{name}' "
                                     "GROUP BY deviceId")
    first = registry.query_iot_hub(query, None, 3)
    second = registry.query_iot_hub(query, first.continuation_token, 3)
    assert len(first.items) == 3 and len(second.items) == 2 and second.continuation_token is None


def test_query_errors(hub):
    bad = hub.call("POST", "/devices/query", {"query": "SELECT * FRM devices"})
    assert bad.status_code == 400 and error_code(bad) == "ArgumentInvalid"
    assert bad.json()["Message"] == f"ErrorCode:ArgumentInvalid;{INVALID_QUERY}"  # the hub's words, no position
    long = hub.call("POST", "/devices/query", {"query": "SELECT * FROM devices WHERE " + "a" * 8200 + " = 1"})
    assert long.status_code == 400 and long.json()["Message"] == f"ErrorCode:ArgumentInvalid;{INVALID_QUERY}"
    empty = hub.call("POST", "/devices/query", {})
    assert empty.status_code == 400
    token = hub.call("POST", "/devices/query", {"query": "SELECT * FROM devices"}, {"x-ms-continuation": "junk!"})
    assert token.status_code == 400 and "continuation" in token.json()["Message"]
    size = hub.call("POST", "/devices/query", {"query": "SELECT * FROM devices"}, {"x-ms-max-item-count": "0"})
    assert size.status_code == 400


def test_page_size_capped_at_100_and_item_type_header(hub):
    response = hub.call("POST", "/devices/query", {"query": "SELECT * FROM devices"}, {"x-ms-max-item-count": "500"})
    assert response.status_code == 200 and len(response.json()) <= 100
    assert response.headers["x-ms-item-type"] == "twin"


def test_continuation_header_only_while_rows_remain(hub, suite):
    name, _ = suite
    body, token, headers = {"query": f"SELECT * FROM devices WHERE tags.suite = '{name}'"}, None, []
    while True:
        page = hub.call("POST", "/devices/query", body,
                        {"x-ms-max-item-count": "2", **({"x-ms-continuation": token} if token else {})},
                        authorization="bearer")
        assert page.status_code == 200 and page.headers["x-ms-item-type"] == "twin"
        headers.append(page.headers)
        if (token := page.headers.get("x-ms-continuation")) is None:
            break
    assert len(headers) == 3 and all(h["x-ms-continuation"] for h in headers[:2])
    count = hub.call("POST", "/devices/query", {"query": "SELECT COUNT() AS n FROM devices"}, authorization="bearer")
    assert count.headers["x-ms-item-type"] == "raw" and "x-ms-continuation" not in count.headers


def test_sdk_error_for_bad_query(registry):
    with pytest.raises(HttpOperationError) as caught:
        run(registry, "SELECT * FROM nowhere")
    assert caught.value.response.status_code == 400
