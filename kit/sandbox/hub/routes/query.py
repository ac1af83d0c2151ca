"""POST /devices/query: the IoT Hub query language over device twins, module twins and device jobs, paged.

Paging as the real hub does it: ``x-ms-max-item-count`` (default and maximum 100) and an opaque
``x-ms-continuation`` token, returned until the last page. A plain query resumes after the last rowid it returned, so
each page costs about one page of rows (the engine's SQL pre-filter narrows the rows SQLite hands over); an aggregate
is computed once per request and its result list is paged. The parsing and evaluation are the query engine's
(``kit.sandbox.hub.query``); a ``QueryError`` answers 400 ArgumentInvalid with the real hub's generic message, which
names no position (MicrosoftDocs/azure-docs#110329); ``kit.twins.query_help`` finds the position on the client side.

Sources by FROM name live in ``ctx.collections``: a provider is ``callable(after_rowid) ->
iterator[(rowid, doc)]`` in rowid order. ``devices`` and ``devices.modules`` are served straight from the registry
tables (with the SQL pre-filter), seen through the query lag (``query_lag``: a twin written in the last seconds is
seen as it was before); other parts add theirs (``devices.jobs``).

UNCONFIRMED: the real token format (base64 JSON here) and the item type of projections (``raw``).
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.limits.query_lag import lagged
from kit.sandbox.hub.query import Query, QueryError, parse
from kit.sandbox.hub.transport.errors import HubError, argument_invalid
from kit.sandbox.hub.transport.http import hub_route, json_body, raw_json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

MAX_PAGE = 100
INVALID_QUERY = "The query is invalid. Please check the format of the query and try again."
TABLES = {"devices": "hub_devices", "devices.modules": "hub_modules"}


def register_collections(ctx: HubContext, registry: Registry) -> None:
    """Publish the registry tables as FROM sources (``devices``, ``devices.modules``) for the query endpoint."""
    parse("SELECT * FROM devices")  # build the grammar now, not during a learner's first query
    for name, table in TABLES.items():
        ctx.collections[name] = lambda after, table=table: (
            (rowid, json.loads(text)) for rowid, text in registry.twin_rows(table, after))


def encode_token(state: dict[str, int]) -> str:
    """The ``x-ms-continuation`` value: where each source stopped, opaque to the client."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_token(token: str | None) -> dict[str, int]:
    """The state of an ``x-ms-continuation`` value, with a 400 for one this hub did not issue."""
    if not token:
        return {}
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(state, dict) and all(isinstance(v, int) and v >= 0 for v in state.values()):
            return state
    except ValueError:
        pass
    raise argument_invalid("The x-ms-continuation token is not one this hub issued; start the query again without it.")


def page_size(value: str | None) -> int:
    """``x-ms-max-item-count`` as a page size, capped at ``MAX_PAGE`` as the hub caps it."""
    if value is None:
        return MAX_PAGE
    try:
        size = int(value)
    except ValueError:
        raise argument_invalid(f"x-ms-max-item-count '{value}' is not a number; give 1 to {MAX_PAGE}.") from None
    if size < 1:
        raise argument_invalid(f"x-ms-max-item-count must be at least 1 (got {size}).")
    return min(size, MAX_PAGE)


@functools.lru_cache(maxsize=256)
def parsed(text: str) -> Query:
    """A query parsed and compiled once: each page of a paged query (and a query run again) reuses it."""
    return parse(text)


def _rows(ctx: HubContext, registry: Registry, query: Any, after: int, batch: int = 256,
          documents: bool = True) -> Iterator[tuple[int, str | None, dict | None]]:
    """(rowid, stored text or None, document) of the query's source after ``after``; with ``documents`` False the
    stored rows are not parsed (None), for a query that neither filters nor projects them."""
    table = TABLES.get(query.source)
    if table is not None:
        fragment = query.sql_prefilter(registry.query_columns(table))
        where, params = fragment if fragment else (None, ())
        rows = registry.twin_rows(table, after, where, tuple(params), batch)
        if registry.history is not None:  # twins written within the query lag are seen as they were before
            rows = lagged(rows, registry.history.visible(table), after)
        for rowid, text in rows:
            yield rowid, text, json.loads(text) if documents else None
        return
    provider = ctx.collections.get(query.source)
    if provider is None:
        raise argument_invalid(f"Querying {query.source} is not available on this hub.")
    for rowid, doc in provider(after):
        yield rowid, None, doc


def aggregate(ctx: HubContext, registry: Registry, query: Query) -> list[dict]:
    """An aggregate's rows: COUNT()-only queries the SQL plan can express are counted by SQLite over the generated
    columns (seen through the query lag like every query); everything else streams every document through the
    engine."""
    table = TABLES.get(query.source)
    plan = query.count_plan(registry.query_columns(table)) if table is not None else None
    if plan is None:
        return query.aggregate(doc for _, _, doc in _rows(ctx, registry, query, 0))
    # Rows written within the query lag are counted here as queries see them (their previous text, or not at all).
    replaced = registry.history.visible(table) if registry.history is not None else {}
    older = ((rowid, json.loads(text)) for rowid, text in sorted(replaced.items()) if text is not None)
    return query.aggregate_counts(registry.count_groups(table, plan, excluded=replaced), older)


def run_page(ctx: HubContext, registry: Registry, text: str, size: int,
             token: str | None) -> tuple[str, str, str | None]:
    """One page of a query: (JSON array text, item type, continuation token or None)."""
    try:
        query = parsed(text)
    except QueryError:
        raise argument_invalid(INVALID_QUERY) from None
    state = decode_token(token)
    if query.is_aggregate:
        offset = state.get("o", 0)
        rows = aggregate(ctx, registry, query)
        page = rows[offset:offset + size]
        more = offset + size < len(rows)
        body = json.dumps(page, separators=(",", ":"))
        return body, query.item_type, encode_token({"o": offset + size}) if more else None
    returned = state.get("n", 0)
    limit = size if query.top is None else min(size, query.top - returned)
    items: list[str] = []
    last = state.get("r", 0)
    more = False
    whole_docs = query.item_type in ("twin", "deviceJob")
    if limit > 0:
        documents = query.has_condition or not whole_docs
        for rowid, stored, doc in _rows(ctx, registry, query, last, batch=limit + 1, documents=documents):
            if not query.matches(doc):
                continue
            if len(items) == limit:
                more = True
                break
            items.append(stored if stored is not None and whole_docs else
                         json.dumps(query.project(doc), separators=(",", ":")))
            last = rowid
    if query.top is not None and returned + len(items) >= query.top:
        more = False
    token_out = encode_token({"r": last, "n": returned + len(items)}) if more else None
    return "[" + ",".join(items) + "]", query.item_type, token_out


def routes(ctx: HubContext, registry: Registry) -> list[BaseRoute]:
    async def query_devices(request: Request) -> Response:
        body = await json_body(request)
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            raise HubError(400, "ArgumentNull", "The body needs a 'query' string, e.g. SELECT * FROM devices.")
        page, item_type, token = run_page(ctx, registry, text, page_size(request.headers.get("x-ms-max-item-count")),
                                          request.headers.get("x-ms-continuation"))
        headers = {"x-ms-item-type": item_type}
        if token:
            headers["x-ms-continuation"] = token
        return raw_json_response(page, headers=headers)

    return [hub_route(ctx, "POST", "/devices/query", query_devices)]
