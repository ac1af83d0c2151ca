"""The one call at the top of every notebook: ``session = kit.session.begin(minimum_kit="0.1")``.

It checks that the installed kit is recent enough for the notebook (a notebook written for a newer kit fails here,
with the command that fixes it, rather than later with an ``AttributeError``), picks the target from the saved
settings (the sandbox unless the learner saved real Azure values), starts the sandbox when needed, makes Python trust
it, and prints a short summary that never contains a secret. The notebook then reads ``session.settings`` and, on
the sandbox, ``session.connection``; the Azure SDK calls themselves stay in the notebook. On real Azure,
``session.connection`` and ``%sandbox`` raise :class:`~kit.settings.SandboxOnlyError` instead of quietly using a
local sandbox the learner did not choose.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.version import InvalidVersion, Version

import kit
from kit.cloud import Cloud
from kit.credentials import trust_sandbox
from kit.magics import register_magic
from kit.sandbox import process
from kit.sandbox.connection import AMQP_REQUIRED_ENV, Connection, amqp_required
from kit.settings import SandboxOnlyError, Settings, SettingsError, settings_path, settings_values
from kit.tracebacks import install as show_sdk_errors_once

__all__ = [
    "AmqpUnavailable", "KitVersionError", "Session", "azure_settings", "begin", "drop_duplicate_credential_warnings",
    "require_kit", "sandbox_settings", "saved_target", "use_kernel_python"
]

SDK_PACKAGES = ("azure-identity", "azure-iot-hub", "uamqp")
SANDBOX_TARGET_ENV = "KIT_TARGET"
# Works in any cell, before a session exists (00_setup_check's form cell needs none either).
CHANGE_SETTINGS = ("To enter or change them, run `import kit.forms; kit.forms.settings_form()` in a cell (no session "
                   "needed), or the Settings(...).save() code in 00_setup_check, section 3.")


class KitVersionError(RuntimeError):
    """The installed kit is older than the notebook needs."""


class AmqpUnavailable(RuntimeError):
    """Cloud-to-device messages must be sent here (CI), and the sandbox could not open its AMQP port."""


@dataclass(frozen=True)
class Session:
    """What a notebook works with: the settings (target, tenant, client, hub, credential kind) and, on the sandbox,
    its connection (authority, CA bundle, managed-identity endpoint...)."""

    settings: Settings
    sandbox_connection: Connection | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return self.settings.target

    @property
    def connection(self) -> Connection:
        """The running sandbox's ``connection.json``; on real Azure a :class:`SandboxOnlyError` says what to use."""
        if self.sandbox_connection is None:
            raise SandboxOnlyError(
                "session.connection (the sandbox's connection.json)",
                "Use session.settings (tenant, client id, hub host, authority) and the admin calls of kit.admin; put "
                "a step that only the sandbox can do under `if session.on_sandbox:`.")
        return self.sandbox_connection

    @property
    def cloud(self) -> Cloud:
        """The target's endpoints (authority, Graph, ARM, hub) and the hub's place in ARM, the same on both targets."""
        return Cloud.for_settings(self.settings)

    @property
    def on_sandbox(self) -> bool:
        """Whether notebooks talk to the local sandbox rather than real Azure."""
        return self.settings.target == "sandbox"

    @property
    def hub_host(self) -> str:
        return self.settings.hub_host or ""

    @property
    def c2d_available(self) -> bool:
        """Whether cloud-to-device messages can be sent: always on Azure; on the sandbox, when it owns AMQP port
        5671 (one process per machine can). Where AMQP is required (CI, or ``KIT_REQUIRE_AMQP=1``) a sandbox without
        it raises :class:`AmqpUnavailable` instead, so a notebook run cannot pass without sending."""
        if self.sandbox_connection is None or not self.sandbox_connection.amqp_note:
            return True
        if amqp_required():
            raise AmqpUnavailable(f"{self.sandbox_connection.amqp_note}\nCloud-to-device messages are required here "
                                  f"(CI or {AMQP_REQUIRED_ENV}=1), so this run fails rather than skip them.")
        return False

    def summary(self) -> str:
        """Versions and target, one fact a line; identifiers only, never a secret."""
        s = self.settings
        lines = [f"kit {kit.__version__} | Python {platform.python_version()} | "
                 + " | ".join(f"{name} {package_version(name)}" for name in SDK_PACKAGES)]
        if self.sandbox_connection is not None:
            amqp = "unavailable, see session.connection.amqp_note" if self.sandbox_connection.amqp_note else "ready"
            lines.append(f"target: sandbox at {self.sandbox_connection.authority_host} (cloud-to-device AMQP: {amqp})")
        else:
            lines.append(f"target: real Azure ({s.authority_host})")
        lines.append(f"tenant {s.tenant_id} | client {s.client_id} | hub {s.hub_host} | "
                     f"credential {s.credential_kind}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def package_version(name: str) -> str:
    """The installed version of ``name`` for the summary line, or "not installed" rather than an error."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def require_kit(minimum: str) -> str:
    """Raise :class:`KitVersionError` when the installed kit is older than ``minimum``; return the installed one."""
    try:
        needed, installed = Version(minimum), Version(kit.__version__)
    except InvalidVersion as error:
        raise ValueError(f"minimum_kit: {error}; write a version such as '0.1'.") from None
    if installed < needed:
        raise KitVersionError(
            f"This notebook needs kit {minimum} or newer, and kit {kit.__version__} is installed. Update it from "
            "the repository's folder: pip install -r requirements.txt (then restart the kernel).")
    return kit.__version__


def saved_target(path: str | os.PathLike[str] | None = None) -> str:
    """``azure`` only when the learner saved real Azure settings (or set ``KIT_TARGET=azure``)."""
    return os.environ.get(SANDBOX_TARGET_ENV) or settings_values(path, strict=True).get("target", "sandbox")


def sandbox_settings(state_dir: str | os.PathLike[str] | None = None, credential_kind: str | None = None,
                     path: str | os.PathLike[str] | None = None) -> tuple[Settings, Connection]:
    """Start (or find) the sandbox and return settings for its learner app and its connection.

    The credential kind saved by the learner is kept; everything else comes from the running sandbox, so a saved
    port or tenant from an older sandbox never goes stale."""
    saved = settings_values(path)
    folder = state_dir or saved.get("sandbox_state_dir")
    if folder and not Path(folder).exists():
        folder = None  # saved from a sandbox folder that is gone: use the default one
    connection = process.start(folder)
    kind = credential_kind or saved.get("credential_kind") or "client_secret"
    return Settings.from_sandbox(connection, credential_kind=kind), connection


def azure_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """The saved real Azure settings; the client secret may come from ``KIT_CLIENT_SECRET``."""
    try:
        return Settings.load(path)
    except FileNotFoundError:
        raise SettingsError(
            f"target: real Azure was chosen (KIT_TARGET=azure), but no settings are saved at {settings_path(path)}. "
            f"{CHANGE_SETTINGS} Or unset KIT_TARGET to use the sandbox.") from None
    except SettingsError as error:
        raise SettingsError(
            f"{error}\nThe saved settings are for real Azure. If only the secret is missing, give it to this kernel "
            "alone: run %env KIT_CLIENT_SECRET=<value> in a new cell above this one (do not save that cell), then "
            f"run this cell again. {CHANGE_SETTINGS} To go back to the sandbox, run "
            "kit.settings.settings_path().unlink() and restart the kernel.", error.fields) from None


def drop_duplicate_credential_warnings() -> None:
    """azure-identity logs every failed ``get_token`` at WARNING and then raises an error with the same text. With
    no handler configured, Python's last-resort handler prints that record on stderr, so a notebook showed each
    AADSTS message twice, once above the traceback. A ``NullHandler`` on ``azure.identity`` drops that copy only:
    a handler the learner adds (notebooks 02 and 06 log the chain) still receives every record."""
    logger = logging.getLogger("azure.identity")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def use_kernel_python() -> None:
    """Put this kernel's Python first on PATH, so that ``!python -m kit.sandbox ...`` in a cell runs it (a kernel
    started from a virtual environment that was never activated would otherwise find another Python)."""
    folder = str(Path(sys.executable).parent)
    found = shutil.which("python")
    if not found or Path(found).parent != Path(folder):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def begin(minimum_kit: str = "0.1", target: str | None = None, quiet: bool = False) -> Session:
    """Check the kit's version, choose the target, start and trust the sandbox when it is the target, print a
    summary (unless ``quiet``) and return the :class:`Session`. In a notebook it also registers ``%sandbox``, the
    sandbox's admin command line run in the kernel (on real Azure, a ``%sandbox`` that refuses with the reason), and
    shows Azure SDK errors once (``kit.tracebacks``)."""
    require_kit(minimum_kit)
    use_kernel_python()
    drop_duplicate_credential_warnings()
    show_sdk_errors_once()
    chosen = target or saved_target()
    register_magic(on_sandbox=chosen == "sandbox")
    if chosen == "sandbox":
        settings, connection = sandbox_settings()
        trust_sandbox(connection)
        session = Session(settings, connection)
    elif chosen == "azure":
        session = Session(azure_settings())
    else:
        raise ValueError(f"target: '{chosen}' is neither 'sandbox' nor 'azure'.")
    if not quiet:
        print(session.summary())
    return session
