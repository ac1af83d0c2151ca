"""Many simultaneous learners against one sandbox: latency per operation (p50/p99), errors and throughput.

Each client is a thread with its own credential and registry manager, looping over a workshop-like flow until the
time is up: a token from the sandbox's Entra (a new credential, so a real token request), read a seeded device,
create its own device, read and patch that device's twin, a query, and a direct method on a simulated thermostat.
The test suite runs a short version (``tests/reliability/test_load.py``); this script runs longer.

Run: ``python benchmarks/bench_load.py [--clients 30] [--seconds 120]`` (starts a sandbox in a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

from kit import clients
from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.hub.limits import realism

SCOPE = "https://iothubs.azure.net/.default"
SEEDED_DEVICE = "thermostat-a-1"  # a simulated thermostat: online, answers getMaxMinReport
QUERY = "SELECT deviceId, tags.floor FROM devices WHERE tags.building = 'building-a'"


@dataclass
class LoadResult:
    """Latencies and errors per operation, shared by the client threads of one load run."""

    clients: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    methods_available: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def timed(self, operation: str, call: Callable[..., object], *args: object) -> None:
        """Run one call and record its latency, or its error: a failure is counted, never fatal."""
        started = time.perf_counter()
        try:
            call(*args)
        except Exception as error:  # counted and shown: one failure must not stop the run
            with self._lock:
                self.errors[operation].append(f"{type(error).__name__}: {str(error)[:160]}")
            return
        with self._lock:
            self.latencies[operation].append(time.perf_counter() - started)

    @property
    def error_count(self) -> int:
        return sum(len(found) for found in self.errors.values())

    @property
    def calls(self) -> int:
        return sum(len(found) for found in self.latencies.values()) + self.error_count

    def lines(self) -> list[str]:
        """The printed report: p50/p99 per operation, the overall rate, and the first error of each kind."""
        rows = []
        for operation, found in sorted(self.latencies.items()):
            ms = sorted(x * 1000 for x in found)
            p99 = statistics.quantiles(ms, n=100)[98] if len(ms) > 1 else ms[0]
            rows.append(f"{operation:<12} n={len(ms):>5}  p50={statistics.median(ms):7.1f} ms  p99={p99:7.1f} ms  "
                        f"errors={len(self.errors.get(operation, []))}")
        rows.append(f"{self.clients} clients, {self.seconds:.0f} s: {self.calls} calls, "
                    f"{self.calls / max(self.seconds, 1e-9):.0f} calls/s, errors: {self.error_count}"
                    + ("" if self.methods_available else "; direct methods not served, step skipped"))
        rows += [f"error in {op}: {messages[0]}" for op, messages in sorted(self.errors.items())]
        return rows


def _credential(conn: Connection) -> ClientSecretCredential:
    return ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret, authority=conn.authority_host,
                                  disable_instance_discovery=True)


def methods_available(rm: IoTHubRegistryManager) -> bool:
    """Whether the sandbox serves direct methods (a route that is not there answers a plain 404)."""
    try:
        rm.invoke_device_method(SEEDED_DEVICE, CloudToDeviceMethod(method_name="getMaxMinReport", payload={},
                                                                   response_timeout_in_seconds=10))
    except HttpOperationError as error:
        if error.response.status_code == 404 and "iothub-errorcode" not in error.response.headers:
            return False
        raise
    return True


def _client_loop(conn: Connection, index: int, result: LoadResult, start: threading.Barrier,
                 stop: threading.Event) -> None:
    credential = _credential(conn)
    with clients.closing(clients.registry_manager(conn.hub_host, credential)) as rm:
        own_device = f"load-{index}-{os.getpid()}"
        result.timed("create", rm.create_device_with_sas, own_device, None, None, "enabled")
        start.wait()
        iteration = 0
        while not stop.is_set():
            iteration += 1
            result.timed("token", _credential(conn).get_token, SCOPE)
            result.timed("get_device", rm.get_device, SEEDED_DEVICE)
            result.timed("get_twin", rm.get_twin, own_device)
            patch = Twin(properties=TwinProperties(desired={"iteration": iteration}))
            result.timed("patch_twin", rm.update_twin, own_device, patch, "*")
            result.timed("query", rm.query_iot_hub, QuerySpecification(query=QUERY), None, 100)
            if result.methods_available:
                call = CloudToDeviceMethod(method_name="getMaxMinReport", payload={"since": iteration},
                                           response_timeout_in_seconds=10)
                result.timed("method", rm.invoke_device_method, SEEDED_DEVICE, call)


def run_load(conn: Connection, client_count: int, seconds: float) -> LoadResult:
    """Run ``client_count`` clients for ``seconds`` against the sandbox of ``conn``; the CA must already be trusted."""
    result = LoadResult(client_count)
    with clients.closing(clients.registry_manager(conn.hub_host, _credential(conn))) as rm:
        result.methods_available = methods_available(rm)
    start, stop = threading.Barrier(client_count + 1), threading.Event()
    threads = [threading.Thread(target=_client_loop, args=(conn, i, result, start, stop))
               for i in range(client_count)]
    for thread in threads:
        thread.start()
    start.wait()  # every client has its credential, client and device: the timed run begins
    begun = time.monotonic()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - begun
    return result


@contextmanager
def temporary_sandbox() -> Iterator[Connection]:
    """A sandbox in a temporary state folder, its CA trusted by requests; stopped and removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state"
        conn = process.start(state)
        realism.switch_off(state)  # measure the sandbox, not a tier's throttles or the query lag
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            yield conn
        finally:
            process.stop(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    with temporary_sandbox() as conn:
        result = run_load(conn, args.clients, args.seconds)
    print("\n".join(result.lines()))
    return 1 if result.error_count else 0


if __name__ == "__main__":
    sys.exit(main())
