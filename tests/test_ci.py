"""What ``.ci/run`` relies on: in CI mode (``CI=true``) a run whose sandbox cannot own AMQP port 5671 fails, rather
than skipping every cloud-to-device check, and the same run passes with the port free.

Each run gets a network namespace of its own (``unshare -n``, which needs root, as in CI); in the first one another
process holds port 5671 before the sandbox starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit.sandbox.connection import AMQP_REQUIRED_ENV, amqp_required

REPO = Path(__file__).resolve().parents[1]
C2D_TEST = "tests/sandbox/hub/devices/test_c2d.py::test_send_with_connection_string_and_positive_ack"
C2D_NOTEBOOK = "notebooks/10_methods_messages_and_digital_twins.ipynb"
# Run in the new namespace: bring loopback up (what `ip link set lo up` does, without needing iproute2), hold port
# 5671 when asked, then run the command given and exit with its code.
PRELUDE = """
import fcntl, socket, struct, subprocess, sys
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
with socket.socket() as probe:
    flags = struct.unpack("16sh", fcntl.ioctl(probe, SIOCGIFFLAGS, struct.pack("16sh", b"lo", 0))[:18])[1]
    fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
holder = socket.create_server(("127.0.0.1", 5671)) if sys.argv[1] == "hold" else None
sys.exit(subprocess.call(sys.argv[2:]))
"""


def own_network_namespaces() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


def pytest_in_own_network(*args: str, hold_amqp_port: bool) -> subprocess.CompletedProcess[str]:
    """``CI=true python -m pytest args`` in a new network namespace with loopback up."""
    command = ["unshare", "-n", sys.executable, "-c", PRELUDE, "hold" if hold_amqp_port else "free",
               sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTEST_") and name != AMQP_REQUIRED_ENV}
    return subprocess.run(command, cwd=REPO, env={**env, "CI": "true"}, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.slow
def test_ci_mode_fails_when_port_5671_is_held_and_passes_when_it_is_free() -> None:
    if not own_network_namespaces():
        reason = "no network namespace here (unshare -n needs root)"
        if amqp_required():
            pytest.fail(reason)
        pytest.skip(reason)
    held = pytest_in_own_network(C2D_TEST, C2D_NOTEBOOK, hold_amqp_port=True)
    assert held.returncode == 1, held.stdout[-3000:] + held.stderr[-2000:]
    assert f"ERROR {C2D_TEST}" in held.stdout and "AMQP is required here" in held.stdout
    assert "AmqpUnavailable" in held.stdout and f"FAILED {C2D_NOTEBOOK}" in held.stdout
    assert " skipped" not in held.stdout.splitlines()[-1]

    free = pytest_in_own_network(C2D_TEST, hold_amqp_port=False)
    assert free.returncode == 0, free.stdout[-3000:] + free.stderr[-2000:]
    assert free.stdout.splitlines()[-1].startswith("1 passed")
