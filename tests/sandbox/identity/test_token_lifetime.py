"""A token expiring during a long session: ``token lifetime SECONDS`` (sandbox only) shortens the access tokens the
sandbox issues, so a test sees one expire and the real SDK get the next through its credential, over HTTPS and over
AMQP (uamqp puts the new token on its open connection), and sees the hub refuse a connection whose token expired."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential
from azure.iot.hub import IoTHubRegistryManager
from proton.utils import SendException

from kit import clients
from kit.sandbox.connection import Connection
from kit.sandbox.identity.issuance import ACCESS_TOKEN_LIFETIME_S
from kit.sandbox.tls import ensure_tls
from tests.sandbox.hub.transport.test_amqp import Cbs, connect, devicebound

SHORT_S = 8
SCOPE = "https://iothubs.azure.net/.default"


def token_lifetime(sandbox: Connection, *value: str, ok: bool = True) -> dict[str, Any] | str:
    done = subprocess.run([sys.executable, "-m", "kit.sandbox", "token", "lifetime", *value,
                           "--state-dir", sandbox.state_dir], capture_output=True, text=True, timeout=60)
    assert (done.returncode == 0) == ok, done.stderr
    return json.loads(done.stdout) if ok else done.stderr


@pytest.fixture
def short_tokens(sandbox: Connection, request: pytest.FixtureRequest) -> Iterator[int]:
    """The session sandbox issues tokens of ``SHORT_S`` seconds (or the test's parameter) during the test, then an
    hour again."""
    seconds = getattr(request, "param", SHORT_S)
    assert token_lifetime(sandbox, str(seconds)) == {"access_token_lifetime_s": seconds, "default": False}
    try:
        yield seconds
    finally:
        assert token_lifetime(sandbox, "default")["default"] is True


class Recorded:
    """A real credential whose every ``get_token`` result is kept, to see when the SDK asked for a new token."""

    def __init__(self, credential: ClientSecretCredential) -> None:
        self.credential = credential
        self.tokens: list[AccessToken] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self.credential.get_token(*scopes, **kwargs)
        self.tokens.append(token)
        return token


@pytest.fixture
def recorded(sandbox: Connection) -> Callable[[], Recorded]:
    return lambda: Recorded(ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                                   authority=sandbox.authority_host, disable_instance_discovery=True))


def test_the_lifetime_is_shown_set_and_refused_when_out_of_range(sandbox: Connection, short_tokens: int,
                                                                 recorded) -> None:
    assert token_lifetime(sandbox) == {"access_token_lifetime_s": short_tokens, "default": False}
    token = recorded().get_token("https://iothubs.azure.net/.default")
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["exp"] - time.time() <= short_tokens and token.expires_on - time.time() <= short_tokens
    assert "seconds: 2 is outside 5 to 3599" in token_lifetime(sandbox, "2", ok=False)
    assert "not a whole number" in token_lifetime(sandbox, "soon", ok=False)
    assert token_lifetime(sandbox)["access_token_lifetime_s"] == short_tokens
    assert ACCESS_TOKEN_LIFETIME_S == 3599


@pytest.mark.slow
def test_the_sdk_gets_a_new_token_when_its_token_expires_during_a_session(sandbox: Connection, short_tokens: int,
                                                                         recorded) -> None:
    credential = recorded()
    with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as registry:
        assert registry.get_twin("thermostat-a-1").device_id == "thermostat-a-1"
        first = credential.tokens[-1]
        time.sleep(max(0.0, first.expires_on - time.time()) + 1)  # the first token has expired now
        assert registry.get_twin("thermostat-a-1").device_id == "thermostat-a-1"
        used = credential.tokens[-1]
    assert used.token != first.token, "the SDK should have asked the credential for a new token"
    assert used.expires_on > time.time() > first.expires_on


@pytest.mark.slow
@pytest.mark.parametrize("short_tokens", [20], indirect=True)
def test_uamqp_puts_a_new_token_on_its_open_connection_before_the_first_expires(
        sandbox: Connection, amqp_ready: int, short_tokens: int, recorded) -> None:
    """The SDK's cloud-to-device client keeps one AMQP connection; uamqp puts a new CBS token on it in the last
    tenth of the token's life (whole seconds, hence 20 s here; an idle connection is not refreshed). The hub refuses
    a send on a connection whose token has expired, so sends after the first token's ``exp`` prove the refreshed
    token was accepted on the same connection."""
    credential = recorded()
    with clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as registry:
        first = credential.tokens[-1]
        sent_after_expiry = 0
        while time.time() < first.expires_on + 3:
            registry.send_c2d_message("thermostat-a-1", "keep the connection busy")
            sent_after_expiry += time.time() > first.expires_on
            time.sleep(0.25)
    assert sent_after_expiry > 5
    assert len({token.token for token in credential.tokens}) >= 2


@pytest.mark.slow
def test_an_amqp_connection_whose_token_expired_is_refused(sandbox: Connection, amqp_ready: int, short_tokens: int,
                                                           recorded) -> None:
    """A client that never puts a new token (proton's own, not uamqp) may send until its token's ``exp``, not after.
    The real hub allows a few minutes of grace after ``exp``; the sandbox refuses at ``exp`` (docs/parity.md)."""
    token = recorded().get_token("https://iothubs.azure.net/.default")
    connection = connect(SimpleNamespace(port=amqp_ready), ensure_tls(Path(sandbox.state_dir)))
    try:
        assert Cbs(connection).put_token("Bearer " + token.token).properties["status-code"] == 200
        sender = connection.create_sender("/messages/devicebound")
        sender.send(devicebound("thermostat-a-1"))
        time.sleep(max(0.0, token.expires_on - time.time()) + 1)
        with pytest.raises(SendException) as refused:
            sender.send(devicebound("thermostat-a-1"))
    finally:
        connection.close()
    assert refused.value.state == refused.value.state.REJECTED


@pytest.mark.slow
def test_the_federated_token_file_rotating_under_a_running_credential(sandbox: Connection, short_tokens: int,
                                                                      tmp_path: Path) -> None:
    """Kubernetes replaces the projected token file while the pod runs. azure-identity's WorkloadIdentityCredential
    keeps the token it read for up to 10 minutes (``TokenFileMixin``); a replacement in the meantime must not break
    it, and a credential that reads the file next uses the new token. Access tokens are short here, so the running
    credential goes back to the token endpoint, with an assertion, once its first access token expired."""
    token_file = tmp_path / "azure-identity-token"

    def rotate() -> str:
        subprocess.run([sys.executable, "-m", "kit.sandbox", "token", "workload", "--out", str(token_file),
                        "--state-dir", sandbox.state_dir], check=True, capture_output=True, timeout=60)
        return token_file.read_text()

    def credential() -> WorkloadIdentityCredential:
        return WorkloadIdentityCredential(tenant_id=sandbox.tenant_id, client_id=sandbox.client_id,
                                          token_file_path=str(token_file), authority=sandbox.authority_host)

    first = rotate()
    running = credential()
    before = running.get_token(SCOPE)
    time.sleep(1.1)  # the next workload token has another iat, so another value
    assert rotate() != first  # replaced atomically (write, then rename), as the kubelet does
    time.sleep(max(0.0, before.expires_on - time.time()) + 1)
    after = running.get_token(SCOPE)
    assert after.token != before.token and after.expires_on - time.time() <= short_tokens
    restarted = credential().get_token(SCOPE)  # a new pod (or a credential past its 10 minutes) reads the new file
    assert jwt.decode(restarted.token, options={"verify_signature": False})["appid"] == sandbox.client_id
