"""Helpers for the identity side's tests: credential keyword arguments, raw HTTP, and directory changes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.identity import directory

IOT_HUB_SCOPE = "https://iothubs.azure.net/.default"


@pytest.fixture(scope="session")
def authority(sandbox: Connection) -> dict:
    """What every msal-based credential needs to reach the sandbox; no retries keep failures fast."""
    return {"authority": sandbox.authority_host, "disable_instance_discovery": True, "retry_total": 0}


@pytest.fixture(scope="session")
def http(sandbox: Connection) -> Iterator[httpx.Client]:
    """A plain HTTPS client, to see the status and body the sandbox answers with."""
    with httpx.Client(base_url=sandbox.authority_host,
                      verify=ssl.create_default_context(cafile=sandbox.ca_bundle)) as client:
        yield client


@pytest.fixture(scope="session")
def db(sandbox: Connection) -> Iterator[Database]:
    """The sandbox's directory, changed directly as the admin commands do."""
    database = directory.open_directory(Database.in_state_dir(Path(sandbox.state_dir)))
    yield database
    database.close()


def token_form(client_id: str, **fields: str) -> dict[str, str]:
    return {"client_id": client_id, "grant_type": "client_credentials", "scope": IOT_HUB_SCOPE, **fields}


def assert_entra_error(response: httpx.Response, status: int, code: int, error: str) -> dict:
    """The sandbox's error has Entra's shape, status and code."""
    body = response.json()
    assert response.status_code == status, body
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    for part in ("Trace ID: ", "Correlation ID: ", "Timestamp: "):
        assert part in body["error_description"]
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()
    return body
