"""An ipywidgets form over :mod:`kit.settings`: edit, validate, save, and prove the settings work.

Only core ipywidgets are used, and the form shows beside itself the plain ``Settings(...)`` code that does the same,
so nothing depends on widgets rendering (nbval, VS Code, a broken front end). The secret box is emptied as soon as
it is read: a value left in a widget would be written into the notebook with the widget state. The secret then
lives only in this kernel's memory (and in the settings file only if the learner ticks "remember").

The form is driven the same way by a test: set the widgets' ``value``, call :meth:`SettingsForm.submit` (or
``form.save_button.click()``), read ``form.message.value``.
"""

from __future__ import annotations

import html
import os
from typing import Any, get_args

import ipywidgets as widgets
from pydantic import SecretStr

from kit import checks
from kit.settings import CredentialKind, Settings, SettingsError, settings_values

__all__ = ["HUB_RESOURCE_FIELDS", "SettingsForm", "settings_form"]

# The hub's place in ARM, for the admin steps (kit.admin); the sandbox's own values are never carried to Azure.
HUB_RESOURCE_FIELDS = ("subscription_id", "resource_group", "hub_name")
TEXT_FIELDS = ("tenant_id", "client_id", "hub_host", "certificate_path", *HUB_RESOURCE_FIELDS)
LABELS = {"tenant_id": "Tenant", "client_id": "Client id", "hub_host": "Hub host",
          "subscription_id": "Subscription (admin steps)", "resource_group": "Resource group", "hub_name": "Hub name",
          "certificate_path": "Certificate (PEM path)", "client_secret": "Client secret",
          "credential_kind": "Credential", "target": "Target"}
PLACEHOLDERS = {"tenant_id": "Directory (tenant) ID or contoso.onmicrosoft.com",
                "client_id": "Application (client) ID", "hub_host": "myhub.azure-devices.net",
                "certificate_path": "~/certs/my-app.pem (private key + certificate)",
                "subscription_id": "the hub's Subscription ID (for kit.admin)",
                "resource_group": "the hub's resource group", "hub_name": "myhub"}
STYLE = {"description_width": "11em"}
LAYOUT = widgets.Layout(width="36em")
OK, ERROR = "#1b5e20", "#b00020"


def _line(text: str, colour: str) -> str:
    return f'<div style="color:{colour}; white-space:pre-wrap">{html.escape(text)}</div>'


