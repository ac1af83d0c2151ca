"""REST routes of jobs: scheduled jobs (``/jobs/v2/...``) and import/export jobs (``/jobs/create``, ``/jobs``).

``GET /jobs/v2/query`` is routed before ``/jobs/v2/{job_id}`` so "query" is never taken for a job id. Every
success is 200 (the SDK accepts 200 or 204 for ``DELETE /jobs/{id}``; the job is answered).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from kit.sandbox.hub.jobs.import_export import ImportExportJobs
from kit.sandbox.hub.jobs.scheduler import JobScheduler
from kit.sandbox.hub.transport.http import hub_route, json_body, json_response

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext


def routes(ctx: HubContext, scheduler: JobScheduler, bulk_jobs: ImportExportJobs) -> list[BaseRoute]:
    async def create_job(request: Request) -> Response:
        return json_response(scheduler.create(request.path_params["job_id"], await json_body(request)))

    async def get_job(request: Request) -> Response:
        return json_response(scheduler.get(request.path_params["job_id"]))

    async def cancel_job(request: Request) -> Response:
        return json_response(scheduler.cancel(request.path_params["job_id"]))

    async def query_jobs(request: Request) -> Response:
        params = request.query_params
        return json_response(scheduler.query(params.get("jobType") or None, params.get("jobStatus") or None))

    async def create_bulk_job(request: Request) -> Response:
        return json_response(bulk_jobs.create(await json_body(request)))

    async def list_bulk_jobs(request: Request) -> Response:
        return json_response(bulk_jobs.list())

    async def get_bulk_job(request: Request) -> Response:
        return json_response(bulk_jobs.get(request.path_params["job_id"]))

    async def cancel_bulk_job(request: Request) -> Response:
        return json_response(bulk_jobs.cancel(request.path_params["job_id"]))

    return [
        hub_route(ctx, "GET", "/jobs/v2/query", query_jobs),
        hub_route(ctx, "PUT", "/jobs/v2/{job_id}", create_job),
        hub_route(ctx, "GET", "/jobs/v2/{job_id}", get_job),
        hub_route(ctx, "POST", "/jobs/v2/{job_id}/cancel", cancel_job),
        hub_route(ctx, "POST", "/jobs/create", create_bulk_job),
        hub_route(ctx, "GET", "/jobs", list_bulk_jobs),
        hub_route(ctx, "GET", "/jobs/{job_id}", get_bulk_job),
        hub_route(ctx, "DELETE", "/jobs/{job_id}", cancel_bulk_job),
    ]
