"""Twin queries as pandas DataFrames: every page (continuation tokens), tags and properties as columns.

Each page is one visible SDK call, ``registry.query_iot_hub(QuerySpecification(query=...), token, page_size)``;
``query_pages`` yields the pages, ``query_dataframe`` flattens the rows: ``tags.building``,
``reported.temperature``, ``desired.targetTemperature`` (``$metadata`` dropped unless asked for). A ``progress``
callback receives ``(rows_so_far, page_number)`` after each page, e.g. to drive a progress bar. ``fetch`` reads one
page; the default is the SDK call above, and another reader (same request, other decoding) can take its place.
While paging, the client's HTTPS connection is kept open (``with registry.protocol:``, msrest's keep-alive): without
it msrest opens a new TLS connection for every page.

``wait_for_query`` polls a query until its result shows a recent write (queries lag writes); ``query_help`` names the
line and column of a query the hub refuses, which the hub's own message does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pandas as pd
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification

from kit import retry

__all__ = [
    "PAGE_SIZE", "Progress", "as_dict", "flatten", "query_dataframe", "query_help", "sdk_page", "wait_for_query"
]

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


def wait_for_query(registry: IoTHubRegistryManager, query: str, until: Callable[[pd.DataFrame], bool],
                   timeout_s: float = 60.0, poll_s: float = 1.0, **options: Any) -> pd.DataFrame:
    """Run ``query`` until ``until(frame)`` holds, and return that frame.

    Twin queries are eventually consistent: "query results are eventually consistent operations and delays of up to
    30 minutes should be tolerated" (query-twins.md), so a query right after a twin write may not show it yet, on
    Azure as on the sandbox (whose lag is ``python -m kit.sandbox realism --query-lag``). A throttled query (429) is
    retried as :mod:`kit.retry` does. Raises TimeoutError naming the query when it never holds.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        frame = retry.call(lambda: query_dataframe(registry, query, **options))
        if until(frame):
            return frame
        if time.monotonic() >= deadline:
            raise TimeoutError(f"query: still not as expected after {timeout_s:g} s: {query}. Twin queries lag "
                               "writes; wait longer (timeout_s) or check the write with registry.get_twin.")
        time.sleep(poll_s)


def query_help(query: str) -> str | None:
    """Where ``query`` goes wrong, found by the kit itself (the hub answers only "The query is invalid...").

    The kit parses the query with its own copy of IoT Hub's query grammar (the sandbox's), so it can name the line
    and column. It is the kit's help, not the hub's word: None means the kit found nothing wrong, not that the hub will
    accept the query.
    """
    from kit.sandbox.hub.query import QueryError, parse

    try:
        parse(query)
    except QueryError as error:
        return f"kit's help (not the hub's message): {error.message}"
    return None
