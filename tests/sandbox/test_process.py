"""The sandbox process: start, reuse, status, the connection file and its permissions, stop and reset."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from kit.sandbox import process
from kit.sandbox.connection import load_connection


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
    assert json.loads(result.stdout)["pid"] == sandbox.pid


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
