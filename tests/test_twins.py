"""kit.twins: query pages into a DataFrame through the real SDK."""

from __future__ import annotations

import uuid

import pytest
from azure.iot.hub.models import QuerySpecification
from msrest.exceptions import HttpOperationError

from kit import clients, twins
from kit.sandbox.hub.limits import realism


@pytest.fixture(scope="module")
def registry(sandbox):
    with clients.closing(clients.from_connection_string("registry", sandbox.hub_connection_string)) as rm:
        yield rm


def test_flatten():
    row = {"deviceId": "d", "tags": {"building": "a", "floor": {"n": 1}},
           "properties": {"reported": {"t": 1, "$metadata": {"$lastUpdated": "x"}, "$version": 2}}}
    assert twins.flatten(row) == {"deviceId": "d", "tags.building": "a", "tags.floor.n": 1, "reported.t": 1,
                                  "reported.$version": 2}
    assert "reported.$metadata.$lastUpdated" in twins.flatten(row, include_metadata=True)


def test_dataframe_reads_every_page(registry):
    pages: list[tuple[int, int]] = []
    frame = twins.query_dataframe(registry, "SELECT * FROM devices WHERE tags.building = 'building-a'",
                                  page_size=3, progress=lambda rows, page: pages.append((rows, page)))
    assert set(frame["deviceId"]) == {"thermostat-a-1", "thermostat-a-2", "humidity-a-1", "light-a-1"}
    assert frame.columns[0] == "deviceId"
    assert {"tags.building", "tags.floor", "reported.temperature", "modelId"} <= set(frame.columns)
    assert not any("$metadata" in column for column in frame.columns)
    assert pages == [(3, 1), (4, 2)]


def test_dataframe_of_an_aggregate(registry):
    frame = twins.query_dataframe(registry, "SELECT tags.deviceType AS kind, COUNT() AS n FROM devices "
                                            "WHERE tags.building = 'building-b' GROUP BY tags.deviceType")
    assert dict(zip(frame["kind"], frame["n"])) == {"thermostat": 2, "humidity": 1, "light": 1}


def test_bad_arguments(registry):
    with pytest.raises(ValueError, match="query"):
        twins.query_dataframe(registry, " ")
    with pytest.raises(ValueError, match="page_size"):
        twins.query_dataframe(registry, "SELECT * FROM devices", page_size=500)


@pytest.mark.parametrize(("query", "found"), [
    ("SELECT * FROM devices WHERE tags.building = ", "line 1, column"),
    ("SELECT *\nFROM devices\nWHERE tags.floor = = 3", "line 3, column"),
    ("SELECT * FROM devices WHERE " + "a" * 8200 + " = 1", "8192"),
])
def test_query_help_names_where_a_refused_query_goes_wrong(registry, query, found):
    with pytest.raises(HttpOperationError) as refused:
        registry.query_iot_hub(QuerySpecification(query=query))
    assert "The query is invalid" in refused.value.response.text and found not in refused.value.response.text
    help_text = twins.query_help(query)
    assert help_text.startswith("kit's help (not the hub's message):") and found in help_text


def test_query_help_finds_nothing_in_a_good_query():
    assert twins.query_help("SELECT COUNT() AS n FROM devices WHERE tags.floor = 3") is None


@pytest.mark.realism
def test_wait_for_query_polls_until_a_write_shows(registry, state_db):
    realism.ensure(state_db, {"query_lag_seconds": 1.0, "throttling": False})  # no shaping delay in between
    device_id = f"wait-{uuid.uuid4().hex[:8]}"
    registry.create_device_with_sas(device_id, None, None, "enabled")
    try:
        query = f"SELECT deviceId FROM devices WHERE deviceId = '{device_id}'"
        assert twins.query_dataframe(registry, query).empty  # created a moment ago: not in queries yet
        frame = twins.wait_for_query(registry, query, until=lambda rows: len(rows) == 1, poll_s=0.2)
        assert frame["deviceId"].tolist() == [device_id]
        with pytest.raises(TimeoutError, match="lag"):
            twins.wait_for_query(registry, query, until=lambda rows: rows.empty, timeout_s=0.5, poll_s=0.2)
    finally:
        registry.delete_device(device_id)
