"""Binder's environment, built from ``binder/`` alone: a fresh virtual environment, ``pip install -r
binder/requirements.txt`` from the repository's root (as repo2docker does), then ``binder/start`` launching the
setup notebook under nbval. Slow (an install), but the pip cache makes a rebuild take a minute or two."""

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


def _run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_fresh_binder_environment_runs_the_setup_notebook(tmp_path: Path) -> None:
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
    _run([str(python), "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"], env, timeout=1500)
    try:
        result = _run([str(BINDER / "start"), str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q",
                       "notebooks/00_setup_check.ipynb"], env, timeout=600)
    finally:
        subprocess.run([str(python), "-m", "kit.sandbox", "stop", "--state-dir", env["KIT_SANDBOX_DIR"]],
                       check=False, cwd=REPO, env=env, capture_output=True, timeout=60)
    assert " passed" in result.stdout and "failed" not in result.stdout
