"""Twin queries as pandas DataFrames: every page (continuation tokens), tags and properties as columns.

Each page is one visible SDK call, ``registry.query_iot_hub(QuerySpecification(query=...), token, page_size)``;
``query_pages`` yields the pages, ``query_dataframe`` flattens the rows: ``tags.building``,
``reported.temperature``, ``desired.targetTemperature`` (``$metadata`` dropped unless asked for). A ``progress``
callback receives ``(rows_so_far, page_number)`` after each page, e.g. to drive a progress bar. ``fetch`` reads one
page; the default is the SDK call above, and another reader (same request, other decoding) can take its place.
While paging, the client's HTTPS connection is kept open (``with registry.protocol:``, msrest's keep-alive): without
it msrest opens a new TLS connection for every page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pandas as pd
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification

PAGE_SIZE = 100
Progress = Callable[[int, int], None]
Fetch = Callable[[IoTHubRegistryManager, str, "str | None", int], "tuple[list[Any], str | None]"]


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


def as_dict(item: Any) -> Any:
    """A twin or query result from the SDK as plain dicts with the hub's key names (``deviceId``, ``$metadata``)."""
    return _row(item)


def sdk_page(registry: IoTHubRegistryManager, query: str, token: str | None,
             page_size: int) -> tuple[list[Any], str | None]:
    """One page through the SDK: its rows and the continuation token (None on the last page)."""
    result = registry.query_iot_hub(QuerySpecification(query=query), token, page_size)
    return [_row(item) for item in result.items or []], result.continuation_token


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
                progress: Progress | None = None, fetch: Fetch = sdk_page) -> Iterator[list[dict[str, Any]]]:
    """Yield the rows of each page of ``query`` until the hub sends no continuation token."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query: it is empty. Write e.g. SELECT * FROM devices WHERE tags.building = 'building-a'.")
    if not 1 <= page_size <= 100:
        raise ValueError(f"page_size: {page_size} is out of range; IoT Hub returns 1 to 100 rows per page.")
    token = None
    rows = pages = 0
    with ExitStack() as stack:
        if not registry.protocol.config.keep_alive:
            stack.enter_context(registry.protocol)
        while True:
            page, token = fetch(registry, query, token, page_size)
            rows += len(page)
            pages += 1
            if progress is not None:
                progress(rows, pages)
            yield page
            if not token:
                return


def query_dataframe(registry: IoTHubRegistryManager, query: str, page_size: int = PAGE_SIZE,
                    include_metadata: bool = False, progress: Progress | None = None,
                    fetch: Fetch = sdk_page) -> pd.DataFrame:
    """All rows of ``query`` as a DataFrame with flattened columns (``deviceId`` first when present)."""
    records = [flatten(row, include_metadata)
               for page in query_pages(registry, query, page_size, progress, fetch) for row in page]
    frame = pd.DataFrame.from_records(records)
    if "deviceId" in frame.columns:
        frame = frame[["deviceId", *[c for c in frame.columns if c != "deviceId"]]]
    return frame