class SettingsForm:
    """The widgets, the last valid settings (``settings``) and the result of the last check (``message``)."""

    def __init__(self, settings: Settings, path: str | os.PathLike[str] | None = None,
                 run_check: bool = True) -> None:
        self.settings = settings
        self.path = path
        self.run_check = run_check
        self.target = widgets.ToggleButtons(options=["sandbox", "azure"], value=settings.target,
                                            description=LABELS["target"], style=STYLE)
        self.fields: dict[str, widgets.Text] = {
            name: widgets.Text(value=str(getattr(settings, name) or ""), description=LABELS[name],
                               placeholder=PLACEHOLDERS[name], style=STYLE, layout=LAYOUT)
            for name in TEXT_FIELDS
        }
        self.credential_kind = widgets.Dropdown(options=list(get_args(CredentialKind)),
                                                value=settings.credential_kind,
                                                description=LABELS["credential_kind"], style=STYLE)
        self.client_secret = widgets.Password(
            value="", description=LABELS["client_secret"], style=STYLE, layout=LAYOUT,
            placeholder="kept in memory; leave empty to keep the current one" if settings.client_secret
            else "the secret's Value (not its Secret ID)")
        self.remember_secret = widgets.Checkbox(value=False, description="remember the secret in the settings "
                                                "file (0600)", indent=False)
        self.save_button = widgets.Button(description="Check and save", button_style="primary", icon="check")
        self.message = widgets.HTML()
        self.code = widgets.HTML()
        self.save_button.on_click(lambda _: self.submit())
        self.target.observe(self._target_changed, names="value")
        for widget in (self.target, self.credential_kind, *self.fields.values()):
            widget.observe(lambda _: self._show_code(), names="value")
        self._show_code()
        form = widgets.VBox([self.target, *self.fields.values(), self.credential_kind, self.client_secret,
                             self.remember_secret, self.save_button, self.message])
        self.box = widgets.HBox([form, self.code])

    def _target_changed(self, change: dict[str, Any]) -> None:
        """Leaving the sandbox empties its subscription, resource group and hub name: they name nothing on Azure."""
        if change["new"] == "azure" and self.settings.target == "sandbox":
            for name in HUB_RESOURCE_FIELDS:
                if self.fields[name].value == str(getattr(self.settings, name) or ""):
                    self.fields[name].value = ""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def values(self) -> dict[str, Any]:
        """The form's values as ``Settings`` arguments (the secret excluded)."""
        values: dict[str, Any] = {"target": self.target.value, "credential_kind": self.credential_kind.value}
        for name, widget in self.fields.items():
            values[name] = widget.value.strip() or None
        return values

    def plain_code(self) -> str:
        """The ``Settings(...)`` call that does what the form does, with the secret read from the environment."""
        arguments = [f"    {name}={value!r}," for name, value in self.values().items() if value is not None]
        if self.credential_kind.value == "client_secret":
            arguments.append('    client_secret=os.environ["KIT_CLIENT_SECRET"],')
        return "import os\nfrom kit.settings import Settings\n\nSettings(\n" + "\n".join(arguments) + "\n).save()"

    def _show_code(self) -> None:
        self.code.value = ("<div><b>The same in code</b> (works without widgets):</div>"
                           f"<pre style='font-size:90%'>{html.escape(self.plain_code())}</pre>")

    def _sandbox_values(self) -> dict[str, Any]:
        """What only the sandbox knows (authority, state folder); when switching to the sandbox, its values replace
        the form's."""
        if self.settings.target != "sandbox" or not self.settings.sandbox_state_dir:
            from kit.session import sandbox_settings

            self.settings, _ = sandbox_settings(credential_kind=self.credential_kind.value)
            for name, widget in self.fields.items():
                widget.value = str(getattr(self.settings, name) or "")
        return {"authority_host": self.settings.authority_host,
                "sandbox_state_dir": self.settings.sandbox_state_dir,
                "federated_token_file": self.settings.federated_token_file,
                "graph_endpoint": self.settings.graph_endpoint, "arm_endpoint": self.settings.arm_endpoint}

    def submit(self) -> Settings | None:
        """Validate and save the values, then run the connectivity check; the outcome goes to ``message``.

        The secret box is emptied first, whatever happens next; an empty box keeps the secret already held."""
        typed = self.client_secret.value.strip()
        self.client_secret.value = ""
        try:
            extra = self._sandbox_values() if self.target.value == "sandbox" else {}
            secret = SecretStr(typed) if typed else self.settings.client_secret
            settings = Settings(**{**self.values(), **extra}, client_secret=secret)
        except (SettingsError, OSError, RuntimeError) as error:
            self.message.value = _line(str(error), ERROR)
            return None
        self.settings = settings
        saved = settings.save(self.path, include_secret=self.remember_secret.value)
        kept = "with the secret" if self.remember_secret.value else "without the secret"
        lines = [_line(f"Saved to {saved} ({kept}).", OK)]
        if self.run_check:
            try:
                lines.append(_line(str(checks.connectivity(settings)), OK))
            except checks.CheckFailed as failure:
                lines.append(_line(str(failure), ERROR))
        self.message.value = "".join(lines)
        return settings


def starting_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """What a form opened without a session starts from: the sandbox's learner app when the sandbox is the target,
    else the saved real Azure values, even when they are incomplete (a secret not given to this kernel yet), so the
    form can repair settings that stop ``kit.session.begin`` from running."""
    from kit.session import sandbox_settings, saved_target

    try:
        target = saved_target(path)
    except SettingsError:
        target = "azure"  # an unreadable file: the form starts empty, and saving replaces the file
    if target == "sandbox":
        return sandbox_settings(path=path)[0]
    try:
        return Settings.load(path)
    except (FileNotFoundError, SettingsError):
        saved = settings_values(path)
        known = {k: v for k, v in saved.items() if k in Settings.model_fields}
        return Settings.model_construct(**{**known, "target": "azure"})


def settings_form(session_or_settings: Any = None, path: str | os.PathLike[str] | None = None,
                  run_check: bool = True) -> SettingsForm:
    """A form prefilled from a :class:`kit.session.Session` (or from ``Settings``); with neither, from
    :func:`starting_settings`, so it works in a kernel where ``kit.session.begin`` failed."""
    if session_or_settings is None:
        session_or_settings = starting_settings(path)
    settings = getattr(session_or_settings, "settings", session_or_settings)
    if not isinstance(settings, Settings):
        raise TypeError("settings_form: give it the session (kit.session.begin()) or a Settings object.")
    return SettingsForm(settings, path=path, run_check=run_check)
