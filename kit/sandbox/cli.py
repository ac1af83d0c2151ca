"""``python -m kit.sandbox``: run and administer the sandbox.

Process commands live here; each side adds its own admin commands (``app``, ``role``, ``fleet``, ``local-auth``...)
through ``register_cli(subparsers)``, so the command line mirrors what an Azure admin does on each service.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any

from kit.sandbox import process
from kit.sandbox.connection import LOOPBACK, Connection, load_connection
from kit.sandbox.paths import resolve_state_dir
from kit.sandbox.server import configure_logging, serve

Handler = Callable[[argparse.Namespace], int]


def print_json(value: Any) -> None:
    """Print a command's result as sorted, indented JSON, readable and easy to parse."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--state-dir`` option every command takes, so experiments can use their own state folder."""
    parser.add_argument(
        "--state-dir", default=None,
        help="the sandbox's state folder (default: $KIT_SANDBOX_DIR, else ~/.iot-entra-kit/sandbox)",
    )


def environment(conn: Connection) -> dict[str, str]:
    """Variables that let an unmodified program using ``DefaultAzureCredential()`` reach the sandbox.

    A bare ``DefaultAzureCredential()`` cannot turn off msal's instance discovery, so this route uses workload
    identity (azure-identity's own client, no msal): the federated token file, the tenant, the client and the
    authority host. Both CA variables point at the bundle: requests reads one, uamqp's OpenSSL the other.
    """
    env = {
        "AZURE_TENANT_ID": conn.tenant_id,
        "AZURE_CLIENT_ID": conn.client_id,
        "AZURE_FEDERATED_TOKEN_FILE": conn.federated_token_file,
        "AZURE_AUTHORITY_HOST": conn.authority_host,
        "REQUESTS_CA_BUNDLE": conn.ca_bundle,
        "SSL_CERT_FILE": conn.ca_bundle,
        "IOT_HUB_HOSTNAME": conn.hub_host,
    }
    if conn.hub_connection_string:
        env["IOTHUB_CONNECTION_STRING"] = conn.hub_connection_string
    return env


def running_summary(conn: Connection) -> dict[str, Any]:
    """What ``start`` and ``status`` print: where each service is (no secret)."""
    return {"status": "running", "pid": conn.pid, "authority_host": conn.authority_host, "hub_host": conn.hub_host,
            "graph_endpoint": conn.graph_endpoint, "arm_endpoint": conn.arm_endpoint,
            "hub_resource_id": conn.hub_resource_id, "state_dir": conn.state_dir, "amqp": conn.amqp_note or "ready"}


def _cmd_start(args: argparse.Namespace) -> int:
    conn = process.start(args.state_dir, port=args.port, bind_host=args.bind)
    print_json(running_summary(conn))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    conn = process.running(args.state_dir)
    if conn is None:
        print_json({"status": "stopped", "state_dir": str(resolve_state_dir(args.state_dir))})
        return 3
    print_json(running_summary(conn))
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    stopped = process.stop(args.state_dir)
    print_json({"status": "stopped", "was_running": stopped})
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    process.reset(args.state_dir)
    print_json({"status": "reset", "state_dir": str(resolve_state_dir(args.state_dir))})
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    folder = resolve_state_dir(args.state_dir)
    configure_logging(folder, to_file=args.log_to_file)
    serve(folder, port=args.port or 0, bind_host=args.bind)
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    conn = process.running(args.state_dir) or load_connection(args.state_dir)
    for name, value in environment(conn).items():
        if args.format == "dotenv":
            print(f"{name}={value}")
        else:
            print(f"export {name}={shlex.quote(value)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line: lifecycle commands here, admin commands from each side's ``register_cli``."""
    parser = argparse.ArgumentParser(prog="python -m kit.sandbox", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    for name, handler, text in (
        ("start", _cmd_start, "start the sandbox in the background (a running one is reused)"),
        ("serve", _cmd_serve, "run the sandbox in the foreground"),
    ):
        cmd = sub.add_parser(name, help=text)
        add_state_dir(cmd)
        cmd.add_argument("--port", type=int, default=None, help="HTTPS port (default: a free one)")
        cmd.add_argument("--bind", default=LOOPBACK,
                         help="address to listen on (default 127.0.0.1; anything else is exposed)")
        if name == "serve":
            cmd.add_argument("--log-to-file", action="store_true", help=argparse.SUPPRESS)
        cmd.set_defaults(handler=handler)

    for name, handler, text in (
        ("status", _cmd_status, "say whether the sandbox runs (exit code 3 when stopped)"),
        ("stop", _cmd_stop, "stop the sandbox"),
        ("reset", _cmd_reset, "stop the sandbox and forget its state (the TLS CA is kept)"),
    ):
        cmd = sub.add_parser(name, help=text)
        add_state_dir(cmd)
        cmd.set_defaults(handler=handler)

    env = sub.add_parser("env", help="print variables that point an unmodified program at the sandbox")
    add_state_dir(env)
    env.add_argument("--format", choices=("shell", "dotenv"), default="shell")
    env.set_defaults(handler=_cmd_env)

    from kit.sandbox.hub import admin as hub_admin
    from kit.sandbox.identity import admin as identity_admin

    identity_admin.register_cli(sub)
    hub_admin.register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; expected failures print one ``error:`` line and exit 2 rather than a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (process.SandboxError, FileNotFoundError, ValueError, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
