"""Shared fixtures: one real sandbox per test session, in a temporary state folder.

Tests drive the real azure-identity and azure-iot-hub packages against it over HTTPS. The trust variables are
set for the whole session, exactly as the kit sets them for a learner. ``KIT_SANDBOX_DIR`` and ``KIT_SETTINGS_FILE``
point into a temporary folder before anything runs, so the notebooks (run by nbval in kernels that inherit this
environment) share the same sandbox, and neither touches the learner's own state or settings.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.paths import STATE_DIR_ENV, resolve_state_dir

SETTINGS_FILE_ENV = "KIT_SETTINGS_FILE"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    scratch = Path(tempfile.mkdtemp(prefix="kit-tests-"))
    os.environ[STATE_DIR_ENV] = str(scratch / "sandbox")
    os.environ[SETTINGS_FILE_ENV] = str(scratch / "settings.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the session's sandbox, whoever started it (a test fixture or a notebook)."""
    if os.environ.get(STATE_DIR_ENV):
        process.stop(os.environ[STATE_DIR_ENV])


@pytest.fixture(scope="session")
def sandbox_dir() -> Path:
    return resolve_state_dir()


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path) -> Iterator[Connection]:
    """A running sandbox; its CA bundle is trusted by requests (REST) and OpenSSL (uamqp) for the session."""
    conn = process.start(sandbox_dir)
    os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
    os.environ["SSL_CERT_FILE"] = conn.ca_bundle
    yield conn
