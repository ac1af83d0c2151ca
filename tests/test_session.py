"""kit.session: version gate, target choice, sandbox start and trust, a summary without secrets."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kit
from kit import session as kit_session
from kit.sandbox.connection import AMQP_REQUIRED_ENV, Connection, amqp_required
from kit.settings import SandboxOnlyError, Settings, SettingsError, settings_path


@pytest.fixture()
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file of this test only (the session's scratch file is shared with the notebooks)."""
    path = tmp_path / "settings.json"
    monkeypatch.setenv("KIT_SETTINGS_FILE", str(path))
    monkeypatch.delenv("KIT_TARGET", raising=False)
    monkeypatch.delenv("KIT_CLIENT_SECRET", raising=False)
    return path


def test_an_older_kit_is_refused_with_the_command_that_updates_it() -> None:
    with pytest.raises(kit_session.KitVersionError, match="pip install -r requirements.txt"):
        kit_session.require_kit("99.0")
    assert kit_session.require_kit("0.1") == kit.__version__


def test_a_minimum_that_is_not_a_version_names_the_argument() -> None:
    with pytest.raises(ValueError, match="minimum_kit"):
        kit_session.require_kit("latest")


def test_without_saved_settings_the_target_is_the_sandbox(settings_file: Path) -> None:
    assert not settings_file.exists()
    assert kit_session.saved_target() == "sandbox"


