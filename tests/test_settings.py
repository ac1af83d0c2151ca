"""Settings validation that teaches, saving without secrets, and secrets kept out of reprs."""

from __future__ import annotations

import json

import pytest

from kit.settings import Settings, SettingsError

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(("values", "expected"), [
    ({"hub_host": "https://myhub.azure-devices.net/"}, "hub_host: remove the scheme, e.g. 'myhub.azure-devices.net'"),
    ({"tenant_id": "my tenant"}, "tenant_id: 'my tenant' is neither a GUID"),
    ({"client_id": "my-app"}, "client_id: 'my-app' is not a GUID"),
    ({"certificate_path": "/nowhere/cert.pem"}, "certificate_path: no file at /nowhere/cert.pem"),
    ({"authority_host": "http://localhost:1"}, "authority_host: 'http://localhost:1' must be an https URL"),
    ({"credential_kind": "client_secret"}, "client_secret: credential_kind 'client_secret' needs client_secret"),
])
def test_each_mistake_names_the_field_and_the_fix(values, expected):
    with pytest.raises(SettingsError) as caught:
        Settings(**{"credential_kind": "default", **values})
    assert expected in str(caught.value)


def test_valid_values_and_secret_never_shown():
    settings = Settings(tenant_id="contoso.onmicrosoft.com", client_id=GUID, hub_host="myhub.azure-devices.net",
                        client_secret="s3cr3t-value", target="azure")
    assert "s3cr3t-value" not in repr(settings) and "s3cr3t-value" not in str(settings)


def test_save_and_load_keep_the_secret_out_unless_asked(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    monkeypatch.setenv("KIT_SETTINGS_FILE", str(path))
    settings = Settings(tenant_id=GUID, client_id=GUID, hub_host="localhost:8443", client_secret="s3cr3t-value")
    assert settings.save() == path and path.stat().st_mode & 0o777 == 0o600
    assert "s3cr3t-value" not in path.read_text()
    with pytest.raises(SettingsError, match="needs client_secret"):
        Settings.load()
    assert Settings.load(client_secret="other").client_id == GUID
    settings.save(include_secret=True)
    assert json.loads(path.read_text())["client_secret"] == "s3cr3t-value"
    assert Settings.load().client_secret.get_secret_value() == "s3cr3t-value"


def test_from_sandbox(sandbox):
    settings = Settings.from_sandbox(sandbox)
    assert settings.target == "sandbox" and settings.hub_host == sandbox.hub_host
    assert settings.authority_host == sandbox.authority_host and sandbox.client_secret not in repr(settings)
