"""The sandbox process: one HTTPS listener on loopback serving the identity side, the hub side, and the Microsoft
Graph and Azure Resource Manager subsets that manage them.

Each side is a module with the same small surface (see ``Side``): its ``start`` prepares its tables and seed data
and returns the fields it contributes to ``connection.json`` with its routes; it may add background work (simulated
devices, token rotation) and what it offers the others to the shared, typed ``SandboxContext``. This module only
wires them together, so the two sides stay independent of each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from kit.sandbox.access_log import AccessLog
from kit.sandbox.connection import HEALTH_PATH, LOOPBACK, Connection, write_connection
from kit.sandbox.context import SandboxContext
from kit.sandbox.db import Database
from kit.sandbox.paths import LOG_FILE, PID_FILE, private_dir
from kit.sandbox.tls import ensure_tls

log = logging.getLogger("kit.sandbox")



class Side(Protocol):
    """The surface each side of the sandbox offers to the server: its ``connection.json`` fields and its routes."""

    def start(self, ctx: SandboxContext) -> tuple[dict[str, Any], list[BaseRoute]]: ...


def sides() -> list[Side]:
    """The side modules, imported here so that importing ``server`` (``process`` and ``cli`` do) loads neither."""
    from kit.sandbox.arm import side as arm
    from kit.sandbox.graph import side as graph
    from kit.sandbox.hub import side as hub
    from kit.sandbox.identity import side as identity

    return [identity, hub, graph, arm]


def open_context(state_dir: Path, port: int, bind_host: str = LOOPBACK) -> SandboxContext:
    """The shared context for ``state_dir``: private folder, database and TLS files, created when missing."""
    private_dir(state_dir)
    return SandboxContext(
        state_dir=state_dir, db=Database.in_state_dir(state_dir), tls=ensure_tls(state_dir),
        port=port, bind_host=bind_host,
    )


def build_app(ctx: SandboxContext) -> tuple[Starlette, dict[str, Any]]:
    """Set up both sides and return the ASGI app with the connection fields they contribute."""
    fields_: dict[str, Any] = {}
    routes: list[BaseRoute] = [Route(HEALTH_PATH, _health, methods=["GET"])]
    for side in sides():
        side_fields, side_routes = side.start(ctx)
        fields_.update(side_fields)
        routes.extend(side_routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job()) for job in ctx.background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    return app, fields_


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "pid": os.getpid()})


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before uvicorn starts so the port is known (and inherited) up front."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it: no 40 ms Nagle stalls
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, with our own signal handling (we stop the AMQP listener too)."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def serve(state_dir: Path, port: int = 0, bind_host: str = LOOPBACK) -> None:
    """Run the sandbox in the foreground until SIGTERM or SIGINT."""
    if bind_host not in (LOOPBACK, "localhost", "::1"):
        log.warning(
            "The sandbox is listening on %s, not only on loopback: anyone who can reach this address can ask it "
            "for tokens. Use this only on a private network.", bind_host,
        )
    sock = bind_socket(bind_host, port)
    ctx = open_context(state_dir, sock.getsockname()[1], bind_host)
    app, connection_fields = build_app(ctx)
    access = AccessLog(app)  # every request in the log, written in batches (uvicorn's own costs ~0.1 ms a request)
    config = uvicorn.Config(
        access, ssl_certfile=str(ctx.tls.server_cert), ssl_keyfile=str(ctx.tls.server_key),
        log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2,
        server_header=False,  # each side says what it is (the hub: Microsoft-HTTPAPI/2.0)
    )
    server = _Server(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            connection = Connection.from_mapping({
                "state_dir": str(state_dir), "pid": os.getpid(), "port": ctx.port,
                "hub_host": ctx.hub_host, "ca_bundle": str(ctx.tls.bundle), **connection_fields,
            })
            write_connection(state_dir, connection)
            (state_dir / PID_FILE).write_text(str(os.getpid()))
            log.info("sandbox ready on %s (state %s)", ctx.base_url, state_dir)
        await serving

    try:
        asyncio.run(main())
    finally:
        access.flush()
        for stop in ctx.on_stop:
            stop()
        pid_file = state_dir / PID_FILE
        if pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()
        ctx.db.close()


def configure_logging(state_dir: Path, to_file: bool) -> None:
    """Log to the state folder's log file (background runs) or to stderr (``serve``)."""
    handler: logging.Handler
    if to_file:
        private_dir(state_dir)
        handler = logging.FileHandler(state_dir / LOG_FILE)
        os.chmod(state_dir / LOG_FILE, 0o600)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
