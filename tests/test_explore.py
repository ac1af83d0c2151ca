"""kit.explore: the explorer driven like a learner (set the query, press Run), fleet views and the twin inspector,
against the sandbox through the real SDK."""

from __future__ import annotations

import html
import io
import uuid
from collections.abc import Iterator

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from azure.iot.hub.models import Twin, TwinProperties

from kit import bulk, explore
from kit.explore import fleet
from kit.sandbox.hub.routes.query import INVALID_QUERY

DEVICES = 12


@pytest.fixture(scope="module")
def batch(registry) -> Iterator[str]:
    """Twelve devices tagged with a fresh batch name, deleted afterwards."""
    name = "explore-" + uuid.uuid4().hex[:6]
    ids = [f"{name}-{n:02d}" for n in range(DEVICES)]
    bulk.create_devices(registry, ids, tags={"batch": name}, chosen="text", file=io.StringIO())
    yield name
    bulk.delete_devices(registry, ids, chosen="text", file=io.StringIO())


def run(explorer: explore.QueryExplorer, query: str):
    explorer.query_box.value = query
    explorer.run_button.click()
    return explorer.frame


# --- the explorer ----------------------------------------------------------------------------------------------

def test_run_reads_every_page_and_shows_count_time_and_progress(registry, batch):
    explorer = explore.explorer(registry, page_size=5)
    frame = run(explorer, f"SELECT * FROM devices WHERE tags.batch = '{batch}'")
    assert len(frame) == DEVICES and frame.columns[0] == "deviceId"
    assert set(frame["tags.batch"]) == {batch} and frame["deviceId"].is_unique
    assert explorer.pages == 3 and explorer.elapsed_s > 0
    assert f"{DEVICES} rows" in explorer.status.value and "3 pages" in explorer.status.value
    assert f"{explorer.elapsed_s:.2f} s" in explorer.status.value
    assert "100%" in explorer.progress_text.value and f"{DEVICES}/{DEVICES}" in explorer.progress_text.value
    assert explorer.error.value == "" and f"{batch}-00" in explorer.table.html.value


def test_json_pages_give_the_same_table(registry, batch):
    query = f"SELECT * FROM devices WHERE tags.batch = '{batch}'"
    explorer = explore.explorer(registry, page_size=7)
    models = run(explorer, query)
    explorer.fast.value = True
    plain = run(explorer, query)
    assert sorted(plain["deviceId"]) == sorted(models["deviceId"])
    assert set(models.columns) == set(plain.columns)
    assert "fetch=json_page" in explorer.plain_code()


def test_bad_query_shows_the_hub_message_and_the_kits_position_not_a_traceback(registry):
    explorer = explore.explorer(registry)
    assert run(explorer, "SELECT * FROM devices WHERE tags.building = ") is None
    failure = explorer.failure
    assert failure.code == "ArgumentInvalid" and failure.status == 400
    assert failure.message == INVALID_QUERY  # the hub's generic words, as a real hub answers
    assert failure.line == 1 and failure.column is not None  # found by the kit's own parser, and labelled so
    shown = html.unescape(explorer.error.value)
    assert f"kit's help (not the hub's message): Syntax error at line 1, column {failure.column}" in shown
    caret_line = explorer.error.value.split("\n")[-1]
    assert caret_line.index("^") == failure.column - 1
    assert "Traceback" not in explorer.error.value and explorer.status.value == ""
    assert explorer.progress_text.value == "" and explorer.progress_slot.children == ()


def test_aggregate_query_has_no_total_but_still_progresses(registry, batch):
    explorer = explore.explorer(registry)
    frame = run(explorer, "SELECT tags.batch AS batch, COUNT() AS n FROM devices "
                          f"WHERE tags.batch = '{batch}' GROUP BY tags.batch")
    assert frame.to_dict("records") == [{"batch": batch, "n": DEVICES}]
    assert "1 rows" in explorer.progress_text.value or "1rows" in explorer.progress_text.value


def test_history_is_kept_for_the_session_and_refills_the_box(registry):
    first, second = explore.explorer(registry), explore.explorer(registry)
    query = f"SELECT * FROM devices WHERE deviceId = 'nobody-{uuid.uuid4().hex[:4]}'"
    assert run(first, query).empty
    assert explore.HISTORY[0] == query
    second._refresh_history()
    assert query in second.history.options[1]
    second.history.value = query
    assert second.query_box.value == query


def test_plain_code_shows_the_sdk_loop():
    code = explore.plain_code("SELECT * FROM devices", page_size=50)
    assert "twins.query_dataframe(registry, 'SELECT * FROM devices', page_size=50)" in code
    assert "registry.query_iot_hub(QuerySpecification(query='SELECT * FROM devices'), token, 50)" in code
    compile(code, "<plain code>", "exec")


