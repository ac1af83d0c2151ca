"""Hub-side figures: SDK get_twin latency against the sandbox vs a minimal TLS server, the first page of a filtered
query over 100,000 twins, paging all of them through the SDK, fleet growth time and the sandbox's memory.

Run: ``python benchmarks/bench_hub.py [--devices 100000] [--twin-reads 300]`` (uses a temporary state folder).
The SDK figures include msrest's client-side deserialisation (about 0.3-0.5 ms per twin); the plain-HTTPS
figures show the sandbox's own share. Targets: ratio ≤ 1.5, first page ≤ 100 ms, all pages ≤ 30 s, RSS ≤ 500 MB,
fleet growth < 30 s.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socket
import ssl
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification
from azure.iot.hub.sastoken import SasToken

from kit import clients
from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub import fleet, realism
from kit.sandbox.hub.registry import Registry


def tiny_tls_server(cert: Path, key: Path, body: bytes) -> http.server.ThreadingHTTPServer:
    """The smallest HTTPS reply: a fixed twin for every GET, keep-alive like the sandbox."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the sandbox's listener
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def median_ms(call: Callable[[], object], count: int) -> float:
    """Median over ``count`` calls after one warm-up call, so connection set-up and the token are not counted."""
    call()  # warm up (connection, token)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def rss_mb(pid: int) -> float:
    """Resident memory of a process from ``/proc`` (Linux); NaN where that line is missing."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def grow_fleet(state: Path, devices: int) -> None:
    """Seed the registry and time its growth to ``devices`` before the sandbox starts (no server in the figure)."""
    db = Database.in_state_dir(state)
    registry = Registry(db)
    fleet.seed(registry)
    started = time.perf_counter()
    fleet.grow(registry, devices)
    grow_s = time.perf_counter() - started
    db.close()
    print(f"fleet growth to {devices:,} devices: {grow_s:.1f} s")


def compare_get_twin(rm: IoTHubRegistryManager, conn: Connection, reads: int) -> None:
    """The same twin from the sandbox and from a server that does nothing else: the ratio is the sandbox's cost."""
    twin_text = json.dumps(rm.get_twin("sim-000500").serialize(keep_readonly=True)).encode()
    sandbox_ms = median_ms(lambda: rm.get_twin("sim-000500"), reads)

    tls = Path(conn.state_dir) / "tls"
    server = tiny_tls_server(tls / "server.pem", tls / "server-key.pem", twin_text)
    tiny_cs = conn.hub_connection_string.replace(conn.hub_host, f"localhost:{server.server_address[1]}")
    with clients.closing(clients.from_connection_string("registry", tiny_cs)) as tiny:
        tiny_ms = median_ms(lambda: tiny.get_twin("sim-000500"), reads)
    server.shutdown()
    print(f"get_twin via SDK: sandbox {sandbox_ms:.2f} ms, minimal TLS server {tiny_ms:.2f} ms, "
          f"ratio {sandbox_ms / tiny_ms:.2f} (target <= 1.5)")


def sdk_queries(rm: IoTHubRegistryManager) -> None:
    """First pages of filtered queries, then every page of ``SELECT *``, as a learner's SDK call sees them."""
    for query in ("SELECT * FROM devices WHERE tags.building = 'building-q'",
                  "SELECT * FROM devices WHERE tags.floor = 3 AND properties.reported.temperature > 24",
                  "SELECT * FROM devices WHERE properties.reported.brightness > 98"):
        started = time.perf_counter()
        page = rm.query_iot_hub(QuerySpecification(query=query), None, 100)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"first page ({len(page.items)} rows) of {query!r}: {elapsed:.0f} ms (target <= 100)")

    started = time.perf_counter()
    count, token, pages = 0, None, 0
    spec = QuerySpecification(query="SELECT * FROM devices")
    while True:
        page = rm.query_iot_hub(spec, token, 100)
        count += len(page.items)
        pages += 1
        token = page.continuation_token
        if not token:
            break
    print(f"paged all {count:,} twins in {pages} pages: {time.perf_counter() - started:.1f} s "
          "(target <= 30)")


def plain_https_queries(conn: Connection) -> None:
    """The same queries over plain HTTPS, without the SDK's deserialisation: the server's own share."""
    raw = requests.Session()
    url = f"https://{conn.hub_host}/devices/query?api-version=2021-04-12"
    auth = {"Authorization": str(SasToken(conn.hub_host,
                                          conn.hub_connection_string.split("SharedAccessKey=")[1],
                                          "iothubowner", ttl=3600))}
    started = time.perf_counter()
    first = raw.post(url, json={"query": "SELECT * FROM devices WHERE tags.building = 'building-q'"},
                     headers=auth)
    print(f"same first page over plain HTTPS (no SDK deserialisation): "
          f"{(time.perf_counter() - started) * 1000:.0f} ms, {len(first.json())} rows")
    started, token, count = time.perf_counter(), None, 0
    while True:
        reply = raw.post(url, json={"query": "SELECT * FROM devices"},
                         headers={**auth, **({"x-ms-continuation": token} if token else {})})
        count += len(reply.json())
        token = reply.headers.get("x-ms-continuation")
        if not token:
            break
    print(f"paged all {count:,} twins over plain HTTPS (server's share): "
          f"{time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--twin-reads", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        grow_fleet(state, args.devices)
        conn = process.start(state)
        realism.switch_off(state)  # measure the sandbox, not a tier's throttles or the query lag
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            with clients.closing(clients.from_connection_string("registry", conn.hub_connection_string)) as rm:
                compare_get_twin(rm, conn, args.twin_reads)
                sdk_queries(rm)
                plain_https_queries(conn)
                started = time.perf_counter()
                rows = rm.query_iot_hub(QuerySpecification(
                    query="SELECT tags.building AS b, COUNT() AS n FROM devices GROUP BY tags.building"), None, 100)
                print(f"GROUP BY over all twins ({len(rows.items)} groups): "
                      f"{(time.perf_counter() - started) * 1000:.0f} ms")
            print(f"sandbox RSS with {args.devices:,} devices: {rss_mb(conn.pid):.0f} MB (target <= 500)")
        finally:
            process.stop(state)


if __name__ == "__main__":
    main()
