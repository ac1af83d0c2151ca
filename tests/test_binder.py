"""Binder's environment, built from ``binder/`` alone: a fresh virtual environment, ``pip install -r
binder/requirements.txt`` from the repository's root (as repo2docker does), then ``binder/start`` handing over to a
command in that environment. Slow (an install), but the pip cache makes a rebuild take about a minute.

The command is what the setup notebook's first cells do (the kit and every dependency import, the session finds the
sandbox ``binder/start`` started, a token and a hub call), not a second run of the notebook: nbval runs every notebook
in the same session already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"


def test_binder_files_pin_a_python_the_sdks_support() -> None:
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime in {"python-3.11", "python-3.12"}, "uamqp (azure-iot-hub) has no wheels for Python 3.13"
    assert "-r ../requirements.txt" in (BINDER / "requirements.txt").read_text()
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    assert start.read_text().rstrip().endswith('exec "$@"'), "binder/start must hand over to the notebook server"


# Run by binder/start in the fresh environment.
SETUP_CHECK = """
import importlib, pkgutil
import ipykernel, jupyterlab
import kit, kit.checks, kit.session
from azure.identity import DefaultAzureCredential
for module in pkgutil.walk_packages(kit.__path__, "kit."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
kit.checks.environment_ready()
session = kit.session.begin(quiet=True)
print(kit.checks.connectivity(session.settings, DefaultAzureCredential()))
"""
UNREACHABLE = ("Temporary failure in name resolution", "Network is unreachable", "Failed to establish a new connection")


def _run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_fresh_binder_environment_reaches_the_sandbox(sandbox, tmp_path: Path) -> None:
    """``sandbox`` first: the session's sandbox owns AMQP port 5671 before Binder's starts (it needs none here)."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AZURE_", "KIT_", "PYTEST_", "VIRTUAL_ENV")) and key not in (
               "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "PYTHONPATH", "IDENTITY_ENDPOINT", "IDENTITY_HEADER")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               HOME=os.environ.get("HOME", str(tmp_path)), KIT_SANDBOX_DIR=str(tmp_path / "binder-sandbox"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = [str(python), "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"]
    installed = subprocess.run(install, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    if installed.returncode != 0 and any(reason in installed.stderr for reason in UNREACHABLE):
        pytest.skip("the package index is unreachable from here (no network, e.g. in a namespace of its own); "
                    ".ci/run installs from it first, so CI runs this test")
    assert installed.returncode == 0, f"{' '.join(install)} failed:\n{installed.stderr[-4000:]}"
    try:
        result = _run([str(BINDER / "start"), str(python), "-c", SETUP_CHECK], env, timeout=600)
    finally:
        subprocess.run([str(python), "-m", "kit.sandbox", "stop", "--state-dir", env["KIT_SANDBOX_DIR"]],
                       check=False, cwd=REPO, env=env, capture_output=True, timeout=60)
    assert "devices registered" in result.stdout
