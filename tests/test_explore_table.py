"""kit.explore.table: a result of hundreds of rows is sorted, filtered and paged through its own widgets."""

from __future__ import annotations

import pandas as pd
import pytest

from kit.explore.table import QUERY_ORDER, FrameTable


@pytest.fixture
def fleet() -> pd.DataFrame:
    """250 twins as a query returns them: ids, a building tag, a temperature that is missing on every tenth."""
    return pd.DataFrame({
        "deviceId": [f"sim-{n:04d}" for n in range(250)],
        "tags.building": [f"building-{'abc'[n % 3]}" for n in range(250)],
        "reported.temperature": [None if n % 10 == 0 else 20 + (n * 7 % 50) / 10 for n in range(250)],
    })


def rows_shown(table: FrameTable) -> int:
    body = table.html.value.split("<tbody>", 1)[-1]
    return body.count("<tr")


def test_a_large_result_is_paged(fleet) -> None:
    table = FrameTable(page_size=100)
    table.show(fleet)
    assert rows_shown(table) == 100 and table.position.value == "rows 1-100 of 250"
    assert table.controls.layout.display == "flex" and table.previous_button.disabled
    table.next_button.click()
    table.next_button.click()
    assert rows_shown(table) == 50 and table.position.value == "rows 201-250 of 250"
    assert "sim-0249" in table.html.value and table.next_button.disabled
    table.next_button.click()  # past the last page: stays there
    assert table.page == 2


def test_sort_by_a_column_missing_values_last(fleet) -> None:
    table = FrameTable(page_size=100)
    table.show(fleet)
    table.next_button.click()
    table.sort_by.value, table.descending.value = "reported.temperature", True
    assert table.page == 0, "a new order starts on the first page"
    temperatures = table.view["reported.temperature"]
    assert temperatures.iloc[0] == fleet["reported.temperature"].max()
    assert temperatures.iloc[-25:].isna().all() and temperatures.dropna().is_monotonic_decreasing
    table.sort_by.value = QUERY_ORDER
    assert list(table.view["deviceId"]) == list(fleet["deviceId"])


def test_filter_keeps_rows_that_contain_the_text(fleet) -> None:
    table = FrameTable(page_size=20)
    table.show(fleet)
    table.filter_box.value = "BUILDING-B"
    assert set(table.view["tags.building"]) == {"building-b"} and len(table.view) == 83
    assert table.position.value == "rows 1-20 of 83 (filtered from 250)"
    table.filter_box.value = "no such text"
    assert table.view.empty and table.position.value == "no rows of 250 match" and table.next_button.disabled


def test_a_small_result_needs_no_controls_and_clear_leaves_nothing(fleet) -> None:
    table = FrameTable(page_size=20)
    table.show(fleet.head(7))
    assert rows_shown(table) == 7 and table.controls.layout.display == "none"
    table.clear()
    assert table.html.value == "" and table.view.empty
    with pytest.raises(ValueError, match="page_size"):
        FrameTable(page_size=0)
