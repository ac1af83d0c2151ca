"""IoT Hub's query language for the sandbox: ``SELECT ... FROM devices | devices.modules | devices.jobs``.

The hub's ``POST /devices/query`` and the job scheduler use this API::

    from kit.sandbox.hub.query import parse, parse_condition, QueryError

    q = parse(text)          # QueryError(message, line, column) -> 400 ArgumentInvalid with q.message
    q.source                 # "devices" | "devices.modules" | "devices.jobs"
    q.item_type              # "twin" (SELECT * on devices/modules), "deviceJob" (devices.jobs), else "raw"
    q.is_aggregate           # aggregates or GROUP BY: needs every document, see aggregate()
    q.top                    # int | None: stop after this many rows
    q.matches(doc)           # the WHERE clause; True without one
    q.project(doc)           # the row for a matching doc (the doc itself for SELECT *)
    q.aggregate(docs)        # rows of an aggregate query; applies WHERE and TOP itself, one pass
    q.sql_prefilter(column)  # (sql, params) over json_extract(column, ...) selecting a superset, or None

    cond = parse_condition("deviceId IN ['a', 'b']")   # a job queryCondition; "*" selects every device
    cond.matches(doc); cond.selects_all

Documents are twins exactly as ``GET /twins`` returns them (module twins carry ``moduleId``); for
``devices.jobs`` they are device-job dicts ``{deviceId, jobId, jobType, status, startTimeUtc, endTimeUtc,
createdDateTimeUtc, lastUpdatedDateTimeUtc, outcome}``, named in conditions as ``devices.jobs.<key>``.

Choices where the documentation is silent or contradicts itself:
* FROM is required ("every IoT Hub query consists of SELECT and FROM clauses"); the documentation's
  ``SELECT COUNT() as TotalNumber`` is a SELECT-clause excerpt, not a full query.
* Plain projections work (the query-twins examples return them); a projection without AS is keyed by its
  last path segment, an aggregate without AS by ``$1``, ``$2``... ; an undefined value leaves its key out.
* Besides ``IS_DEFINED``, the routing functions (STARTSWITH, IS_STRING, LOWER, ...) are accepted.
* ``IN``/``NIN`` are true or false for any primitive and undefined for missing properties, objects and
  arrays, so ``NIN`` never selects a twin that lacks the property.
* Error wording: the real hub answers a bad query with a generic "The query is invalid. Please check the
  format of the query and try again."; the sandbox names the line, column and what was expected instead.
"""

from __future__ import annotations

from .errors import QueryError
from .query import MAX_QUERY_LENGTH, Condition, Query, parse, parse_condition

__all__ = ["MAX_QUERY_LENGTH", "Condition", "Query", "QueryError", "parse", "parse_condition"]
