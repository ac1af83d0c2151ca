"""Settings validation that teaches, saving without secrets, and secrets kept out of reprs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

import kit.settings
from kit.settings import Settings, SettingsError, settings_values

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


VALID = {"target": "azure", "tenant_id": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
         "hub_host": "myhub.azure-devices.net", "credential_kind": "device_code"}


@pytest.mark.parametrize("content", ['{"target": "azure", "tenant_id": ', "[1, 2]", "\x00\x01"])
def test_a_corrupt_settings_file_is_named_with_the_fix(tmp_path: Path, content: str) -> None:
    file = tmp_path / "settings.json"
    file.write_text(content)
    with pytest.raises(SettingsError, match="00_setup_check, or delete the file to use the sandbox") as raised:
        settings_values(file, strict=True)
    assert str(file) in str(raised.value)
    assert settings_values(file) == {}  # the lenient reading (the form's, which replaces the file) sees nothing


def test_an_existing_kit_folder_with_loose_permissions_is_tightened(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / ".iot-entra-kit"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    monkeypatch.setattr(kit.settings, "DEFAULT_SETTINGS_FILE", folder / "settings.json")
    monkeypatch.delenv("KIT_SETTINGS_FILE", raising=False)
    saved = Settings(**VALID).save()
    assert saved == folder / "settings.json"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_chosen_folder_open_to_others_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o755)
    with pytest.warns(UserWarning, match=r"shared is open to other users \(mode 0o755\).*chmod 700"):
        saved = Settings(**VALID).save(folder / "settings.json")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # not the kit's folder: reported, not changed
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
