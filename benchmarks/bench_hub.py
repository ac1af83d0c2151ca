"""Hub-side figures: SDK get_twin against a raw ASGI floor, aggregates and filtered first pages over 100,000 twins,
paging all of them, fleet growth and the sandbox's memory.

Run: ``python benchmarks/bench_hub.py [--devices 100000] [--rounds 9] [--reads 200]`` (a temporary state folder;
run it in a network namespace of its own if another sandbox holds the AMQP port). Realism knobs that would distort
the figures are switched off first (throttling off, query lag 0) and the output says so.

get_twin: the real SDK, keep-alive on both sides (``kit.clients.closing``), against the sandbox and against
``asgi_floor.py`` (uvicorn, same TLS certificate and settings, the same twin bytes, no work) in alternating rounds;
the ratio printed is the median of the per-round ratios of medians. Queries go over plain HTTPS with keep-alive
(``requests.Session``) so the figure is the server's share; the time of a page is until its last byte arrived
(the client parses the JSON after the clock stops). Targets (issue 15): ratio <= 1.3; COUNT() and GROUP BY
tags.building <= 150 ms; first page of a selective filter <= 50 ms; all pages <= 4 s; RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager

from kit import clients
from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub.devices import fleet
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.limits import realism

FLOOR = Path(__file__).with_name("asgi_floor.py")
TWIN_ID = "sim-000500"
QUERY_URL = "https://{host}/devices/query?api-version=2021-04-12"
AGGREGATES = ("SELECT COUNT() AS n FROM devices",
              "SELECT tags.building AS building, COUNT() AS n FROM devices GROUP BY tags.building")
SELECTIVE = ("SELECT * FROM devices WHERE tags.building = 'building-q'",
             "SELECT * FROM devices WHERE tags.role = 'gateway' AND tags.building = 'building-z'",
             "SELECT * FROM devices WHERE connectionState = 'Connected'",
             "SELECT * FROM devices WHERE tags.floor = 3 AND properties.reported.temperature > 24",
             "SELECT * FROM devices WHERE properties.reported.brightness > 98")


def rss_mb(pid: int) -> float:
    """Resident memory of a process from ``/proc`` (Linux); NaN where that line is missing."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def realism_off(state: Path) -> str:
    """Switch off the knobs that would distort figures (``realism.switch_off``); say what they are now."""
    realism.switch_off(state)
    db = Database.in_state_dir(state)
    try:
        values = realism.read(db)
    finally:
        db.close()
    return (f"realism knobs: throttling {'on' if values['throttling'] else 'off'}, query lag "
            f"{values['query_lag_seconds']:g} s (switched off so they do not distort the figures)")


def prepare(state: Path, devices: int) -> str:
    """Seed and grow the registry before the sandbox starts (growth timed alone), then switch realism off."""
    db = Database.in_state_dir(state)
    registry = Registry(db)
    fleet.seed(registry)
    started = time.perf_counter()
    fleet.grow(registry, devices)
    print(f"fleet growth to {devices:,} devices: {time.perf_counter() - started:.1f} s")
    db.close()
    return realism_off(state)


def interleaved_ms(first: Callable[[], object], second: Callable[[], object], count: int) -> tuple[float, float]:
    """Median milliseconds of ``count`` calls of each, alternating call by call (and which goes first), so that both
    meet the same load of a shared machine."""
    times: tuple[list[float], list[float]] = ([], [])
    for number in range(count):
        order = ((0, first), (1, second)) if number % 2 else ((1, second), (0, first))
        for index, call in order:
            started = time.perf_counter()
            call()
            times[index].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def start_floor(conn: Connection, body: bytes, folder: Path) -> tuple[subprocess.Popen, str]:
    """The raw ASGI floor in its own process, serving ``body``; returns it and its host."""
    body_file = folder / "floor-twin.json"
    body_file.write_bytes(body)
    tls = Path(conn.state_dir) / "tls"
    floor = subprocess.Popen([sys.executable, str(FLOOR), str(tls / "server.pem"), str(tls / "server-key.pem"),
                              str(body_file)], stdout=subprocess.PIPE, text=True)
    port = int(floor.stdout.readline())
    return floor, f"localhost:{port}"


