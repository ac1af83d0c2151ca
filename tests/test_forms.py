"""kit.forms, driven the way a learner does: set widget values, click the button, read the message."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kit import forms
from kit.sandbox.connection import Connection
from kit.session import Session
from kit.settings import Settings


@pytest.fixture()
def form(sandbox: Connection, tmp_path: Path) -> forms.SettingsForm:
    return forms.settings_form(Session(Settings.from_sandbox(sandbox), sandbox), path=tmp_path / "settings.json")


def widget_states(form: forms.SettingsForm) -> str:
    """Everything the front end (and a saved notebook's widget state) would hold."""
    widgets = [form.target, form.credential_kind, form.client_secret, form.remember_secret, form.message,
               form.code, *form.fields.values()]
    return json.dumps([widget.get_state() for widget in widgets], default=str)


def test_the_form_is_prefilled_from_the_sandbox_but_never_with_the_secret(form, sandbox: Connection) -> None:
    assert form.fields["tenant_id"].value == sandbox.tenant_id
    assert form.fields["client_id"].value == sandbox.client_id
    assert form.fields["hub_host"].value == sandbox.hub_host
    assert form.target.value == "sandbox" and form.credential_kind.value == "client_secret"
    assert form.client_secret.value == ""
    assert sandbox.client_secret not in widget_states(form)


def test_a_host_with_a_scheme_shows_the_fix_and_saves_nothing(form) -> None:
    form.fields["hub_host"].value = "https://myhub.azure-devices.net/"
    form.save_button.click()
    assert "remove the scheme, e.g. &#x27;myhub.azure-devices.net&#x27;" in form.message.value
    assert not Path(form.path).exists()


def test_several_mistakes_are_listed_together(form) -> None:
    form.fields["tenant_id"].value = "my tenant"
    form.fields["client_id"].value = "learner-app"
    assert form.submit() is None
    assert "tenant_id:" in form.message.value and "client_id:" in form.message.value


def test_check_and_save_saves_without_the_secret_and_proves_connectivity(form, sandbox: Connection) -> None:
    form.save_button.click()
    assert "devices registered" in form.message.value, form.message.value
    saved = json.loads(Path(form.path).read_text())
    assert saved["hub_host"] == sandbox.hub_host and "client_secret" not in saved
    assert stat.S_IMODE(Path(form.path).stat().st_mode) == 0o600


def test_a_typed_secret_leaves_the_widget_at_once_even_when_wrong(form, sandbox: Connection) -> None:
    form.client_secret.value = "a-typed-wrong-secret"
    form.save_button.click()
    assert form.client_secret.value == ""
    assert "AADSTS7000215" in form.message.value and "Secret ID" in form.message.value
    assert "a-typed-wrong-secret" not in widget_states(form)
    assert "a-typed-wrong-secret" not in Path(form.path).read_text()
    assert form.settings.client_secret.get_secret_value() == "a-typed-wrong-secret"  # kept in memory only


def test_an_empty_secret_box_keeps_the_secret_already_held(form) -> None:
    form.client_secret.value = "a-typed-wrong-secret"
    form.submit()
    form.client_secret.value = ""
    form.submit()
    assert form.settings.client_secret.get_secret_value() == "a-typed-wrong-secret"


def test_remember_writes_the_secret_to_the_private_file(form, sandbox: Connection) -> None:
    form.remember_secret.value = True
    form.submit()
    assert json.loads(Path(form.path).read_text())["client_secret"] == sandbox.client_secret
    assert "with the secret" in form.message.value


def test_real_azure_values_are_saved_with_the_public_authority(form, sandbox: Connection) -> None:
    form.run_check = False
    form.target.value = "azure"
    form.fields["tenant_id"].value = "contoso.onmicrosoft.com"
    form.fields["hub_host"].value = "myhub.azure-devices.net"
    form.credential_kind.value = "certificate"
    settings = form.submit()
    assert settings is not None, form.message.value
    saved = json.loads(Path(form.path).read_text())
    assert saved["target"] == "azure" and saved["authority_host"] == "https://login.microsoftonline.com"
    assert saved["certificate_path"] == sandbox.certificate_path


def test_the_hub_resource_fields_are_the_sandbox_s_and_are_emptied_for_azure(form, sandbox: Connection) -> None:
    assert [form.fields[name].value for name in forms.HUB_RESOURCE_FIELDS] == [
        sandbox.subscription_id, sandbox.resource_group, sandbox.hub_name]
    form.run_check = False
    form.target.value = "azure"
    assert [form.fields[name].value for name in forms.HUB_RESOURCE_FIELDS] == ["", "", ""]
    form.fields["tenant_id"].value = "contoso.onmicrosoft.com"
    form.fields["subscription_id"].value = "my subscription"
    assert form.submit() is None and "subscription_id: &#x27;my subscription&#x27; is not a GUID" in form.message.value
    form.fields["subscription_id"].value = "00000000-0000-0000-0000-00000000abcd"
    form.fields["resource_group"].value = "iot-rg"
    form.fields["hub_name"].value = "myhub"
    settings = form.submit()
    assert settings is not None and Session(settings).cloud.hub_resource_id == (
        "/subscriptions/00000000-0000-0000-0000-00000000abcd/resourceGroups/iot-rg/providers/Microsoft.Devices/"
        "IotHubs/myhub")


def test_switching_back_to_the_sandbox_takes_its_values(form, sandbox: Connection) -> None:
    form.run_check = False
    form.target.value = "azure"
    form.fields["hub_host"].value = "myhub.azure-devices.net"
    form.credential_kind.value = "certificate"
    form.submit()
    form.target.value = "sandbox"
    form.fields["hub_host"].value = ""
    settings = form.submit()
    assert settings.hub_host == sandbox.hub_host and settings.authority_host == sandbox.authority_host


def test_the_plain_code_does_what_the_form_does_without_the_secret(form, sandbox: Connection) -> None:
    form.fields["hub_host"].value = "myhub.azure-devices.net"
    code = form.plain_code()
    assert "hub_host='myhub.azure-devices.net'" in code and code.endswith(").save()")
    assert 'client_secret=os.environ["KIT_CLIENT_SECRET"]' in code
    assert sandbox.client_secret not in code
    assert "myhub.azure-devices.net" in form.code.value  # shown beside the form, updated as values change


def test_the_form_needs_a_session_or_settings() -> None:
    with pytest.raises(TypeError, match="settings_form"):
        forms.settings_form({"tenant_id": "x"})


def test_without_a_session_the_form_opens_on_saved_azure_settings_that_lack_their_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first cell fails when the secret is missing; the form must still open to repair the settings."""
    monkeypatch.delenv("KIT_TARGET", raising=False)
    monkeypatch.delenv("KIT_CLIENT_SECRET", raising=False)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"target": "azure", "tenant_id": "contoso.onmicrosoft.com",
                                "client_id": "11111111-2222-3333-4444-555555555555",
                                "hub_host": "myhub.azure-devices.net", "credential_kind": "client_secret"}))
    form = forms.settings_form(path=path, run_check=False)
    assert form.target.value == "azure" and form.fields["hub_host"].value == "myhub.azure-devices.net"
    form.client_secret.value = "typed-once"
    assert form.submit() is not None and form.client_secret.value == ""
    assert "typed-once" not in path.read_text()


def test_without_a_session_or_saved_settings_the_form_shows_the_sandbox(tmp_path: Path, sandbox: Connection,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_TARGET", raising=False)
    form = forms.settings_form(path=tmp_path / "none.json", run_check=False)
    assert form.target.value == "sandbox" and form.fields["client_id"].value == sandbox.client_id
