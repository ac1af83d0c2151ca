"""The values a learner enters to reach IoT Hub with Entra ID, validated so that a mistake explains its own fix.

The same settings drive both targets: ``sandbox`` (the local service) and ``azure`` (a real tenant and hub). They
are saved to a 0600 file (``~/.iot-entra-kit/settings.json``, or ``$KIT_SETTINGS_FILE``) without the client secret
unless asked; the secret is a ``SecretStr``, so it never shows in a repr, a notebook output or a log line.

The admin steps (``kit.admin``) need the control plane too: Microsoft Graph and Azure Resource Manager (public-cloud
endpoints by default, as ``az cloud`` lists them), the hub's ``subscription_id``, ``resource_group`` and ``hub_name``,
and how the administrator signs in (``admin_credential_kind``: ``cli`` = ``az login``'s account, ``device_code``, or
``client_secret`` = an admin app whose secret comes from ``KIT_ADMIN_CLIENT_SECRET`` and is never saved). On the
sandbox they all come from its ``connection.json``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kit.sandbox.paths import write_private

__all__ = [
    "ARM_SCOPE", "DEFAULT_SETTINGS_FILE", "DOMAIN", "GRAPH_SCOPE", "GUID", "HOST", "HUB_NAME", "RESOURCE_GROUP",
    "SETTINGS_FILE_ENV", "CredentialKind", "SandboxOnlyError", "Settings", "SettingsError", "settings_path",
    "settings_values"
]

if TYPE_CHECKING:
    from kit.sandbox.connection import Connection

SETTINGS_FILE_ENV = "KIT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path.home() / ".iot-entra-kit" / "settings.json"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
# The public cloud's control plane: Microsoft Graph and Azure Resource Manager, and the resources their tokens name.
PUBLIC_GRAPH = "https://graph.microsoft.com"
PUBLIC_ARM = "https://management.azure.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"
RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}(?<!\.)$")
HUB_NAME = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{2,49}[a-zA-Z0-9]$")

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")

_APP_ID_PROBLEM = ("is not a GUID. Copy 'Application (client) ID' from the app registration's Overview (not its "
                   "name, nor the secret's ID).")
# Identifiers checked by their form, with what is wrong and where the right value is.
IDENTIFIERS = {
    "client_id": (GUID, _APP_ID_PROBLEM),
    "admin_client_id": (GUID, _APP_ID_PROBLEM),
    "subscription_id": (GUID, "is not a GUID. Copy the Subscription ID from the hub's Overview in the portal, or "
                              "run: az account show --query id -o tsv"),
    "resource_group": (RESOURCE_GROUP, "is not a resource group name (1-90 letters, digits, '-', '_', '.', '(' or "
                                       "')', not ending with '.'). Copy it from the hub's Overview."),
    "hub_name": (HUB_NAME, "is not an IoT hub name (3-50 letters, digits or '-'). Give the name alone, e.g. 'myhub' "
                           "for myhub.azure-devices.net."),
}
# How the administrator (the learner's own account) signs in for the admin steps on real Azure.
AdminCredentialKind = Literal["cli", "device_code", "client_secret"]
CredentialKind = Literal[
    "default", "environment", "client_secret", "certificate", "client_assertion", "workload_identity",
    "managed_identity", "chained", "device_code",
]


class SettingsError(ValueError):
    """Settings that cannot work; the message names each field and how to fix it, and ``fields`` lists those fields
    (so a check can tell one settings mistake from another)."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class SandboxOnlyError(RuntimeError):
    """Something only the local sandbox has (``%sandbox``, ``session.connection``, its files) was asked for while
    the target is real Azure. It is refused rather than used silently: a sandbox app's secret sent to Azure, or an
    app created in the sandbox while the learner believes it is in their tenant, would teach the wrong thing."""

    def __init__(self, what: str, instead: str) -> None:
        super().__init__(f"{what} exists only on the local sandbox, and the target is real Azure. {instead}")


