"""Every notebook again, the way a learner with a real subscription runs it ("Azure mode").

The sandbox is presented as a cloud, the way a sovereign cloud or Azure Stack Hub is: the settings say
``target="azure"`` and give the sandbox's endpoints as the cloud's (authority, Microsoft Graph, Azure Resource
Manager, hub host) with the hub's subscription, resource group and name. The administrator principal signs in as the
learner's own account would (its secret in ``KIT_ADMIN_CLIENT_SECRET``), the learner app's secret comes from
``KIT_CLIENT_SECRET`` as the README tells learners, and the sandbox's CA is trusted through
``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``, like a corporate proxy's CA. The kernel gets an empty sandbox folder, so
``%sandbox``, ``session.connection`` and ``connection.json`` are out of reach: a cell that still needs them fails
here unless it is guarded by ``if session.on_sandbox:``.

One pytest subprocess runs all notebooks under nbval (pyproject's options), to keep the time down, taking the
solution version of each notebook with exercises (notebooks/solutions/) so that every exercise's check runs here too;
the test checks that it passed and that every code cell ran (none skipped), and prints the wall time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from kit import magics
from kit.sandbox.connection import Connection, amqp_required
from kit.sandbox.paths import STATE_DIR_ENV
from kit.settings import SETTINGS_FILE_ENV

REPO = Path(__file__).resolve().parents[1]
# Each notebook's solution version where it has one (notebooks/solutions/), so the exercises run on "Azure" too.
NOTEBOOKS = [REPO / "notebooks" / "solutions" / path.name if (REPO / "notebooks" / "solutions" / path.name).exists()
             else path for path in sorted((REPO / "notebooks").glob("*.ipynb"))]
PNP_DEVICE = "10-controller"
HUB_UNITS = 20  # what notebook 08 gives the sandbox's hub for the same bulk work
TIME_LIMIT_S = 600  # a hung kernel fails the test instead of CI; the course's own target is 3 minutes


def code_cells(path: Path) -> int:
    return sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)


def azure_mode_environment(sandbox: Connection, folder: Path) -> dict[str, str]:
    """Settings and variables of a learner on real Azure whose cloud happens to be the sandbox."""
    settings = folder / "settings.json"
    settings.write_text(json.dumps({
        "target": "azure", "tenant_id": sandbox.tenant_id, "client_id": sandbox.client_id,
        "hub_host": sandbox.hub_host, "authority_host": sandbox.authority_host, "credential_kind": "client_secret",
        "graph_endpoint": sandbox.graph_endpoint, "arm_endpoint": sandbox.arm_endpoint,
        "subscription_id": sandbox.subscription_id, "resource_group": sandbox.resource_group,
        "hub_name": sandbox.hub_name,
        "admin_credential_kind": "client_secret", "admin_client_id": sandbox.admin_client_id,
    }))
    empty, blobs = folder / "no-sandbox", folder / "blob-container"
    empty.mkdir()
    blobs.mkdir()
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("AZURE_", "IDENTITY_", "KIT_"))}
    return {**environment, "KIT_NOTEBOOK_MODE": "azure", "KIT_TARGET": "azure",
            SETTINGS_FILE_ENV: str(settings), STATE_DIR_ENV: str(empty),
            "KIT_CLIENT_SECRET": sandbox.client_secret, "KIT_ADMIN_CLIENT_SECRET": sandbox.admin_client_secret,
            # the cloud's blob storage: the sandbox's containers are folders (notebook 09)
            "KIT_BLOB_CONTAINER_URI": blobs.as_uri(),
            "REQUESTS_CA_BUNDLE": sandbox.ca_bundle, "SSL_CERT_FILE": sandbox.ca_bundle}


@pytest.mark.slow
def test_every_notebook_runs_on_azure_settings_with_no_sandbox_in_reach(
        sandbox: Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if sandbox.amqp_note and not amqp_required():  # a real hub always has AMQP; this sandbox has not
        pytest.skip(f"Azure mode needs the sandbox's AMQP port for notebook 10: {sandbox.amqp_note}")
    # What a learner on Azure prepares: a Plug and Play device (Microsoft's sample) running as 10-controller for
    # notebook 10, and a hub with the units 08's bulk creates and deletes need (08: az iot hub update --unit ...).
    assert magics.sandbox_command(f"pnp-device add {PNP_DEVICE}")["device_id"] == PNP_DEVICE
    tier = magics.sandbox_command("hub-tier")
    magics.sandbox_command(f"hub-tier {tier['tier']} --units {HUB_UNITS}")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, NOTEBOOKS)]
    started = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=REPO, env=azure_mode_environment(sandbox, tmp_path),
                                capture_output=True, text=True, timeout=TIME_LIMIT_S, check=False)
    finally:
        magics.sandbox_command(f"hub-tier {tier['tier']} --units {tier['units']}")
    wall = time.perf_counter() - started
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    expected = sum(code_cells(path) for path in NOTEBOOKS)
    assert passed and int(passed.group(1)) == expected, f"{summary}: expected all {expected} code cells to run"
    assert not re.search(r"skipped|xfail", summary), summary
    # no kernel started or wrote a sandbox of its own: the folder it was given is as empty as before
    assert list((tmp_path / "no-sandbox").iterdir()) == []
    with capsys.disabled():
        print(f"\nAzure mode: {len(NOTEBOOKS)} notebooks, {expected} cells passed in {wall:.0f} s wall time")
    for secret in (sandbox.client_secret, sandbox.admin_client_secret):
        assert secret not in result.stdout + result.stderr
