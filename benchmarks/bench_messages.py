"""Cloud-to-device send round trip through the real SDK (``IoTHubRegistryManager.send_c2d_message``).

Starts a sandbox in a temporary state folder (it must be able to take port 5671), then times the first send (TLS,
SASL, CBS put-token and link attach included) and the steady state (one message on the open connection, accepted
by the hub), for an Entra ID token and for a connection string. Run:
``python benchmarks/bench_messages.py [--sends N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager

from kit import clients
from kit.sandbox import process
from kit.sandbox.hub.limits import realism

# The seeded thermostats are online: they take their messages, so the 50-message queue limit is never reached.
DEVICES = [f"thermostat-{building}-{number}" for building in "abc" for number in (1, 2)]


def measure(label: str, make_client: Callable[[], IoTHubRegistryManager], sends: int) -> None:
    """The first send (connect, CBS, attach) apart from the steady-state sends that reuse the AMQP link."""
    started = time.perf_counter()
    with clients.closing(make_client()) as registry:
        registry.send_c2d_message(DEVICES[0], "first")
        first = time.perf_counter() - started
        times = []
        for number in range(sends):
            started = time.perf_counter()
            registry.send_c2d_message(DEVICES[number % len(DEVICES)], f"message {number}")
            times.append(time.perf_counter() - started)
    print(f"{label:<18} first send (connect + CBS + attach): {first * 1000:7.1f} ms   "
          f"steady state: median {statistics.median(times) * 1000:6.2f} ms, "
          f"p95 {sorted(times)[int(len(times) * 0.95) - 1] * 1000:6.2f} ms over {sends} sends")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=200, help="messages per client after the first")
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-messages-"))
    conn = process.start(state_dir)
    realism.switch_off(state_dir)  # measure the sandbox, not a tier's throttles or the query lag
    try:
        if conn.amqp_port is None:
            raise SystemExit(conn.amqp_note)
        os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = conn.ca_bundle
        credential = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                            authority=conn.authority_host, disable_instance_discovery=True)
        credential.get_token("https://iothubs.azure.net/.default")  # token issuance is not part of the send
        measure("Entra ID token", lambda: IoTHubRegistryManager.from_token_credential(conn.hub_host, credential),
                args.sends)
        measure("connection string", lambda: IoTHubRegistryManager.from_connection_string(
            conn.hub_connection_string), args.sends)
    finally:
        process.stop(state_dir)


if __name__ == "__main__":
    main()
