"""Fuzzing the hub's REST API with schemathesis against IoT Hub's OpenAPI document (see ``fuzzing.py``).

A sandbox of its own in a temporary state folder takes the generated requests, so deleted devices, replaced twins
and purged queues do not disturb the other tests. Bounded: ``MAX_EXAMPLES`` requests per operation, twice (random
ids, then ids pinned to a real device and module). Longer runs: ``benchmarks/fuzz_long.py``.
"""

from __future__ import annotations

import pytest

from tests.reliability.fuzzing import fuzz_hub, summary_lines
from tests.reliability.reporting import report
from tests.sandbox.hub.conftest import HubHttp, credential_for

MAX_EXAMPLES = 10


@pytest.mark.slow
def test_fuzzed_requests_get_no_5xx_and_conform_to_the_document(private_sandbox):
    conn = private_sandbox()
    authorization = HubHttp(conn, credential_for(conn, conn.client_id, conn.client_secret)).bearer()
    result = fuzz_hub(f"https://{conn.hub_host}", conn.ca_bundle, authorization, MAX_EXAMPLES)
    for line in summary_lines(result):
        report("schema fuzzing (schemathesis, IoT Hub 2021-04-12 document)", line)
    assert result.requests > 0 and result.statuses
    assert result.server_errors == 0, [f for f in result.unexplained() if "server error" in f[1]]
    assert not result.unexplained(), "\n".join(" | ".join(row) for row in result.unexplained())
