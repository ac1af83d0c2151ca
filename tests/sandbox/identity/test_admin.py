"""The admin command line, run as a learner runs it, against the running sandbox's directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential

from tests.sandbox.identity.conftest import IOT_HUB_SCOPE


def admin(sandbox, *args: str, ok: bool = True):
    done = subprocess.run([sys.executable, "-m", "kit.sandbox", *args, "--state-dir", sandbox.state_dir],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode == 0) == ok, done.stderr
    return json.loads(done.stdout) if ok else done.stderr


def test_app_lifecycle(sandbox, authority, tmp_path):
    app = admin(sandbox, "app", "create", "--name", "reader", "--role", "IoT Hub Data Reader")
    assert {"client_id", "client_secret", "object_id"} <= app.keys() and app["roles"] == ["IoT Hub Data Reader"]
    ClientSecretCredential(sandbox.tenant_id, app["client_id"], app["client_secret"], **authority).get_token(
        IOT_HUB_SCOPE)

    pem = tmp_path / "reader.pem"
    cert = admin(sandbox, "app", "cert", "generate", "--app", "reader", "--out", str(pem))
    assert oct(pem.stat().st_mode & 0o777) == "0o600" and len(cert["thumbprint"]) == 40
    CertificateCredential(sandbox.tenant_id, app["client_id"], str(pem), **authority).get_token(IOT_HUB_SCOPE)

    admin(sandbox, "app", "secret", "expire", "--app", app["client_id"])
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000222"):
        ClientSecretCredential(sandbox.tenant_id, app["client_id"], app["client_secret"], **authority).get_token(
            IOT_HUB_SCOPE)
    fresh = admin(sandbox, "app", "secret", "add", "--app", "reader")
    ClientSecretCredential(sandbox.tenant_id, app["client_id"], fresh["client_secret"], **authority).get_token(
        IOT_HUB_SCOPE)

    fic = admin(sandbox, "app", "fic", "add", "--app", "reader", "--name", "gh-main",
                "--issuer", "https://token.actions.githubusercontent.com", "--subject", "repo:o/r:ref:refs/heads/main")
    assert fic["audiences"] == ["api://AzureADTokenExchange"]
    assert "unique" in admin(sandbox, "app", "fic", "add", "--app", "reader", "--name", "gh-again", "--issuer",
                             "https://token.actions.githubusercontent.com", "--subject",
                             "repo:o/r:ref:refs/heads/main", ok=False)

    listed = {a["display_name"]: a for a in admin(sandbox, "app", "list")}["reader"]
    assert listed["roles"] == ["IoT Hub Data Reader"] and "client_secret" not in json.dumps(listed["secrets"])

    admin(sandbox, "role", "assign", "--principal", "reader", "--role", "iot hub twin contributor")
    roles = {r["role"] for r in admin(sandbox, "role", "list", "--principal", "reader")}
    assert roles == {"IoT Hub Data Reader", "IoT Hub Twin Contributor"}
    removed = admin(sandbox, "role", "remove", "--principal", "reader", "--role", "IoT Hub Twin Contributor")
    assert removed["removed"] is True and removed["principal_id"] == app["object_id"]
    assert {r["role"] for r in admin(sandbox, "role", "list", "--principal", "reader")} == {"IoT Hub Data Reader"}
    again = admin(sandbox, "role", "remove", "--principal", "reader", "--role", "IoT Hub Twin Contributor")
    assert again["removed"] is False  # nothing left to remove
    assert "not a built-in role" in admin(sandbox, "role", "assign", "--principal", "reader", "--role",
                                          "IoT Hub Data Owner", ok=False)

    admin(sandbox, "app", "disable", "--app", "reader")
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000112"):
        ClientSecretCredential(sandbox.tenant_id, app["client_id"], fresh["client_secret"], **authority).get_token(
            IOT_HUB_SCOPE)
    admin(sandbox, "app", "delete", "--app", "reader")
    orphaned = [r for r in admin(sandbox, "role", "list") if r["principal_id"] == app["object_id"]]
    assert [(r["role"], r["principal_name"], r["principal_type"]) for r in orphaned] == [
        ("IoT Hub Data Reader", "Identity not found", "Unknown")]  # kept, as Azure keeps them
    admin(sandbox, "role", "remove", "--principal", app["object_id"], "--role", "IoT Hub Data Reader")
    assert not [r for r in admin(sandbox, "role", "list") if r["principal_id"] == app["object_id"]]
    refused = admin(sandbox, "role", "list", "--principal", app["object_id"], ok=False)
    assert app["object_id"] in refused and "Traceback" not in refused, refused
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        ClientSecretCredential(sandbox.tenant_id, app["client_id"], fresh["client_secret"], **authority).get_token(
            IOT_HUB_SCOPE)


def test_workload_token_command_writes_a_private_file(sandbox, tmp_path):
    out = tmp_path / "token.jwt"
    result = admin(sandbox, "token", "workload", "--subject", "system:serviceaccount:workshop:api", "--out", str(out))
    assert result["issuer"] == sandbox.external_issuer and "token" not in result
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_role_commands_wait_for_the_propagation_delay(sandbox, authority):
    assert admin(sandbox, "role", "propagation")["role_propagation_seconds"] == 0  # the test session's setting
    try:
        assert admin(sandbox, "role", "propagation", "1.5")["role_propagation_seconds"] == 1.5
        app = admin(sandbox, "app", "create", "--name", "waits", "--role", "IoT Hub Data Reader")
        assert app["waited_for_propagation_s"] >= 1.4  # usable as soon as the command returns
        quick = admin(sandbox, "role", "assign", "--principal", "waits", "--role", "IoT Hub Twin Contributor",
                      "--no-wait")
        assert quick["waited_for_propagation_s"] == 0
        listed = {r["role"]: r["applied"] for r in admin(sandbox, "role", "list", "--principal", "waits")}
        assert listed == {"IoT Hub Data Reader": True, "IoT Hub Twin Contributor": False}
        assert "0 to 3600" in admin(sandbox, "role", "propagation", "-1", ok=False)
    finally:
        admin(sandbox, "role", "propagation", "0")
