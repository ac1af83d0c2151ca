"""How the explorer reads a query: a faster page reader, a row count for the progress bar, and the hub's own words
when a query fails.

:func:`json_page` sends the very request ``registry.query_iot_hub`` sends (``POST /devices/query`` through the
client's own msrest pipeline: same credential, same headers, same continuation tokens) and decodes the JSON itself.
The SDK turns every twin into ``Twin`` models first, which costs about half a millisecond per twin: most of the time
of reading 100,000 twins (measured by ``benchmarks/bench_explorer.py``). Times stay ISO strings in this mode.
"""

from __future__ import annotations

import json
import re
from typing import Any

from azure.iot.hub import IoTHubRegistryManager
from msrest.exceptions import HttpOperationError

from kit.explain import explain
from kit.twins import query_help

_SELECT_ALL = re.compile(r"^\s*SELECT\s+\*\s+FROM\s+(devices(?:\.modules)?)\b(\s+WHERE\s.*)?$",
                         re.IGNORECASE | re.DOTALL)
_HUB_MESSAGE = re.compile(r"^ErrorCode:(\w+);(.*)$", re.DOTALL)
_POSITION = re.compile(r"line (\d+), column (\d+)")


def _without_nulls(value: Any) -> Any:
    """Drop null values, as the SDK's models do (``statusReason: null`` is no column)."""
    if isinstance(value, dict):
        return {key: _without_nulls(child) for key, child in value.items() if child is not None}
    return value


def json_page(registry: IoTHubRegistryManager, query: str, token: str | None,
              page_size: int) -> tuple[list[Any], str | None]:
    """One page of ``query`` as plain JSON rows, and the continuation token (a ``fetch`` for kit.twins)."""
    operations = registry.protocol.query
    headers = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8",
               "x-ms-max-item-count": str(page_size)}
    if token:
        headers["x-ms-continuation"] = token
    request = operations._client.post(operations.get_twins.metadata["url"],
                                      {"api-version": operations.api_version}, headers, {"query": query})
    response = operations._client.send(request, stream=False)
    if response.status_code != 200:
        raise HttpOperationError(operations._deserialize, response)
    return [_without_nulls(item) for item in response.json()], response.headers.get("x-ms-continuation")


def count_query(query: str) -> str | None:
    """``SELECT COUNT() AS total FROM <same source and WHERE>`` for a ``SELECT *`` query (None for any other)."""
    match = _SELECT_ALL.match(query)
    if not match:
        return None
    return f"SELECT COUNT() AS total FROM {match.group(1)}{match.group(2) or ''}"


class QueryFailure:
    """A failed request, as the hub worded it: ``code`` (ArgumentInvalid), ``status`` (400), ``message`` ("The query
    is invalid..."), ``help``: for a refused query, the kit's own reading of it (``kit.twins.query_help``: "Syntax
    error at line 1, column 23: ...", labelled as the kit's), the ``line``/``column`` from the hub or that help, and a
    ``fix`` from kit.explain for errors that are not about the query text."""

    def __init__(self, error: BaseException, query: str | None = None) -> None:
        self.error_type = type(error).__name__
        response = getattr(error, "response", None)
        self.status: int | None = getattr(response, "status_code", None)
        self.code = getattr(response, "headers", {}).get("iothub-errorcode", "") if response is not None else ""
        self.message = str(error).strip().splitlines()[0] if str(error).strip() else self.error_type
        body = _body_message(response)
        if body:
            match = _HUB_MESSAGE.match(body)
            self.code, self.message = (match.group(1), match.group(2).strip()) if match else (self.code, body)
        self.help = ""  # the kit's own reading of a refused query: the real hub names no position
        if self.code == "ArgumentInvalid" and query and not _POSITION.search(self.message):
            self.help = query_help(query) or ""
        position = _POSITION.search(self.message) or _POSITION.search(self.help)
        self.line, self.column = (int(position.group(1)), int(position.group(2))) if position else (None, None)
        explanation = explain(error) if self.code != "ArgumentInvalid" else None
        self.fix = f"{explanation.title}. {explanation.fix}" if explanation and explanation.known else ""

    @property
    def heading(self) -> str:
        """The hub's error code (or the Python error type) and HTTP status, the part to search for."""
        return (self.code or self.error_type) + (f" (HTTP {self.status})" if self.status else "")

    def pointer(self, query: str) -> str:
        """The query line the hub points at, with a caret under the column (empty without a position)."""
        lines = query.splitlines()
        if self.line is None or self.column is None or not 1 <= self.line <= len(lines):
            return ""
        return lines[self.line - 1] + "\n" + " " * (self.column - 1) + "^"

    def __str__(self) -> str:
        return (f"{self.heading}: {self.message}" + (f"\n{self.help}" if self.help else "")
                + (f"\nFix: {self.fix}" if self.fix else ""))


def _body_message(response: Any) -> str:
    text = getattr(response, "text", None)
    if callable(text):
        text = text()
    if not isinstance(text, str) or not text.strip():
        return ""
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if isinstance(body, dict):
        return str(body.get("Message") or body.get("message") or "")
    return ""