def compare_get_twin(make: Callable[[str], IoTHubRegistryManager], conn: Connection, floor_host: str,
                     label: str, rounds: int, reads: int) -> float:
    """Rounds of ``reads`` get_twin calls against the sandbox and the floor, call by call; the median ratio."""
    ratios, sandbox_all, floor_all = [], [], []
    with clients.closing(make(conn.hub_host)) as sandbox, clients.closing(make(floor_host)) as floor:
        for client in (sandbox, floor):  # warm up: connection, token, code paths
            for _ in range(20):
                client.get_twin(TWIN_ID)
        for _ in range(rounds):
            sandbox_ms, floor_ms = interleaved_ms(lambda: sandbox.get_twin(TWIN_ID), lambda: floor.get_twin(TWIN_ID),
                                                  reads)
            sandbox_all.append(sandbox_ms)
            floor_all.append(floor_ms)
            ratios.append(sandbox_ms / floor_ms)
    ratio = statistics.median(ratios)
    print(f"get_twin via SDK ({label}, keep-alive): sandbox {statistics.median(sandbox_all):.2f} ms, "
          f"raw ASGI floor {statistics.median(floor_all):.2f} ms p50; ratio {ratio:.2f} "
          f"(median of {rounds} rounds x {reads} interleaved calls; rounds {min(ratios):.2f}-{max(ratios):.2f}; "
          "target <= 1.3)")
    return ratio


def timed_post(session: requests.Session, url: str, query: str,
               headers: dict[str, str]) -> tuple[float, requests.Response]:
    """One query request; the clock stops when the whole body has arrived (``content`` read), before JSON parsing."""
    started = time.perf_counter()
    reply = session.post(url, json={"query": query}, headers=headers)
    _ = reply.content
    elapsed = (time.perf_counter() - started) * 1000
    reply.raise_for_status()
    return elapsed, reply


def queries(conn: Connection, token: str, repeats: int) -> None:
    """Aggregates and first pages (median of ``repeats``), then every page of SELECT *, over plain HTTPS."""
    session = requests.Session()
    url = QUERY_URL.format(host=conn.hub_host)
    auth = {"Authorization": f"Bearer {token}"}
    for query, target in [(q, 150) for q in AGGREGATES] + [(q, 50) for q in SELECTIVE]:
        runs = [timed_post(session, url, query, auth) for _ in range(repeats)]
        rows = runs[-1][1].json()
        shown = f"{len(rows)} rows" if "COUNT" not in query or "GROUP" in query else f"= {rows[0]['n']:,}"
        print(f"{query}: {statistics.median(ms for ms, _ in runs):.0f} ms ({shown}; target <= {target} ms)")

    elapsed, count, pages, token_ = 0.0, 0, 0, None
    while True:
        ms, reply = timed_post(session, url, "SELECT * FROM devices",
                               {**auth, **({"x-ms-continuation": token_} if token_ else {})})
        elapsed += ms
        count += len(reply.json())
        pages += 1
        token_ = reply.headers.get("x-ms-continuation")
        if not token_:
            break
    print(f"paged all {count:,} twins in {pages:,} pages over plain HTTPS (server's share): {elapsed / 1000:.1f} s "
          "(target <= 4 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each query (median)")
    args = parser.parse_args()
    print(f"load average before: {load_average()} (2-core machine)")

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        print(prepare(state, args.devices))
        conn = process.start(state)
        floor = None
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            credential = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                                authority=conn.authority_host, disable_instance_discovery=True)
            token = credential.get_token("https://iothubs.azure.net/.default").token
            body = requests.get(f"https://{conn.hub_host}/twins/{TWIN_ID}?api-version=2021-04-12",
                                headers={"Authorization": f"Bearer {token}"}).content
            json.loads(body)
            floor, floor_host = start_floor(conn, body, state)
            key = conn.hub_connection_string.split("SharedAccessKey=")[1]

            def with_token(host: str) -> IoTHubRegistryManager:
                return clients.registry_manager(host, credential)

            def with_sas(host: str) -> IoTHubRegistryManager:
                return clients.from_connection_string(
                    "registry", f"HostName={host};SharedAccessKeyName=iothubowner;SharedAccessKey={key}")

            compare_get_twin(with_token, conn, floor_host, "Entra token", args.rounds, args.reads)
            compare_get_twin(with_sas, conn, floor_host, "SAS connection string", args.rounds, args.reads)
            queries(conn, token, args.repeats)
            print(f"sandbox RSS with {args.devices:,} devices: {rss_mb(conn.pid):.0f} MB (target <= 200 MB)")
        finally:
            if floor is not None:
                floor.kill()  # it holds no state; uvicorn would wait for idle keep-alive connections
                floor.wait(10)
            process.stop(state)
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