class Settings(BaseSettings):
    """What the kit needs to build a credential and the IoT Hub clients."""

    model_config = SettingsConfigDict(env_prefix="KIT_", extra="ignore", hide_input_in_errors=True)

    target: Literal["sandbox", "azure"] = "sandbox"
    tenant_id: str | None = None
    client_id: str | None = None
    hub_host: str | None = None
    credential_kind: CredentialKind = "client_secret"
    client_secret: SecretStr | None = None
    certificate_path: Path | None = None
    federated_token_file: Path | None = None
    authority_host: str = PUBLIC_AUTHORITY
    sandbox_state_dir: str | None = None
    # The control plane (kit.admin): where Graph and ARM are, and the hub's place in ARM.
    graph_endpoint: str = PUBLIC_GRAPH
    arm_endpoint: str = PUBLIC_ARM
    graph_scope: str = GRAPH_SCOPE
    arm_scope: str = ARM_SCOPE
    subscription_id: str | None = None
    resource_group: str | None = None
    hub_name: str | None = None
    admin_credential_kind: AdminCredentialKind = "cli"
    admin_client_id: str | None = None
    admin_client_secret: SecretStr | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(*_explain(error)) from None

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not (GUID.match(value) or DOMAIN.match(value)):
            raise ValueError(
                f"tenant_id: '{value}' is neither a GUID (like 72f988bf-86f1-41af-91ab-2d7cd011db47) nor a domain "
                "(like contoso.onmicrosoft.com). Copy 'Directory (tenant) ID' from the app registration's Overview.")
        return value

    @field_validator(*IDENTIFIERS)
    @classmethod
    def _identifier(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        value = value.strip()
        pattern, problem = IDENTIFIERS[info.field_name]
        if not pattern.match(value):
            raise ValueError(f"{info.field_name}: '{value}' {problem}")
        return value

    @field_validator("graph_endpoint", "arm_endpoint")
    @classmethod
    def _endpoint(cls, value: str, info: Any) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            example = PUBLIC_GRAPH if info.field_name == "graph_endpoint" else PUBLIC_ARM
            raise ValueError(f"{info.field_name}: '{value}' must be an https URL, e.g. '{example}'.")
        if info.field_name == "graph_endpoint" and value.endswith(("/v1.0", "/beta")):
            raise ValueError(f"graph_endpoint: leave the version out, e.g. '{value.rsplit('/', 1)[0]}' (the kit "
                             "calls /v1.0 itself).")
        return value

    @field_validator("graph_scope", "arm_scope")
    @classmethod
    def _scope(cls, value: str, info: Any) -> str:
        value = value.strip()
        if not value.endswith("/.default"):
            raise ValueError(f"{info.field_name}: '{value}' must end with '/.default', e.g. "
                             f"'{GRAPH_SCOPE if info.field_name == 'graph_scope' else ARM_SCOPE}'.")
        return value

    @field_validator("hub_host")
    @classmethod
    def _hub_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if "://" in value:
            bare = value.split("://", 1)[1].split("/", 1)[0]
            raise ValueError(f"hub_host: remove the scheme, e.g. '{bare}' (the SDK adds https:// itself).")
        if value.endswith("/") or not HOST.match(value):
            raise ValueError(
                f"hub_host: '{value}' is not a host name. Give only the host, e.g. 'myhub.azure-devices.net'.")
        return value

    @field_validator("authority_host")
    @classmethod
    def _authority(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            raise ValueError(
                f"authority_host: '{value}' must be an https URL, e.g. '{PUBLIC_AUTHORITY}' "
                "(azure-identity refuses anything else).")
        return value

    @field_validator("certificate_path", "federated_token_file")
    @classmethod
    def _file_exists(cls, value: Path | None, info: Any) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        if not value.is_file():
            raise ValueError(f"{info.field_name}: no file at {value}. Check the path (it is read from this "
                             "machine, relative to the notebook's folder).")
        return value

    @model_validator(mode="after")
    def _needed_for_kind(self) -> Settings:
        needs = {"client_secret": "client_secret", "certificate": "certificate_path",
                 "workload_identity": "federated_token_file"}
        field = needs.get(self.credential_kind)
        if field and getattr(self, field) is None:
            raise ValueError(f"{field}: credential_kind '{self.credential_kind}' needs {field}; enter it or "
                             "choose another credential kind.")
        if self.admin_credential_kind == "client_secret" and self.target == "azure" and not self.admin_client_id:
            raise ValueError("admin_client_id: admin_credential_kind 'client_secret' needs the administrator app's "
                             "client id (its secret comes from KIT_ADMIN_CLIENT_SECRET); or choose 'cli' or "
                             "'device_code' to sign in as yourself.")
        return self

    @classmethod
    def from_sandbox(cls, connection: Connection, credential_kind: CredentialKind = "client_secret") -> Settings:
        """Settings for the running sandbox's learner app."""
        return cls(
            target="sandbox", tenant_id=connection.tenant_id, client_id=connection.client_id,
            hub_host=connection.hub_host, credential_kind=credential_kind,
            client_secret=SecretStr(connection.client_secret), certificate_path=Path(connection.certificate_path),
            federated_token_file=Path(connection.federated_token_file), authority_host=connection.authority_host,
            sandbox_state_dir=connection.state_dir, graph_endpoint=connection.graph_endpoint or PUBLIC_GRAPH,
            arm_endpoint=connection.arm_endpoint or PUBLIC_ARM, subscription_id=connection.subscription_id or None,
            resource_group=connection.resource_group or None, hub_name=connection.hub_name or None,
        )  # the administrator is the sandbox's own (connection.json), never saved with the settings

    def save(self, path: str | os.PathLike[str] | None = None, include_secret: bool = False) -> Path:
        """Write the settings (mode 0600, in a folder only the owner can enter); the client secret only when
        ``include_secret`` is True."""
        data = self.model_dump(mode="json", exclude={"client_secret", "admin_client_secret"})
        if include_secret and self.client_secret is not None:
            data["client_secret"] = self.client_secret.get_secret_value()
        file = settings_path(path)
        _keep_folder_private(file.parent)
        return write_private(file, json.dumps(data, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Read saved settings; ``overrides`` (for example ``client_secret=``) replace saved values."""
        file = settings_path(path)
        if not file.exists():
            raise FileNotFoundError(f"No saved settings at {file}. Create them with Settings(...).save().")
        try:
            data = json.loads(file.read_text())
        except json.JSONDecodeError as error:
            raise SettingsError(f"{file} is not valid JSON ({error}); fix it or save new settings.") from None
        return cls(**{**data, **overrides})


def _keep_folder_private(folder: Path) -> None:
    """The kit's own folder (``~/.iot-entra-kit``) is made 0700 even when it existed with looser permissions. A
    folder the learner chose is left as it is, with a warning when other users may enter it."""
    if not folder.exists():
        return  # write_private creates it 0700
    mode = stat.S_IMODE(folder.stat().st_mode)
    if not mode & 0o077:
        return
    if folder == DEFAULT_SETTINGS_FILE.parent.expanduser():
        folder.chmod(0o700)
        return
    warnings.warn(f"{folder} is open to other users (mode {oct(mode)}); the settings file in it is 0600, but keep "
                  f"its folder private too: run chmod 700 {folder}, or point {SETTINGS_FILE_ENV} into a private "
                  "folder.", UserWarning, stacklevel=3)


def settings_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where settings are saved: ``path``, else ``$KIT_SETTINGS_FILE``, else the default file."""
    return Path(path or os.environ.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_FILE).expanduser()


def settings_values(path: str | os.PathLike[str] | None = None, strict: bool = False) -> dict[str, Any]:
    """The saved values as they are, unvalidated; empty when nothing is saved. A file that is not a JSON object is
    a :class:`SettingsError` when ``strict`` (it names the file and the fix), else read as nothing saved."""
    file = settings_path(path)
    try:
        values = json.loads(file.read_text()) if file.exists() else {}
    except (OSError, ValueError) as error:
        if strict:
            raise SettingsError(f"The settings file {file} cannot be read ({error}). Fix it, save new settings "
                                "with the form in 00_setup_check, or delete the file to use the sandbox.") from None
        return {}
    if not isinstance(values, dict):
        if strict:
            raise SettingsError(f"The settings file {file} holds {type(values).__name__}, not settings. Save new "
                                "settings with the form in 00_setup_check, or delete the file to use the sandbox.")
        return {}
    return values


def _explain(error: ValidationError) -> tuple[str, tuple[str, ...]]:
    """The message, one line per mistake, and the fields named (a model-level check names its field itself)."""
    lines, fields = [], []
    for item in error.errors():
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item.get("loc", ()))
        if not field and ":" in message:
            field = message.split(":", 1)[0]
        lines.append(message if not field or message.startswith(field + ":") else f"{field}: {message}")
        fields += [field] if field else []
    return "Settings are not valid:\n  " + "\n  ".join(lines), tuple(dict.fromkeys(fields))
