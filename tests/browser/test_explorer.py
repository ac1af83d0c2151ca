"""The query explorer (kit.explore) in JupyterLab: a query shows its row count and a table; a refused query shows
the hub's error, with a caret, under the box."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

from kit import bulk, clients, credentials
from kit.sandbox.connection import Connection
from kit.settings import Settings

pytestmark = pytest.mark.browser

DEVICES = 7  # with the notebook's page size of 5: two pages


@pytest.fixture
def batch(sandbox: Connection) -> Iterator[str]:
    """Devices tagged with a fresh batch name, made through the SDK, deleted afterwards."""
    name = "browser-" + uuid.uuid4().hex[:6]
    ids = [f"{name}-{n}" for n in range(DEVICES)]
    credential = credentials.build(Settings.from_sandbox(sandbox))
    with clients.closing(clients.registry_manager(sandbox.hub_host, credential)) as registry:
        bulk.create_devices(registry, ids, tags={"batch": name}, chosen="text", file=io.StringIO())
        yield name
        bulk.delete_devices(registry, ids, chosen="text", file=io.StringIO())


def test_explorer_shows_rows_and_the_hubs_error(lab, batch: str) -> None:
    lab.open("fixtures/query_explorer.ipynb")
    lab.run_all()
    cell = lab.cell("kit.explore.explorer(registry")
    query_box = lab.expect_widget(cell, ".widget-textarea textarea")
    explorer = cell.locator(".jp-OutputArea")
    lab.shot("explorer", explorer)

    run = explorer.get_by_role("button", name="Run query")
    query_box.fill(f"SELECT * FROM devices WHERE tags.batch = '{batch}'")
    run.click()
    explorer.get_by_text(f"{DEVICES} rows").wait_for()
    assert "2 pages" in explorer.inner_text()
    table = explorer.locator("table.dataframe")
    assert table.locator("tbody tr").count() == DEVICES
    assert f"{batch}-0" in table.inner_text()
    lab.shot("rows", table)

    query_box.fill("SELECT * FROM devices WHERE tags.batch = ")
    run.click()
    error = explorer.locator("pre", has_text="ArgumentInvalid")
    error.wait_for()
    assert error.inner_text().rstrip().endswith("^"), "the caret under the position the hub names"
    assert not table.is_visible(), "the previous table is cleared"
    box_bottom = query_box.bounding_box()
    assert error.bounding_box()["y"] > box_bottom["y"] + box_bottom["height"], "the error shows under the box"
    lab.shot("refused", error)
