"""Admin commands of the hub side, as an Azure admin would run them on a hub:

* ``fleet --devices N``: grow the registry to N devices (up to 100,000), in one transaction; ``fleet
  --remove-generated`` deletes those generated devices again;
* ``local-auth disable|enable``: refuse or accept shared access signatures (the hub's ``disableLocalAuth``);
* ``policies``: the shared access policies and their rights (``--show-keys`` prints connection strings);
* ``hub-tier [F1|S1|S2|S3] [--units N]``: show or set the hub's tier and units: they cap how many scheduled jobs may
  be active and set the operation throttles;
* ``realism``: show or set the realism knobs (throttling, query lag, unquoted etags...; see ``realism``);
* ``pnp-device add ID``: register a simulated IoT Plug and Play temperature controller (two thermostat components).

They work on the state folder's database directly, so they apply to a running sandbox at once.
"""

from __future__ import annotations

import argparse
import sys
import time

from kit.sandbox.cli import add_state_dir, print_json
from kit.sandbox.connection import load_connection
from kit.sandbox.db import Database
from kit.sandbox.hub.devices import fleet, temperature_controller
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.limits import realism, sku, throttling
from kit.sandbox.hub.security import sas
from kit.sandbox.hub.transport.errors import HubError
from kit.sandbox.paths import private_dir, resolve_state_dir


def _database(args: argparse.Namespace) -> Database:
    return Database.in_state_dir(private_dir(resolve_state_dir(args.state_dir)))


def _cmd_fleet(args: argparse.Namespace) -> int:
    if (args.devices is None) == (not args.remove_generated):
        print("error: fleet: give either --devices N or --remove-generated", file=sys.stderr)
        return 2
    db = _database(args)
    try:
        registry = Registry(db)
        fleet.seed(registry)
        started = time.perf_counter()
        changed = {"removed": fleet.remove_generated(registry)} if args.remove_generated else {
            "added": fleet.grow(registry, args.devices)}
        total = db.scalar("SELECT COUNT(*) FROM hub_devices")
    finally:
        db.close()
    print_json({**changed, "total_devices": total, "seconds": round(time.perf_counter() - started, 2)})
    return 0


def _cmd_local_auth(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        sas.set_local_auth(db, enabled=args.action == "enable")
        disabled = sas.local_auth_disabled(db)
    finally:
        db.close()
    print_json({"local_auth": "disabled" if disabled else "enabled",
                "effect": "SAS tokens are refused" if disabled else "SAS tokens are accepted"})
    return 0


def _cmd_policies(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        policies = sas.ensure_policies(db)
    finally:
        db.close()
    host = load_connection(args.state_dir).hub_host if args.show_keys else ""
    print_json([
        {"name": p.name, "rights": sorted(p.rights),
         **({"connection_string": p.connection_string(host)} if args.show_keys else {})}
        for p in policies.values()
    ])
    return 0


def _cmd_hub_tier(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        if args.tier or args.units is not None:
            sku.set_sku(db, args.tier or job_store.tier(db), args.units)
        result = {"tier": job_store.tier(db), "units": sku.units(db), "max_active_jobs": job_store.max_active_jobs(db)}
    finally:
        db.close()
    print_json(result)
    return 0


def realism_report(db: Database) -> dict:
    """The knobs' values, with the hub size that sets the throttles and each throttle's rate per minute."""
    tier, units = job_store.tier(db), sku.units(db)
    rates = {name: round(rate.for_units(units) * 60, 2) for name, rate in throttling.RATES[tier].items()}
    return {**realism.shown(realism.read(db)), "hub": {"tier": tier, "units": units},
            "throttles_per_minute": rates}


def _cmd_realism(args: argparse.Namespace) -> int:
    changes = {name: getattr(args, name) for name in realism.KNOBS if getattr(args, name, None) is not None}
    db = _database(args)
    try:
        if changes:
            realism.update(db, changes)
        report = realism_report(db)
    finally:
        db.close()
    print_json(report)
    return 0


def _cmd_pnp_device(args: argparse.Namespace) -> int:
    db = _database(args)
    try:
        temperature_controller.add(Registry(db), args.device_id)
    except (ValueError, HubError) as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print_json({"device_id": args.device_id, "model_id": temperature_controller.TemperatureController.model_id,
                "components": list(temperature_controller.COMPONENTS)})
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """The hub admin commands (fleet, local-auth, policies, hub-tier, realism, pnp-device), as ``az iot hub`` offers
    them."""
    grow = subparsers.add_parser("fleet", help="grow the hub's registry to N devices (up to 100,000)")
    add_state_dir(grow)
    grow.add_argument("--devices", type=int, default=None, help="the number of devices the hub should hold")
    grow.add_argument("--remove-generated", action="store_true",
                      help="delete the devices this command generated (sim-...), at once")
    grow.set_defaults(handler=_cmd_fleet)

    local = subparsers.add_parser("local-auth", help="refuse (disable) or accept (enable) SAS tokens on the hub")
    add_state_dir(local)
    local.add_argument("action", choices=("disable", "enable"))
    local.set_defaults(handler=_cmd_local_auth)

    policies = subparsers.add_parser("policies", help="list the hub's shared access policies")
    add_state_dir(policies)
    policies.add_argument("--show-keys", action="store_true", help="also print each policy's connection string")
    policies.set_defaults(handler=_cmd_policies)

    tier = subparsers.add_parser("hub-tier", help="show or set the hub's tier (caps concurrent scheduled jobs)")
    add_state_dir(tier)
    tier.add_argument("tier", nargs="?", choices=sorted(job_store.MAX_ACTIVE_JOBS),
                      help="F1 or S1: 1 active job, S2: 5, S3: 10 (omit to show the current tier)")
    tier.add_argument("--units", type=int, default=None,
                      help="the number of units (throttles scale with it): F1 1, S1 and S2 1-200, S3 1-10")
    tier.set_defaults(handler=_cmd_hub_tier)

    knobs = subparsers.add_parser(
        "realism", help="show or set the realism knobs: throttling, query lag, unquoted etags (applies at once)")
    add_state_dir(knobs)
    for knob in realism.KNOBS.values():
        knobs.add_argument(knob.option, dest=knob.name, default=None, metavar="VALUE",
                           help=f"{knob.help} (default: {realism.shown({knob.name: knob.default})[knob.name]})")
    knobs.set_defaults(handler=_cmd_realism)

    pnp = subparsers.add_parser("pnp-device", help="register a simulated IoT Plug and Play temperature controller")
    add_state_dir(pnp)
    pnp.add_argument("action", choices=("add",))
    pnp.add_argument("device_id", help="the new device's id")
    pnp.set_defaults(handler=_cmd_pnp_device)
