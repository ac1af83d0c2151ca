"""Shared fixtures: one real sandbox per test session, in a temporary state folder.

Tests drive the real azure-identity and azure-iot-hub packages against it over HTTPS. The trust variables are
set for the whole session, exactly as the kit sets them for a learner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.sandbox import process
from kit.sandbox.connection import Connection


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path) -> Iterator[Connection]:
    """A running sandbox; its CA bundle is trusted by requests (REST) and OpenSSL (uamqp) for the session."""
    conn = process.start(sandbox_dir)
    saved = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
    os.environ["SSL_CERT_FILE"] = conn.ca_bundle
    try:
        yield conn
    finally:
        process.stop(sandbox_dir)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
