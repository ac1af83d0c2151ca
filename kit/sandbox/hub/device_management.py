"""Wiring of the hub's device-management parts: direct methods, scheduled and import/export jobs, configurations,
digital twins (and the simulated temperature controller they are shown with).

``setup`` builds them on the shared registry and publishes them in ``ctx.services`` (``hub_methods``, ``hub_jobs``,
``hub_bulk_jobs``, ``hub_configurations``); it adds the ``devices.jobs`` query collection and the job restart
step. ``routes`` lists their REST routes.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox.hub import (
    api_configurations,
    api_digital_twins,
    api_jobs,
    api_methods,
    temperature_controller,
)
from kit.sandbox.hub.configurations import ConfigurationStore
from kit.sandbox.hub.import_export import ImportExportJobs
from kit.sandbox.hub.jobs import JobScheduler
from kit.sandbox.hub.methods import MethodInvoker
from kit.sandbox.hub.registry import Registry


def setup(ctx: Any, registry: Registry) -> None:
    collections = ctx.services.setdefault("query_collections", {})
    temperature_controller.register()
    invoker = MethodInvoker(registry)
    scheduler = JobScheduler(registry, invoker)
    bulk_jobs = ImportExportJobs(registry, ctx.state_dir)
    bulk_jobs.fail_interrupted()
    ctx.services["hub_methods"] = invoker
    ctx.services["hub_jobs"] = scheduler
    ctx.services["hub_bulk_jobs"] = bulk_jobs
    ctx.services["hub_configurations"] = ConfigurationStore(registry, collections)
    collections["devices.jobs"] = scheduler.device_job_rows
    ctx.background.append(scheduler.resume)


def routes(ctx: Any) -> list[BaseRoute]:
    services = ctx.services
    return [
        *api_methods.routes(ctx, services["hub_methods"]),
        *api_jobs.routes(ctx, services["hub_jobs"], services["hub_bulk_jobs"]),
        *api_configurations.routes(ctx, services["hub_configurations"]),
        *api_digital_twins.routes(ctx, services["hub_registry"], services["hub_methods"]),
    ]
