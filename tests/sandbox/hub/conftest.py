"""Fixtures of the hub-side tests: the real SDK clients (token credential and connection string), role apps,
and a raw HTTPS caller for what the SDK cannot send (odd If-Match forms, bad api-versions, forged tokens)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.sastoken import SasToken

from kit import clients
from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub.jobs import store as job_store
from kit.sandbox.hub.limits import realism, sku
from kit.sandbox.hub.security import sas
from kit.sandbox.hub.transport.http import API_VERSION


def credential_for(conn: Connection, client_id: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(conn.tenant_id, client_id, secret, authority=conn.authority_host,
                                  disable_instance_discovery=True)


@pytest.fixture(scope="session")
def contributor_credential(sandbox: Connection) -> ClientSecretCredential:
    """The sandbox's default app, which holds IoT Hub Data Contributor."""
    return credential_for(sandbox, sandbox.client_id, sandbox.client_secret)


@pytest.fixture(scope="session")
def token_registry(sandbox: Connection, contributor_credential) -> Iterator[IoTHubRegistryManager]:
    with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, contributor_credential)) as rm:
        yield rm


@pytest.fixture(scope="session")
def sas_registry(sandbox: Connection) -> Iterator[IoTHubRegistryManager]:
    with clients.closing(IoTHubRegistryManager.from_connection_string(sandbox.hub_connection_string)) as rm:
        yield rm


@pytest.fixture(params=["token", "connection_string"])
def registry(request: pytest.FixtureRequest) -> IoTHubRegistryManager:
    """Each test runs through both ways of building the registry manager."""
    return request.getfixturevalue("token_registry" if request.param == "token" else "sas_registry")


@pytest.fixture
def new_id() -> Callable[[str], str]:
    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"
    return make


def enabled_device(registry: IoTHubRegistryManager, device_id: str) -> Iterator[str]:
    """Body of a device fixture: ``device_id`` made through ``registry`` (enabled, SAS keys), deleted afterwards."""
    registry.create_device_with_sas(device_id, None, None, "enabled")
    yield device_id
    registry.delete_device(device_id)


@pytest.fixture
def token_device(token_registry: IoTHubRegistryManager, new_id: Callable[[str], str]) -> Iterator[str]:
    """A new enabled device made through the token registry manager, for one test."""
    yield from enabled_device(token_registry, new_id("dev"))


def policy_key(conn: Connection, name: str) -> str:
    db = Database.in_state_dir(Path(conn.state_dir))
    try:
        return sas.load_policies(db)[name].primary_key
    finally:
        db.close()


class HubHttp:
    """Raw requests to the sandbox hub, authenticated like the SDK does (SAS of a policy, or a bearer token)."""

    def __init__(self, conn: Connection, credential: ClientSecretCredential) -> None:
        self.conn = conn
        self.credential = credential
        self.session = requests.Session()
        self.session.verify = conn.ca_bundle

    def sas(self, policy: str = "iothubowner") -> str:
        return str(SasToken(self.conn.hub_host, policy_key(self.conn, policy), policy))

    def bearer(self) -> str:
        return "Bearer " + self.credential.get_token("https://iothubs.azure.net/.default").token

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             authorization: str | None = "sas", api_version: str | None = API_VERSION) -> requests.Response:
        sent = dict(headers or {})
        if authorization == "sas":
            sent["Authorization"] = self.sas()
        elif authorization == "bearer":
            sent["Authorization"] = self.bearer()
        elif authorization is not None:
            sent["Authorization"] = authorization
        params = {"api-version": api_version} if api_version is not None else {}
        data = None if body is None else json.dumps(body)
        if data is not None:
            sent.setdefault("Content-Type", "application/json; charset=utf-8")
        return self.session.request(method, f"https://{self.conn.hub_host}{path}", params=params, data=data,
                                    headers=sent, timeout=30)


@pytest.fixture(scope="session")
def hub(sandbox: Connection, contributor_credential) -> HubHttp:
    return HubHttp(sandbox, contributor_credential)


def error_code(response: requests.Response) -> str:
    return response.headers.get("iothub-errorcode", "")


@pytest.fixture(scope="session")
def role_app(sandbox: Connection) -> Callable[[str | None], dict[str, str]]:
    """``role_app("IoT Hub Data Reader")``: an app registration holding that role (None: no role), made with the
    sandbox's admin command as a learner would; created once per session."""
    made: dict[str | None, dict[str, str]] = {}

    def create(role: str | None) -> dict[str, str]:
        if role not in made:
            name = "app-" + (role or "none").lower().replace(" ", "-") + "-" + uuid.uuid4().hex[:6]
            command = [sys.executable, "-m", "kit.sandbox", "app", "create", "--name", name,
                       "--state-dir", sandbox.state_dir]
            if role:
                command += ["--role", role]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            made[role] = json.loads(result.stdout)
        return made[role]

    return create


@pytest.fixture(scope="session")
def role_credential(sandbox: Connection, role_app) -> Callable[[str | None], ClientSecretCredential]:
    """``role_credential("IoT Hub Data Reader")``: a credential of an app holding that role (None: no role)."""
    def make(role: str | None) -> ClientSecretCredential:
        app = role_app(role)
        return credential_for(sandbox, app["client_id"], app["client_secret"])
    return make


@pytest.fixture
def s1_one_unit(state_db: Database, hub: HubHttp) -> Iterator[None]:
    """An S1 hub with one unit and full throttle buckets (throttling switched off, one request, on again); the
    tier, units and knobs are put back afterwards."""
    saved = job_store.tier(state_db), sku.units(state_db)
    sku.set_sku(state_db, "S1", 1)
    realism.ensure(state_db, {"throttling": False})
    hub.call("GET", "/devices")  # a throttled operation while throttling is off: the hub starts over with full buckets
    realism.ensure(state_db, {"throttling": True})
    yield
    realism.ensure(state_db, {"throttling": False})
    sku.set_sku(state_db, *saved)
