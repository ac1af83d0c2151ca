"""Wiring of the hub side into the server (IoT Hub's data-plane REST API, api-version 2021-04-12).

``start`` prepares the registry tables, the shared access policies (keys made at first start), the seeded fleet,
the device simulator, direct methods, jobs, import/export, configurations and the AMQP listener; it makes the
running hub's typed context (``HubContext``) and returns the hub's ``connection.json`` fields with its one ordered
route table, :func:`route_table`.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox import rbac, resource
from kit.sandbox.context import SandboxContext
from kit.sandbox.hub.context import HubContext
from kit.sandbox.hub.devices import c2d, fleet, temperature_controller
from kit.sandbox.hub.devices.configurations import ConfigurationStore
from kit.sandbox.hub.devices.methods import MethodInvoker
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.devices.simulator import Simulator
from kit.sandbox.hub.jobs.import_export import ImportExportJobs
from kit.sandbox.hub.jobs.scheduler import JobScheduler
from kit.sandbox.hub.limits.query_lag import TwinHistory
from kit.sandbox.hub.routes import (
    configurations,
    devices,
    digital_twins,
    jobs,
    messages,
    methods,
    query,
    statistics,
    twins,
)
from kit.sandbox.hub.security import sas
from kit.sandbox.hub.transport import amqp


def start(shared: SandboxContext) -> tuple[dict[str, Any], list[BaseRoute]]:
    registry = Registry(shared.db)
    rbac.open_rbac(shared.db)
    policies = sas.ensure_policies(shared.db)
    fleet.seed(registry)
    ctx = HubContext.over(shared, registry)
    registry.history = TwinHistory(lambda: ctx.realism["query_lag_seconds"])
    simulator = Simulator(registry)
    registry.on_desired_change(simulator.acknowledge)
    ctx.on_stop.append(simulator.disconnect_all)
    ctx.background.append(simulator.run)
    query.register_collections(ctx, registry)
    c2d.setup(ctx)
    temperature_controller.register()
    invoker = MethodInvoker(registry)
    scheduler = JobScheduler(registry, invoker)
    ctx.collections["devices.jobs"] = scheduler.device_job_rows
    ctx.background.append(scheduler.resume)
    bulk_jobs = ImportExportJobs(registry, ctx.state_dir)
    bulk_jobs.fail_interrupted()
    configurations_store = ConfigurationStore(registry, ctx.collections)
    fields = {"hub_connection_string": policies["iothubowner"].connection_string(ctx.hub_host),
              "hub_name": resource.hub_resource(ctx.db).name, **amqp.setup(ctx)}
    return fields, route_table(ctx, invoker, scheduler, bulk_jobs, configurations_store)


def route_table(ctx: HubContext, invoker: MethodInvoker, scheduler: JobScheduler, bulk_jobs: ImportExportJobs,
                configurations_store: ConfigurationStore) -> list[BaseRoute]:
    """Every hub route, in the order Starlette tries them: the first whose path matches answers."""
    registry = ctx.registry
    return [
        *query.routes(ctx, registry),  # before /devices/{device_id} so /devices/query is not a device id
        *devices.routes(ctx, registry),
        *twins.routes(ctx, registry),
        *statistics.routes(ctx, registry),
        *messages.routes(ctx),
        *methods.routes(ctx, invoker),
        *jobs.routes(ctx, scheduler, bulk_jobs),
        *configurations.routes(ctx, configurations_store),
        *digital_twins.routes(ctx, registry, invoker),
    ]
