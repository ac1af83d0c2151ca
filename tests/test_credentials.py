"""Every credential kind built by kit.credentials gets a token from the sandbox through the real azure-identity."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from kit import checks, credentials
from kit.sandbox.cli import environment, main
from kit.sandbox.db import Database
from kit.sandbox.identity import seed
from kit.settings import SandboxOnlyError, Settings

SCOPE = "https://iothubs.azure.net/.default"


@pytest.fixture
def clean_env():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def claims_of(credential) -> dict:
    return jwt.decode(credential.get_token(SCOPE).token, options={"verify_signature": False})


@pytest.mark.parametrize("kind", ["client_secret", "certificate", "client_assertion", "workload_identity",
                                  "environment", "default"])
def test_app_credentials(sandbox, clean_env, kind):
    settings = Settings.from_sandbox(sandbox, credential_kind=kind)
    credential = credentials.build(settings, retry_total=0)
    assert claims_of(credential)["appid"] == sandbox.client_id


@pytest.mark.parametrize("protocol", ["app_service", "imds"])
def test_managed_identity(sandbox, clean_env, protocol):
    credential = credentials.managed_identity(Settings.from_sandbox(sandbox), protocol)
    assert claims_of(credential)["appidacr"] == "2"
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST" in os.environ if protocol == "imds" else "IDENTITY_HEADER" in os.environ


def test_chained_and_device_code(sandbox, clean_env):
    settings = Settings.from_sandbox(sandbox, credential_kind="chained")
    db = Database.in_state_dir(Path(sandbox.state_dir))
    try:
        managed_identity = seed.system_assigned_identity(db)
    finally:
        db.close()
    chained = claims_of(credentials.build(settings))
    assert (chained["appid"], chained["oid"]) == (managed_identity.client_id, managed_identity.object_id)
    user = credentials.device_code(settings, prompt_callback=lambda *a: None, retry_total=0)
    assert claims_of(user)["upn"].startswith("learner@")


def test_sandbox_kwargs_are_the_visible_knobs(sandbox, clean_env):
    assert credentials.sandbox_kwargs(sandbox) == {"authority": sandbox.authority_host,
                                                   "disable_instance_discovery": True}
    assert os.environ["REQUESTS_CA_BUNDLE"] == os.environ["SSL_CERT_FILE"] == sandbox.ca_bundle


def azure_settings(authority: str, sandbox, **values) -> Settings:
    return Settings(target="azure", tenant_id=sandbox.tenant_id, client_id=sandbox.client_id,
                    hub_host=sandbox.hub_host, authority_host=authority, client_secret=sandbox.client_secret,
                    **values)


def test_a_microsoft_cloud_keeps_instance_discovery_and_any_other_authority_is_trusted_as_given(sandbox):
    public = azure_settings("https://login.microsoftonline.com", sandbox)
    assert credentials.authority_kwargs(public) == {"authority": "https://login.microsoftonline.com"}
    private = azure_settings(sandbox.authority_host, sandbox)
    assert credentials.authority_kwargs(private) == {"authority": sandbox.authority_host,
                                                     "disable_instance_discovery": True}


def test_azure_settings_reach_a_cloud_by_its_endpoints_alone_and_never_read_the_sandbox_files(sandbox, clean_env,
                                                                                               tmp_path):
    """The sandbox's endpoints given as a cloud's (the notebooks' Azure mode): a token without connection.json."""
    os.environ["KIT_SANDBOX_DIR"] = str(tmp_path)  # an empty folder: no sandbox files to find
    settings = azure_settings(sandbox.authority_host, sandbox)
    with pytest.raises(SandboxOnlyError, match="connection.json"):
        credentials.connection_for(settings)
    for kind in ("client_secret", "environment", "default"):
        built = credentials.build(settings.model_copy(update={"credential_kind": kind}))
        assert claims_of(built)["appid"] == sandbox.client_id, kind


def test_environment_variables_hold_the_secret_only_for_secret_kind(sandbox):
    cert = credentials.environment_variables(Settings.from_sandbox(sandbox, credential_kind="certificate"))
    assert "AZURE_CLIENT_SECRET" not in cert and cert["AZURE_CLIENT_CERTIFICATE_PATH"] == sandbox.certificate_path


TRIPWIRE_PROGRAM = """
from azure.identity import DefaultAzureCredential
token = DefaultAzureCredential().get_token("https://iothubs.azure.net/.default")
print("TOKEN-OK", len(token.token) > 100)
"""


def test_unmodified_default_azure_credential_with_kit_env_variables(sandbox):
    """`python -m kit.sandbox env` is enough for a bare DefaultAzureCredential(); any attempt to leave loopback
    (IMDS at 169.254.169.254, login.microsoftonline.com) would hit a refusing proxy and be recorded."""
    with socket.socket() as tripwire:
        tripwire.bind(("127.0.0.1", 0))
        tripwire.listen(8)
        tripwire.settimeout(0.2)
        proxy = f"http://127.0.0.1:{tripwire.getsockname()[1]}"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
               **environment(sandbox), "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy,
               "NO_PROXY": "localhost,127.0.0.1"}
        done = subprocess.run([sys.executable, "-c", TRIPWIRE_PROGRAM], env=env, capture_output=True, text=True,
                              timeout=120)
        attempts = []
        try:
            while True:
                conn, _ = tripwire.accept()
                attempts.append(conn.recv(256))
                conn.close()
        except (TimeoutError, OSError):
            pass
    assert "TOKEN-OK True" in done.stdout, done.stderr
    assert attempts == []


@pytest.fixture
def user_assigned(sandbox, capsys):
    main(["app", "create", "--managed-identity", "--name", "production-identity", "--role", "IoT Hub Data Reader",
          "--state-dir", sandbox.state_dir])
    identity = json.loads(capsys.readouterr().out)
    yield identity["client_id"]
    main(["app", "delete", "--app", identity["client_id"], "--state-dir", sandbox.state_dir])


@pytest.mark.parametrize(("deployment", "answers"), [("workload_identity", "WorkloadIdentityCredential"),
                                                      ("managed_identity", "ManagedIdentityCredential")])
def test_the_production_chain_answers_with_the_deployments_identity(sandbox, clean_env, user_assigned,
                                                                    deployment, answers):
    names = credentials.simulate_deployment(sandbox, deployment)
    assert ("AZURE_FEDERATED_TOKEN_FILE" in names) == (deployment == "workload_identity")
    chain = credentials.production(managed_identity_client_id=user_assigned, retry_total=0)
    token, link = credentials.which_link(chain, SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert link == answers
    assert claims["appid"] == (sandbox.client_id if deployment == "workload_identity" else user_assigned)
    assert checks.production_chain(chain) == [type(c).__name__ for c in chain.credentials]


def test_the_production_chain_leaves_developer_and_secret_credentials_out(sandbox, clean_env):
    credentials.simulate_deployment(sandbox, "workload_identity")
    os.environ["AZURE_CLIENT_SECRET"] = "a-stale-secret"  # would stop DefaultAzureCredential (notebook 02)
    links = checks.chain_links(credentials.production())
    assert links == ["WorkloadIdentityCredential", "ManagedIdentityCredential"]
    with pytest.raises(ValueError, match="deployment"):
        credentials.simulate_deployment(sandbox, "laptop")
