"""A longer schema-fuzzing run of the hub's REST API than the test suite's (same checks, more and new examples).

Starts a sandbox in a temporary state folder, fuzzes every operation of IoT Hub's 2021-04-12 OpenAPI document
with ``--examples`` generated requests (random ids, then ids pinned to a real device and module), and prints the
statuses per operation, the findings with their reasons, 5xx and unexplained findings.
Exit code 1 when a 5xx or an unexplained finding was seen.

Run: ``python benchmarks/fuzz_long.py [--examples 200]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from azure.identity import ClientSecretCredential

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.reliability

from benchmarks.bench_load import SCOPE, temporary_sandbox
from tests.reliability.fuzzing import fuzz_hub, summary_lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="generated requests per operation and pass")
    args = parser.parse_args()
    with temporary_sandbox() as conn:
        credential = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret,
                                            authority=conn.authority_host, disable_instance_discovery=True)
        authorization = "Bearer " + credential.get_token(SCOPE).token
        result = fuzz_hub(f"https://{conn.hub_host}", conn.ca_bundle, authorization, args.examples,
                          derandomize=False)
    print("\n".join(summary_lines(result)))
    for operation, finding, example in result.unexplained():
        print(f"UNEXPLAINED {operation}: {finding}\n    e.g. {example}")
    return 1 if result.server_errors or result.unexplained() else 0


if __name__ == "__main__":
    sys.exit(main())
