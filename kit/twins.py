"""Twin queries as pandas DataFrames: every page (continuation tokens), tags and properties as columns.

Each page is one visible SDK call, ``registry.query_iot_hub(QuerySpecification(query=...), token, page_size)``;
``query_pages`` yields the pages, ``query_dataframe`` flattens the rows: ``tags.building``,
``reported.temperature``, ``desired.targetTemperature`` (``$metadata`` dropped unless asked for). A ``progress``
callback receives ``(rows_so_far, page_number)`` after each page, e.g. to drive a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification

PAGE_SIZE = 100
Progress = Callable[[int, int], None]


def _row(item: Any) -> Any:
    """One result with the hub's key names (``deviceId``), whether the SDK made it a model (a Twin, with unknown keys
    such as ``modelId`` or an aggregate's alias in ``additional_properties``) or left it plain. Values keep the
    types the SDK gave them (``lastActivityTime`` stays a datetime)."""
    attributes = getattr(item, "_attribute_map", None)
    if attributes is None:
        return item
    row: dict[str, Any] = {}
    for name, spec in attributes.items():
        if name == "additional_properties":
            continue
        value = getattr(item, name, None)
        if value is not None:
            row[spec["key"]] = _row(value)
    row.update(getattr(item, "additional_properties", None) or {})
    return row


def flatten(row: dict[str, Any], include_metadata: bool = False) -> dict[str, Any]:
    """``{"tags": {"building": "a"}, "properties": {"reported": {"t": 1}}}`` → ``{"tags.building": "a",
    "reported.t": 1}``; other nested values become dotted columns too."""
    flat: dict[str, Any] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "$metadata" and not include_metadata:
                    continue
                walk(child, f"{prefix}.{key}" if prefix else key)
        else:
            flat[prefix] = value

    for key, value in row.items():
        if key == "properties" and isinstance(value, dict):
            for section, content in value.items():
                walk(content, section)
        else:
            walk(value, key)
    return flat


def query_pages(registry: IoTHubRegistryManager, query: str, page_size: int = PAGE_SIZE,
                progress: Progress | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yield the rows of each page of ``query`` until the hub sends no continuation token."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query: it is empty. Write e.g. SELECT * FROM devices WHERE tags.building = 'building-a'.")
    if not 1 <= page_size <= 100:
        raise ValueError(f"page_size: {page_size} is out of range; IoT Hub returns 1 to 100 rows per page.")
    token = None
    rows = pages = 0
    while True:
        result = registry.query_iot_hub(QuerySpecification(query=query), token, page_size)
        page = [_row(item) for item in result.items or []]
        rows += len(page)
        pages += 1
        if progress is not None:
            progress(rows, pages)
        yield page
        token = result.continuation_token
        if not token:
            return


def query_dataframe(registry: IoTHubRegistryManager, query: str, page_size: int = PAGE_SIZE,
                    include_metadata: bool = False, progress: Progress | None = None) -> pd.DataFrame:
    """All rows of ``query`` as a DataFrame with flattened columns (``deviceId`` first when present)."""
    records = [flatten(row, include_metadata)
               for page in query_pages(registry, query, page_size, progress) for row in page]
    frame = pd.DataFrame.from_records(records)
    if "deviceId" in frame.columns:
        frame = frame[["deviceId", *[c for c in frame.columns if c != "deviceId"]]]
    return frame
