"""kit.twins: query pages into a DataFrame through the real SDK."""

from __future__ import annotations

import pytest

from kit import clients, twins


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
