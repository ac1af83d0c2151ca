"""The sandbox process: start, reuse, status, the connection file and its permissions, stop and reset, two starts at
once, and what a restart keeps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from azure.identity import ClientSecretCredential

from kit.sandbox import process
from kit.sandbox.connection import load_connection
from kit.sandbox.hub.transport.http import API_VERSION
from kit.sandbox.paths import TLS_DIR

SCOPE = "https://iothubs.azure.net/.default"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kit.sandbox", *args], capture_output=True, text=True, timeout=60)


def test_second_start_finds_the_running_sandbox(sandbox, sandbox_dir: Path) -> None:
    again = process.start(sandbox_dir)
    assert again.pid == sandbox.pid
    assert again.port == sandbox.port


def test_connection_file_is_private_and_complete(sandbox, sandbox_dir: Path) -> None:
    path = sandbox_dir / "connection.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    for key in ("tenant_id", "authority_host", "hub_host", "ca_bundle", "client_id", "client_secret",
                "certificate_path", "federated_token_file", "identity_endpoint", "identity_header"):
        assert key in data, key
    assert data["authority_host"].startswith("https://")
    assert "://" not in data["hub_host"]
    assert Path(data["ca_bundle"]).read_text().count("BEGIN CERTIFICATE") > 10  # certifi's roots + our CA


def test_connection_repr_hides_secrets(sandbox) -> None:
    text = repr(load_connection(sandbox.state_dir))
    assert sandbox.client_secret not in text or not sandbox.client_secret
    assert "client_secret" not in text
    assert "identity_header" not in text


def test_status_command_reports_running(sandbox, sandbox_dir: Path) -> None:
    result = _cli("status", "--state-dir", str(sandbox_dir))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["pid"] == sandbox.pid
    assert (shown["graph_endpoint"], shown["arm_endpoint"]) == (sandbox.graph_endpoint, sandbox.arm_endpoint)


def test_start_stop_reset_in_a_fresh_folder(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    started = _cli("start", "--state-dir", str(folder))
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["status"] == "running"
    assert (folder / "tls" / "ca.pem").exists()
    stopped = _cli("stop", "--state-dir", str(folder))
    assert json.loads(stopped.stdout)["was_running"] is True
    assert _cli("status", "--state-dir", str(folder)).returncode == 3
    ca_before = (folder / "tls" / "ca.pem").read_bytes()
    assert _cli("reset", "--state-dir", str(folder)).returncode == 0
    assert not (folder / "state.sqlite3").exists()
    assert (folder / "tls" / "ca.pem").read_bytes() == ca_before  # trust survives a reset


def test_folders_made_for_secrets_are_owner_only(sandbox_dir: Path, sandbox) -> None:
    secrets = sandbox_dir / "secrets"
    assert secrets.is_dir()
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700


def serve_processes(folder: Path) -> list[int]:
    """Pids of ``kit.sandbox serve`` processes for ``folder`` (from /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in words and str(folder).encode() in words:
            found.append(int(cmdline.parent.name))
    return found


@pytest.mark.slow
def test_two_starts_at_once_on_one_folder_start_one_sandbox(sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "state"
    shutil.copytree(Path(sandbox.state_dir) / TLS_DIR, folder / TLS_DIR)  # no new CA: the test is about the start
    starts = [subprocess.Popen([sys.executable, "-m", "kit.sandbox", "start", "--state-dir", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        results = [start.communicate(timeout=120) for start in starts]
        assert [start.returncode for start in starts] == [0, 0], [err for _, err in results]
        pids = {json.loads(out)["pid"] for out, _ in results}
        assert len(pids) == 1, f"two sandboxes started on one folder: {pids}"
        assert serve_processes(folder) == list(pids)
    finally:
        process.stop(folder)
        for pid in serve_processes(folder):  # a second sandbox this test started, if the start was not exclusive
            os.kill(pid, signal.SIGTERM)


@pytest.mark.slow
def test_a_restart_keeps_the_identity_side_and_the_port(private_sandbox) -> None:
    """Apps, secrets, signing keys and the port survive a stop and a start; a token issued before still verifies."""
    first = private_sandbox()
    authority = {"authority": first.authority_host, "disable_instance_discovery": True}
    token = ClientSecretCredential(first.tenant_id, first.client_id, first.client_secret, **authority).get_token(
        SCOPE).token
    created = _cli("app", "create", "--name", "survives-restart", "--role", "IoT Hub Data Reader",
                   "--state-dir", first.state_dir)
    app = json.loads(created.stdout)
    keys_url = f"{first.authority_host}/{first.tenant_id}/discovery/v2.0/keys"
    keys = requests.get(keys_url, timeout=10).json()

    assert process.stop(first.state_dir)
    again = private_sandbox(state_dir=Path(first.state_dir))

    assert again.pid != first.pid
    assert (again.port, again.authority_host, again.hub_host) == (first.port, first.authority_host, first.hub_host)
    assert (again.tenant_id, again.client_id, again.client_secret) == (first.tenant_id, first.client_id,
                                                                       first.client_secret)
    assert requests.get(keys_url, timeout=10).json() == keys
    statistics = requests.get(f"https://{again.hub_host}/statistics/devices", params={"api-version": API_VERSION},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert statistics.status_code == 200, statistics.text  # the token from before the restart
    reader = ClientSecretCredential(again.tenant_id, app["client_id"], app["client_secret"], **authority)
    assert reader.get_token(SCOPE).token
