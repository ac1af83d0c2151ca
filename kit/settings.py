"""The values a learner enters to reach IoT Hub with Entra ID, validated so that a mistake explains its own fix.

The same settings drive both targets: ``sandbox`` (the local service) and ``azure`` (a real tenant and hub). They
are saved to a 0600 file (``~/.iot-entra-kit/settings.json``, or ``$KIT_SETTINGS_FILE``) without the client secret
unless asked; the secret is a ``SecretStr``, so it never shows in a repr, a notebook output or a log line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kit.sandbox.paths import write_private

if TYPE_CHECKING:
    from kit.sandbox.connection import Connection

SETTINGS_FILE_ENV = "KIT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = Path.home() / ".iot-entra-kit" / "settings.json"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")

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

    @field_validator("client_id")
    @classmethod
    def _client(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not GUID.match(value):
            raise ValueError(
                f"client_id: '{value}' is not a GUID. Copy 'Application (client) ID' from the app registration's "
                "Overview (not its name, nor the secret's ID).")
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
        return self

    @classmethod
    def from_sandbox(cls, connection: Connection, credential_kind: CredentialKind = "client_secret") -> Settings:
        """Settings for the running sandbox's learner app."""
        return cls(
            target="sandbox", tenant_id=connection.tenant_id, client_id=connection.client_id,
            hub_host=connection.hub_host, credential_kind=credential_kind,
            client_secret=SecretStr(connection.client_secret), certificate_path=Path(connection.certificate_path),
            federated_token_file=Path(connection.federated_token_file), authority_host=connection.authority_host,
            sandbox_state_dir=connection.state_dir,
        )

    def save(self, path: str | os.PathLike[str] | None = None, include_secret: bool = False) -> Path:
        """Write the settings (mode 0600); the client secret only when ``include_secret`` is True."""
        data = self.model_dump(mode="json", exclude={"client_secret"})
        if include_secret and self.client_secret is not None:
            data["client_secret"] = self.client_secret.get_secret_value()
        return write_private(settings_path(path), json.dumps(data, indent=2, sort_keys=True))

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


def settings_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where settings are saved: ``path``, else ``$KIT_SETTINGS_FILE``, else the default file."""
    return Path(path or os.environ.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_FILE).expanduser()


def settings_values(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The saved values as they are, unvalidated; empty when nothing (readable) is saved."""
    file = settings_path(path)
    try:
        return json.loads(file.read_text()) if file.exists() else {}
    except (OSError, ValueError):
        return {}


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