def test_explorer_needs_a_registry_manager():
    with pytest.raises(TypeError, match="from_token_credential"):
        explore.explorer("myhub.azure-devices.net")


def test_count_query_only_for_select_star():
    assert explore.count_query("select * from devices where tags.a = 1") == \
        "SELECT COUNT() AS total FROM devices where tags.a = 1"
    assert explore.count_query("SELECT * FROM devices.modules") == "SELECT COUNT() AS total FROM devices.modules"
    assert explore.count_query("SELECT deviceId FROM devices") is None
    assert explore.count_query("SELECT * FROM devices.jobs") is None


# --- fleet views -----------------------------------------------------------------------------------------------

def test_counts_by_tag_and_connection_state(registry, batch):
    by_batch = fleet.counts_by_tag(registry, "batch")
    assert by_batch.columns.tolist() == ["batch", "devices"]
    assert int(by_batch.loc[by_batch["batch"] == batch, "devices"].iloc[0]) == DEVICES
    states = fleet.counts_by_connection_state(registry)
    total = registry.get_device_registry_statistics().total_device_count
    assert int(states["devices"].sum()) == total and "Disconnected" in set(states["connectionState"])
    with pytest.raises(ValueError, match="tag: 'a b'"):
        fleet.counts_by_tag(registry, "a b")


def test_telemetry_and_drift_from_desired(registry):
    device = "humidity-c-1"
    reported = registry.get_twin(device).properties.reported["temperature"]
    registry.update_twin(device, Twin(properties=TwinProperties(desired={"targetTemperature": 21.0})), "*")
    try:
        drift = fleet.drift(registry)
        row = drift[drift["deviceId"] == device].iloc[0]
        assert row["desired"] == 21.0 and row["drift"] == pytest.approx(reported - 21.0)
    finally:
        registry.update_twin(device, Twin(properties=TwinProperties(desired={"targetTemperature": None})), "*")
    spread = fleet.telemetry(registry, "temperature", "deviceType")
    assert {"thermostat", "humidity"} <= set(spread["deviceType"]) and spread["temperature"].notna().all()


def test_plots_are_figures_already_closed(registry):
    before = plt.get_fignums()
    drift = pd.DataFrame({"deviceId": ["a", "b"], "reported": [20.0, 22.5], "desired": [21.0, 21.0],
                          "drift": [-1.0, 1.5]})
    figures = [fleet.plot_counts(fleet.counts_by_tag(registry, "building")),
               fleet.plot_distribution(fleet.telemetry(registry)), fleet.plot_drift(drift)]
    assert all(figure.axes for figure in figures) and plt.get_fignums() == before


# --- twin inspector --------------------------------------------------------------------------------------------

def test_twin_tree_shows_values_with_their_update_times(registry, batch):
    device = f"{batch}-01"
    registry.update_twin(device, Twin(properties=TwinProperties(desired={"fan": {"speed": 3}})), "*")
    tree = explore.twin_tree(registry.get_twin(device))
    text = str(tree)
    assert text.splitlines()[0].startswith(f"{device}  (etag ")
    assert "│   └── batch: " in text or "└── batch: " in text
    speed_line = next(line for line in text.splitlines() if "speed: 3" in line)
    assert "(updated 20" in speed_line and ", v" in speed_line
    assert "$metadata" not in text and "<details" in tree._repr_html_()


def test_desired_against_reported_ignores_bookkeeping(registry, batch):
    device = f"{batch}-02"
    registry.update_twin(device, Twin(properties=TwinProperties(desired={"mode": "eco", "fan": {"speed": 2}})), "*")
    diff = explore.desired_vs_reported(registry.get_twin(device))
    assert diff.to_dict("records") == [
        {"key": "fan.speed", "change": "missing", "desired": 2, "reported": None},
        {"key": "mode", "change": "missing", "desired": "eco", "reported": None}]


def test_plug_and_play_acknowledgement_compares_by_value():
    twin = {"deviceId": "t", "properties": {
        "desired": {"targetTemperature": 22, "mode": "eco", "$version": 3, "$metadata": {"$lastUpdated": "x"}},
        "reported": {"targetTemperature": {"value": 22, "ac": 200, "av": 3}, "mode": "auto", "temperature": 21.4,
                     "$version": 9}}}
    diff = explore.desired_vs_reported(twin)
    assert diff[["key", "change"]].values.tolist() == [["mode", "changed"], ["temperature", "added"]]
