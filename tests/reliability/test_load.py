"""30 simultaneous clients run a workshop-like flow against one sandbox for 20 s without an error.

The flow and the figures come from ``benchmarks/bench_load.py`` (which runs longer); p50/p99 per operation are
printed in the terminal summary. Clients and sandbox share this machine's cores, and the clients share one Python
process, so latencies include client-side time under load; they are reported, not asserted.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_load import run_load
from tests.reliability.reporting import report

CLIENTS = 30
SECONDS = 20


@pytest.mark.slow
def test_thirty_clients_run_the_workshop_flow_without_errors(private_sandbox):
    conn = private_sandbox()
    result = run_load(conn, CLIENTS, SECONDS)
    for line in result.lines():
        report(f"load ({CLIENTS} clients, {SECONDS} s, one sandbox on loopback)", line)
    assert result.error_count == 0, dict(result.errors)
    # Every step of the flow ran: a route that went missing (the direct-method probe's plain 404) fails the test.
    assert result.methods_available, "direct methods answered a plain 404: the flow's method step has no route"
    expected = {"token", "create", "get_device", "get_twin", "patch_twin", "query", "method"}
    assert set(result.latencies) == expected
    assert len(result.latencies["create"]) == CLIENTS
    assert all(len(result.latencies[op]) >= CLIENTS for op in expected)
