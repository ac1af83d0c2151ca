"""Wiring of the hub side into the server (IoT Hub's data-plane REST API, api-version 2021-04-12).

``setup`` prepares the registry tables, the shared access policies (keys made at first start), the seeded fleet
and the device simulator, and publishes for the other hub parts:

* ``ctx.services["hub_registry"]``: the ``Registry`` (devices, modules, twins);
* ``ctx.services["query_collections"]``: query sources by FROM name; a provider is
  ``callable(after_rowid) -> iterator[(rowid, doc)]`` (the jobs part adds ``devices.jobs``);
* ``ctx.services["hub_simulator"]``: the simulator (``behaviour_of`` gives a device's direct-method handlers);
* ``ctx.services["hub_realism"]`` and ``["hub_throttle"]``: the realism knobs as the running hub sees them, and the
  operation throttles (``realism``, ``throttling``); the registry tells the query-lag history of every twin write.

Authentication and authorisation for every route go through ``kit.sandbox.hub.http.hub_route``.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute

from kit.sandbox import rbac, resource
from kit.sandbox.hub import (
    amqp,
    api_query,
    api_registry,
    api_twins,
    c2d,
    device_management,
    fleet,
    routes_messages,
    sas,
    statistics,
    throttling,
)
from kit.sandbox.hub.query_lag import TwinHistory
from kit.sandbox.hub.registry import Registry
from kit.sandbox.hub.simulator import Simulator


def setup(ctx: Any) -> dict[str, Any]:
    registry = Registry(ctx.db)
    rbac.open_rbac(ctx.db)
    policies = sas.ensure_policies(ctx.db)
    fleet.seed(registry)
    knobs, _ = throttling.services(ctx)
    registry.history = TwinHistory(lambda: knobs["query_lag_seconds"])
    simulator = Simulator(registry)
    ctx.services["hub_registry"] = registry
    ctx.services["hub_simulator"] = simulator
    registry.on_desired_change(simulator.acknowledge)
    ctx.services.setdefault("on_stop", []).append(simulator.disconnect_all)
    ctx.background.append(simulator.run)
    api_query.register_collections(ctx, registry)
    c2d.setup(ctx)
    device_management.setup(ctx, registry)
    return {"hub_connection_string": policies["iothubowner"].connection_string(ctx.hub_host),
            "hub_name": resource.hub_resource(ctx.db).name, **amqp.setup(ctx)}


def routes(ctx: Any) -> list[BaseRoute]:
    registry: Registry = ctx.services["hub_registry"]
    return [
        *api_query.routes(ctx, registry),  # before /devices/{device_id} so /devices/query is not a device id
        *api_registry.routes(ctx, registry),
        *api_twins.routes(ctx, registry),
        *statistics.routes(ctx, registry),
        *routes_messages.routes(ctx),
        *device_management.routes(ctx),
    ]
