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
from kit.sandbox.hub import (
    amqp,
    api_configurations,
    api_digital_twins,
    api_jobs,
    api_methods,
    api_query,
    api_registry,
    api_twins,
    c2d,
    fleet,
    routes_messages,
    sas,
    statistics,
    temperature_controller,
)
from kit.sandbox.hub.configurations import ConfigurationStore
from kit.sandbox.hub.context import HubContext
from kit.sandbox.hub.import_export import ImportExportJobs
from kit.sandbox.hub.jobs import JobScheduler
from kit.sandbox.hub.methods import MethodInvoker
from kit.sandbox.hub.query_lag import TwinHistory
from kit.sandbox.hub.registry import Registry
from kit.sandbox.hub.simulator import Simulator


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
    api_query.register_collections(ctx, registry)
    c2d.setup(ctx)
    temperature_controller.register()
    invoker = MethodInvoker(registry)
    scheduler = JobScheduler(registry, invoker)
    ctx.collections["devices.jobs"] = scheduler.device_job_rows
    ctx.background.append(scheduler.resume)
    bulk_jobs = ImportExportJobs(registry, ctx.state_dir)
    bulk_jobs.fail_interrupted()
    configurations = ConfigurationStore(registry, ctx.collections)
    fields = {"hub_connection_string": policies["iothubowner"].connection_string(ctx.hub_host),
              "hub_name": resource.hub_resource(ctx.db).name, **amqp.setup(ctx)}
    return fields, route_table(ctx, invoker, scheduler, bulk_jobs, configurations)


def route_table(ctx: HubContext, invoker: MethodInvoker, scheduler: JobScheduler, bulk_jobs: ImportExportJobs,
                configurations: ConfigurationStore) -> list[BaseRoute]:
    """Every hub route, in the order Starlette tries them: the first whose path matches answers."""
    registry = ctx.registry
    return [
        *api_query.routes(ctx, registry),  # before /devices/{device_id} so /devices/query is not a device id
        *api_registry.routes(ctx, registry),
        *api_twins.routes(ctx, registry),
        *statistics.routes(ctx, registry),
        *routes_messages.routes(ctx),
        *api_methods.routes(ctx, invoker),
        *api_jobs.routes(ctx, scheduler, bulk_jobs),
        *api_configurations.routes(ctx, configurations),
        *api_digital_twins.routes(ctx, registry, invoker),
    ]