def test_begin_starts_the_sandbox_trusts_it_and_prints_no_secret(
        settings_file: Path, sandbox: Connection, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ.pop("SSL_CERT_FILE", None)
    session = kit_session.begin(minimum_kit="0.1")
    printed = capsys.readouterr().out
    assert session.on_sandbox and session.connection.pid == sandbox.pid
    assert session.hub_host == sandbox.hub_host
    assert os.environ["SSL_CERT_FILE"] == sandbox.ca_bundle == os.environ["REQUESTS_CA_BUNDLE"]
    assert "target: sandbox" in printed and sandbox.client_id in printed
    for secret in (sandbox.client_secret, sandbox.identity_header):
        assert secret not in printed
        assert secret not in repr(session)


def test_the_saved_credential_kind_is_kept_and_the_rest_comes_from_the_running_sandbox(
        settings_file: Path, sandbox: Connection) -> None:
    settings_file.write_text(json.dumps({"target": "sandbox", "credential_kind": "certificate",
                                         "hub_host": "localhost:1", "tenant_id": "stale.onmicrosoft.com"}))
    session = kit_session.begin(quiet=True)
    assert session.settings.credential_kind == "certificate"
    assert session.settings.hub_host == sandbox.hub_host
    assert session.settings.tenant_id == sandbox.tenant_id


def test_saved_azure_settings_choose_real_azure_without_starting_anything(
        settings_file: Path, sandbox: Connection, capsys: pytest.CaptureFixture[str]) -> None:
    Settings(target="azure", tenant_id="contoso.onmicrosoft.com", client_id="11111111-2222-3333-4444-555555555555",
             hub_host="myhub.azure-devices.net", credential_kind="certificate",
             certificate_path=sandbox.certificate_path).save()
    session = kit_session.begin(quiet=False)
    assert session.target == "azure" and session.sandbox_connection is None
    assert "target: real Azure (https://login.microsoftonline.com)" in capsys.readouterr().out


def test_on_azure_the_sandbox_connection_is_refused_with_what_to_use_instead(settings_file: Path) -> None:
    session = kit_session.Session(Settings(
        target="azure", tenant_id="contoso.onmicrosoft.com", client_id="11111111-2222-3333-4444-555555555555",
        hub_host="myhub.azure-devices.net", credential_kind="device_code"))
    with pytest.raises(SandboxOnlyError, match=r"session.connection .*real Azure.*session.settings.*on_sandbox"):
        session.connection  # noqa: B018 (the property access is the test)
    assert session.c2d_available and not session.on_sandbox


def test_azure_settings_saved_without_their_secret_say_how_to_give_it(
        settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file.write_text(json.dumps({
        "target": "azure", "tenant_id": "contoso.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
        "hub_host": "myhub.azure-devices.net", "credential_kind": "client_secret"}))
    with pytest.raises(SettingsError, match="KIT_CLIENT_SECRET") as raised:
        kit_session.begin(quiet=True)
    # every hint names something that runs without a session (00's form cell used to need one)
    assert "kit.forms.settings_form()" in str(raised.value) and "settings_path().unlink()" in str(raised.value)
    monkeypatch.setenv("KIT_CLIENT_SECRET", "from-the-environment")
    session = kit_session.begin(quiet=True)
    assert session.settings.client_secret.get_secret_value() == "from-the-environment"
    assert "from-the-environment" not in session.summary()


def test_real_azure_chosen_without_saved_settings_says_how_to_save_them(
        settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_TARGET", "azure")
    with pytest.raises(SettingsError, match="00_setup_check") as raised:
        kit_session.begin(quiet=True)
    assert "KIT_TARGET" in str(raised.value)


def test_an_unknown_target_is_refused(settings_file: Path) -> None:
    with pytest.raises(ValueError, match="target: 'cloud'"):
        kit_session.begin(target="cloud", quiet=True)


def test_settings_path_follows_the_environment(settings_file: Path) -> None:
    assert settings_path() == settings_file


def test_shell_commands_in_cells_run_the_kernels_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    kit_session.use_kernel_python()
    import shutil
    import sys

    assert Path(shutil.which("python")).parent == Path(sys.executable).parent



def test_a_failed_token_request_is_not_printed_twice() -> None:
    """A fresh Python (pytest's own log capture would hide the last-resort handler): the warning azure-identity
    logs before raising reaches stderr without the kit, and not with it."""
    warn = "import logging; logging.getLogger('azure.identity._internal').warning('get_token failed')"
    quiet = "import kit.session; kit.session.drop_duplicate_credential_warnings(); " + warn
    assert "get_token failed" in subprocess.run([sys.executable, "-c", warn], capture_output=True, text=True).stderr
    assert subprocess.run([sys.executable, "-c", quiet], capture_output=True, text=True, check=True).stderr == ""


def test_a_handler_added_by_the_learner_still_receives_credential_records() -> None:
    kit_session.drop_duplicate_credential_warnings()
    kit_session.drop_duplicate_credential_warnings()
    identity_logger = logging.getLogger("azure.identity")
    assert sum(isinstance(handler, logging.NullHandler) for handler in identity_logger.handlers) == 1
    records: list[logging.LogRecord] = []
    listener = logging.Handler()
    listener.emit = records.append  # type: ignore[method-assign]
    identity_logger.addHandler(listener)
    try:
        logging.getLogger("azure.identity._internal").warning("still logged")
    finally:
        identity_logger.removeHandler(listener)
    assert [record.getMessage() for record in records] == ["still logged"]


@pytest.mark.parametrize(("environment", "required"), [
    ({}, False), ({"CI": "true"}, True), ({"KIT_REQUIRE_AMQP": "1"}, True),
    ({"CI": "true", "KIT_REQUIRE_AMQP": "0"}, False),
])
def test_amqp_is_required_in_ci_or_when_asked(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str],
                                             required: bool) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(AMQP_REQUIRED_ENV, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert amqp_required() is required


def test_cloud_to_device_without_amqp_is_explained_on_a_laptop_and_fails_in_ci(
        sandbox: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_sandbox(sandbox)
    note = "Cloud-to-device messages are unavailable: port 5671 on 127.0.0.1 is taken by another process."
    without_amqp = kit_session.Session(settings, dataclasses.replace(sandbox, amqp_port=None, amqp_note=note))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(AMQP_REQUIRED_ENV, "0")
    assert without_amqp.c2d_available is False
    assert "unavailable, see session.connection.amqp_note" in without_amqp.summary()
    monkeypatch.setenv(AMQP_REQUIRED_ENV, "1")
    with pytest.raises(kit_session.AmqpUnavailable, match="port 5671 .* taken(.|\n)*required here"):
        _ = without_amqp.c2d_available
    assert kit_session.Session(settings, sandbox).c2d_available is (not sandbox.amqp_note)


def test_a_corrupt_settings_file_stops_begin_with_the_fix(settings_file: Path) -> None:
    """Not a silent fall back to the sandbox: the learner may have saved real Azure settings in it."""
    settings_file.write_text('{"target": "azure", "tenant_id": ')
    with pytest.raises(SettingsError, match="cannot be read") as raised:
        kit_session.begin(quiet=True)
    assert str(settings_file) in str(raised.value)
