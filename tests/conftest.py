"""Shared fixtures: one real sandbox per test session, in a temporary state folder.

Tests drive the real azure-identity and azure-iot-hub packages against it over HTTPS. The trust variables are
set for the whole session, exactly as the kit sets them for a learner. The scratch state folder and settings file
are chosen by the repository's root ``conftest.py``, so the notebooks run by nbval share the same sandbox.

The hub's realism knobs (throttling, query lag) are off for tests that use the sandbox, so hundreds of quick calls
stay quick; tests marked ``realism`` get the hub as Azure behaves (the defaults), and so do the notebooks (the root
``conftest.py`` switches the knobs back on before a notebook runs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential
from azure.iot.hub import IoTHubRegistryManager

from kit import clients
from kit.sandbox import process, rbac
from kit.sandbox.connection import AMQP_REQUIRED_ENV, Connection, amqp_required
from kit.sandbox.db import Database
from kit.sandbox.hub.limits import realism
from kit.sandbox.paths import TLS_DIR, resolve_state_dir
from tests.reliability.reporting import SANDBOX_FOLDERS

QUICK_HUB = realism.QUICK


@pytest.fixture(scope="session")
def sandbox_dir() -> Path:
    return resolve_state_dir()


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path) -> Iterator[Connection]:
    """A running sandbox; its CA bundle is trusted by requests (REST) and OpenSSL (uamqp) for the session, and its
    role assignments apply at once (no propagation delay)."""
    conn = process.start(sandbox_dir)
    db = Database.in_state_dir(Path(conn.state_dir))
    try:  # role assignments apply at once in tests; the tests of the delay set it themselves (``propagation``)
        rbac.set_propagation_seconds(db, 0)
    finally:
        db.close()
    os.environ["REQUESTS_CA_BUNDLE"] = conn.ca_bundle
    os.environ["SSL_CERT_FILE"] = conn.ca_bundle
    yield conn


@pytest.fixture(scope="session")
def amqp_ready(sandbox: Connection) -> int:
    """The session sandbox's AMQP port (5671). Only one process per network namespace can own it: when another has
    it, an AMQP test is skipped on a laptop, and fails where AMQP is required (CI, or ``KIT_REQUIRE_AMQP=1``)."""
    if sandbox.amqp_port is None:
        reason = f"this sandbox has no AMQP listener: {sandbox.amqp_note}"
        if amqp_required():
            pytest.fail(f"{reason}\nAMQP is required here (CI or {AMQP_REQUIRED_ENV}=1): run the tests in a network "
                        "namespace of their own, as .ci/run does.", pytrace=False)
        pytest.skip(reason)
    return sandbox.amqp_port


@pytest.fixture(scope="session")
def admin_credential(sandbox: Connection) -> ClientSecretCredential:
    """The sandbox's administrator (the learner's own account on Azure): Owner on the subscription, allowed to manage
    app registrations."""
    return ClientSecretCredential(sandbox.tenant_id, sandbox.admin_client_id, sandbox.admin_client_secret,
                                  authority=sandbox.authority_host, disable_instance_discovery=True)


@pytest.fixture(scope="module")
def credential(sandbox: Connection) -> ClientSecretCredential:
    """The sandbox's default app (IoT Hub Data Contributor), signed in with its secret as a learner's app is."""
    return ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                  authority=sandbox.authority_host, disable_instance_discovery=True)


@pytest.fixture(scope="module")
def registry(sandbox: Connection, credential: ClientSecretCredential) -> Iterator[IoTHubRegistryManager]:
    """A registry manager signed in as the sandbox's default app (IoT Hub Data Contributor), as a learner's is."""
    with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as manager:
        yield manager


@pytest.fixture
def private_sandbox(sandbox: Connection, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Callable[..., Connection]]:
    """``private_sandbox()`` starts a sandbox in a new temporary state folder (restartable with ``state_dir=``);
    every one started is stopped at teardown. It asks for the session sandbox first, so that one keeps AMQP port
    5671, and copies its TLS CA, so the trust variables the session set (read by requests and azure-identity) hold
    for it too."""
    started: list[Path] = []

    def start(state_dir: Path | None = None, **options) -> Connection:
        folder = state_dir or tmp_path_factory.mktemp("private-sandbox") / "state"
        if not (folder / TLS_DIR).exists():
            shutil.copytree(Path(sandbox.state_dir) / TLS_DIR, folder / TLS_DIR)
        started.append(folder)
        SANDBOX_FOLDERS.append(folder)
        conn = process.start(folder, **options)
        realism.switch_off(folder)  # like the session sandbox: quick unless a test asks for realism
        return conn

    yield start
    for folder in started:
        process.stop(folder)


@pytest.fixture
def propagation(sandbox: Connection) -> Iterator[Callable[[float], object]]:
    """``with propagation(2): ...`` makes new assignments apply after 2 s; the earlier delay comes back after."""
    db = Database.in_state_dir(Path(sandbox.state_dir))
    before = rbac.propagation_seconds(db)

    @contextmanager
    def delay(seconds: float) -> Iterator[None]:
        rbac.set_propagation_seconds(db, seconds)
        try:
            yield
        finally:
            rbac.set_propagation_seconds(db, before)

    try:
        yield delay
    finally:
        rbac.set_propagation_seconds(db, before)
        db.close()


@pytest.fixture(scope="session")
def state_db(sandbox: Connection) -> Iterator[Database]:
    """The running sandbox's database, for switching its realism knobs as ``python -m kit.sandbox realism`` does."""
    db = Database.in_state_dir(Path(sandbox.state_dir))
    yield db
    db.close()


@pytest.fixture(autouse=True)
def realism_for_test(request: pytest.FixtureRequest) -> None:
    """Knobs off for sandbox tests, Azure's defaults for tests marked ``realism`` (without starting a sandbox for
    tests that do not use one)."""
    if "sandbox" not in request.fixturenames:
        return
    db = request.getfixturevalue("state_db")
    azure = {name: realism.KNOBS[name].default for name in QUICK_HUB}
    realism.ensure(db, azure if request.node.get_closest_marker("realism") else QUICK_HUB)
