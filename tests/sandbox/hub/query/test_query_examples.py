"""The example queries of the reference (IoT Hub query-language and query-twins/query-jobs documentation)."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.query import QueryError, parse, parse_condition


def ids(rows: list[dict]) -> list[str]:
    return [row["deviceId"] for row in rows]


def test_select_star_returns_every_twin_unchanged(run, fleet):
    rows = run("SELECT * FROM devices", fleet)
    assert rows == fleet
    assert parse("SELECT * FROM devices").item_type == "twin"


def test_count_with_alias(run, fleet):
    assert run("SELECT COUNT() as totalNumberOfDevices FROM devices", fleet) == [{"totalNumberOfDevices": 6}]


def test_count_alias_keeps_its_casing(run, fleet):
    assert run("SELECT COUNT() as TotalNumber FROM devices", fleet) == [{"TotalNumber": 6}]


def test_from_is_required():
    with pytest.raises(
        QueryError, match=r"line 1, column 30: the query ends too early; expected one of: FROM"
    ):
        parse("SELECT COUNT() as TotalNumber")


def test_where_on_a_tag(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE tags.location.region = 'US'", fleet)) == ["myDeviceId"]


def test_where_and_with_numeric_comparison(run, fleet):
    query = (
        "SELECT * FROM devices WHERE tags.location.region = 'US' "
        "AND properties.reported.telemetryConfig.sendFrequencyInSecs >= 60"
    )
    assert ids(run(query, fleet)) == ["myDeviceId"]


def test_in_matches_primitives_only(run, fleet):
    rows = run("SELECT * FROM devices WHERE properties.reported.connectivity IN ['wired', 'wifi']", fleet)
    assert ids(rows) == ["dev-eu-1", "dev-eu-2"]  # myDeviceId's connectivity is an object


def test_is_defined(run, fleet):
    rows = run("SELECT * FROM devices WHERE is_defined(properties.reported.connectivity)", fleet)
    assert ids(rows) == ["myDeviceId", "dev-eu-1", "dev-eu-2"]


def test_group_by_with_count(run, fleet):
    rows = run(
        "SELECT properties.reported.telemetryConfig.status AS status, COUNT() AS numberOfDevices "
        "FROM devices GROUP BY properties.reported.telemetryConfig.status",
        fleet,
    )
    assert sorted(rows, key=lambda row: -row["numberOfDevices"]) == [
        {"status": "Success", "numberOfDevices": 3},
        {"status": "Pending", "numberOfDevices": 2},
        {"status": "Error", "numberOfDevices": 1},
    ]


def test_system_properties_are_case_insensitive_and_returned_canonically(run, fleet):
    rows = run(
        "SELECT DeviceId, LastActivityTime FROM devices "
        "WHERE status = 'enabled' AND connectionState = 'Disconnected'",
        fleet,
    )
    assert {"deviceId": "AZ3166Device", "lastActivityTime": "2021-05-07T00:50:38.0543092Z"} in rows
    assert all(set(row) == {"deviceId", "lastActivityTime"} for row in rows)
    assert "dev-group" not in ids(rows) and "dev-asia" not in ids(rows)
    assert parse("SELECT DeviceId FROM devices").item_type == "raw"


def test_projection_of_one_system_property(run, fleet):
    rows = run("SELECT LastActivityTime FROM devices WHERE status = 'enabled'", fleet)
    assert len(rows) == 5
    assert rows[3] == {"lastActivityTime": "2021-05-07T00:50:38.0543092Z"}


def test_bracket_escaped_keyword(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE tags.[[group]].name = 'some_value'", fleet)) == ["dev-group"]


def test_property_to_property_comparison_needs_primitives(run, fleet):
    rows = run("SELECT * FROM devices WHERE properties.desired.config = properties.reported.config", fleet)
    assert ids(rows) == ["dev-group"]
    objects = run(
        "SELECT * FROM devices WHERE properties.desired.telemetryConfig = properties.desired.telemetryConfig",
        fleet,
    )
    assert objects == []


def test_module_twins(run, module_twins):
    assert run("SELECT * FROM devices.modules", module_twins) == module_twins
    assert parse("SELECT * FROM devices.modules").source == "devices.modules"


def test_module_twins_by_reported_status(run, module_twins):
    rows = run("SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning'", module_twins)
    assert [(row["deviceId"], row["moduleId"]) for row in rows] == [
        ("device1", "scanner"),
        ("device2", "scanner"),
        ("device3", "scanner"),
    ]


def test_module_twins_on_some_devices(run, module_twins):
    rows = run(
        "SELECT * FROM devices.modules WHERE properties.reported.status = 'scanning' "
        "AND deviceId IN ['device1', 'device2']",
        module_twins,
    )
    assert ids(rows) == ["device1", "device2"]


def test_device_jobs_of_one_device(run, device_jobs):
    rows = run("SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId'", device_jobs)
    assert [row["jobId"] for row in rows] == ["myJobId", "oldJob", "reboot"]
    query = parse("SELECT * FROM devices.jobs")
    assert (query.source, query.item_type, query.is_aggregate) == ("devices.jobs", "deviceJob", False)


def test_device_jobs_filtered_by_type_status_and_created_time(run, device_jobs):
    rows = run(
        "SELECT * FROM devices.jobs WHERE devices.jobs.deviceId = 'myDeviceId' "
        "AND devices.jobs.jobType = 'scheduleUpdateTwin' AND devices.jobs.status = 'completed' "
        "AND devices.jobs.createdTimeUtc > '2016-09-01'",
        device_jobs,
    )
    assert [row["jobId"] for row in rows] == ["myJobId"]


def test_device_jobs_of_one_job(run, device_jobs):
    rows = run("SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'myJobId'", device_jobs)
    assert ids(rows) == ["myDeviceId", "otherDevice"]


def test_projection_used_as_configuration_metric(run, twin_factory):
    twins = [
        twin_factory("a", reported={"chillerWaterSettings": {"status": "pending"}}),
        twin_factory("b", reported={"chillerWaterSettings": {"status": "done"}}),
    ]
    query = "SELECT deviceId FROM devices WHERE properties.reported.chillerWaterSettings.status='pending'"
    assert run(query, twins) == [{"deviceId": "a"}]


def test_iso_timestamps_compare_as_strings(run, fleet):
    rows = run(
        "SELECT deviceId, lastActivityTime FROM devices WHERE lastActivityTime >= '2021-05-07T00:00:00Z'",
        fleet,
    )
    assert rows == [{"deviceId": "AZ3166Device", "lastActivityTime": "2021-05-07T00:50:38.0543092Z"}]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("deviceId = 'dev-eu-1'", ["dev-eu-1"]),
        ("deviceId IN ['dev-eu-1','dev-eu-2']", ["dev-eu-1", "dev-eu-2"]),
    ],
)
def test_job_query_conditions(fleet, condition, expected):
    parsed = parse_condition(condition)
    assert [twin["deviceId"] for twin in fleet if parsed.matches(twin)] == expected
    assert not parsed.selects_all


def test_job_query_condition_star_selects_every_device(fleet):
    parsed = parse_condition("*")
    assert parsed.selects_all
    assert all(parsed.matches(twin) for twin in fleet)
    assert parsed.sql_prefilter("twin") is None


def test_root_identity_property(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE status = 'disabled'", fleet)) == ["dev-asia"]


def test_dollar_version_without_brackets(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE properties.desired.$version > 3", fleet)) == ["myDeviceId"]


def test_not_is_defined(run, fleet):
    rows = run("SELECT * FROM devices WHERE NOT is_defined(tags.location)", fleet)
    assert ids(rows) == ["AZ3166Device", "dev-group"]


def test_double_quoted_string(run, fleet):
    assert ids(run('SELECT * FROM devices WHERE tags.location.region = "US"', fleet)) == ["myDeviceId"]


def test_arithmetic_in_where(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE properties.reported.batteryLevel % 2 = 1", fleet)) == [
        "myDeviceId",
        "dev-eu-2",
    ]


def test_hex_literal(run, fleet):
    query = "SELECT * FROM devices WHERE properties.reported.telemetryConfig.sendFrequencyInSecs = 0x12C"
    assert ids(run(query, fleet)) == ["myDeviceId"]


def test_aggregates_without_group_by(run, fleet):
    rows = run(
        "SELECT AVG(properties.reported.batteryLevel) AS avgBattery, "
        "MAX(properties.reported.batteryLevel) AS maxBattery FROM devices",
        fleet,
    )
    assert rows == [{"avgBattery": (55 + 40 + 71 + 12) / 4, "maxBattery": 71}]


def test_nin_excludes_missing_properties(run, fleet):
    assert ids(run("SELECT * FROM devices WHERE tags.location.region NIN ['US','EU']", fleet)) == ["dev-asia"]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT deviceId FROM devices.jobs",
        "SELECT COUNT() AS n FROM devices.jobs",
    ],
)
def test_devices_jobs_accepts_only_select_star(query):
    with pytest.raises(QueryError, match="line 1, column 8: a devices.jobs query supports only SELECT"):
        parse(query)
