"""The floor bench_hub.py measures the sandbox against: a raw ASGI app under uvicorn that answers every request with
one fixed twin, as fast as this machine can, and does nothing else (no routing, no auth, no database, no log).

It runs in its own process with the sandbox's uvicorn settings (same TLS certificate, HTTP implementation, event
loop, keep-alive, TCP_NODELAY listener) and the hub's response headers, so the difference to the sandbox is the
sandbox's own work. Run: ``python benchmarks/asgi_floor.py CERT KEY BODY_FILE`` (prints the port, then serves until
it is terminated).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn

from kit.sandbox.connection import LOOPBACK
from kit.sandbox.hub.transport.errors import JSON_TYPE
from kit.sandbox.hub.transport.http import HUB_SERVER
from kit.sandbox.server import bind_socket


def floor_app(body: bytes) -> Callable[..., Awaitable[None]]:
    """An ASGI app answering 200 with ``body`` and the hub's headers to every HTTP request."""
    start = {"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode()),
        (b"server", HUB_SERVER.encode())]}
    reply = {"type": "http.response.body", "body": body}

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send(start)
        await send(reply)

    return app


def main() -> None:
    cert, key, body_file = sys.argv[1:4]
    sock = bind_socket(LOOPBACK, 0)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(floor_app(Path(body_file).read_bytes()), ssl_certfile=cert, ssl_keyfile=key,
                            log_config=None, access_log=False, lifespan="off", server_header=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
