"""00_setup_check in JupyterLab: the settings form renders, explains a bad host, and its button proves the setup."""

from __future__ import annotations

from typing import get_args

import pytest

from kit.sandbox.connection import Connection
from kit.settings import CredentialKind, settings_values

pytestmark = pytest.mark.browser


def field(form: object, label: str) -> object:
    """The input of the form's text field labelled ``label``."""
    return form.locator(".widget-text", has=form.page.locator("label", has_text=label)).locator("input")


def test_settings_form_renders_validates_and_checks_connectivity(lab, sandbox: Connection) -> None:
    lab.open("00_setup_check.ipynb")
    lab.shot("opened")
    lab.run_all()
    cell = lab.cell("kit.forms.settings_form(")
    lab.expect_widget(cell, ".widget-text input")
    form = cell.locator(".jp-OutputArea")
    lab.shot("form", form)

    for label, value in (("Tenant", sandbox.tenant_id), ("Client id", sandbox.client_id),
                         ("Hub host", sandbox.hub_host)):
        assert field(form, label).is_visible(), f"the form shows no {label} field"
        assert field(form, label).input_value() == value
    kind = form.locator(".widget-dropdown", has=form.page.locator("label", has_text="Credential")).locator("select")
    assert kind.is_visible()
    saved_kind = settings_values().get("credential_kind") or "client_secret"  # saved earlier in the session, if any
    assert saved_kind in get_args(CredentialKind)
    assert kind.input_value() == saved_kind

    button = form.get_by_role("button", name="Check and save")
    field(form, "Hub host").fill(f"https://{sandbox.hub_host}")
    button.click()
    form.get_by_text("hub_host: remove the scheme").wait_for()
    lab.shot("https-host-refused", form)

    field(form, "Hub host").fill(sandbox.hub_host)
    button.click()
    form.get_by_text("Token for IoT Hub issued to app").wait_for()
    assert "devices registered" in form.inner_text()
    lab.shot("connectivity-ok", form)
