"""Identity-side figures: the sandbox's cold start and the client-secret token round trip.

Cold start: ``python -m kit.sandbox start`` in a fresh temporary state folder (keys, CA and directory are created),
until the sandbox answers; then a warm restart of the same folder. Round trip: a fresh ClientSecretCredential per
call (so msal's cache never answers), discovery + token, median of N.

    python benchmarks/bench_identity.py [-n 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from azure.identity import ClientSecretCredential

from kit.sandbox import process
from kit.sandbox.connection import Connection

SCOPE = "https://iothubs.azure.net/.default"


def timed_start(folder: str) -> tuple[float, Connection]:
    """Start a sandbox and time it: the first start also creates the CA and keys."""
    began = time.perf_counter()
    conn = process.start(folder)
    return time.perf_counter() - began, conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="token round trips to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        try:
            cold, conn = timed_start(folder)
            process.stop(folder)
            warm, conn = timed_start(folder)
            os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
            rounds = []
            for _ in range(args.n):
                began = time.perf_counter()
                ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                       authority=conn.authority_host, disable_instance_discovery=True,
                                       ).get_token(SCOPE)
                rounds.append(time.perf_counter() - began)
        finally:
            process.stop(folder)
    print(f"cold start (fresh state folder): {cold:.2f} s  (target < 2 s)")
    print(f"warm start (existing state):     {warm:.2f} s")
    print(f"client-secret token round trip (fresh credential, discovery + token), n={args.n}: "
          f"median {statistics.median(rounds) * 1000:.1f} ms, "
          f"p90 {sorted(rounds)[int(0.9 * len(rounds))] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
