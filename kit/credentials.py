"""Build the real azure-identity credentials for either target, keeping the SDK call visible.

Against the sandbox three knobs matter, and they live here only:

* the authority: ``authority=<sandbox URL>`` and ``disable_instance_discovery=True`` (msal would otherwise ask
  login.microsoftonline.com about the unknown host), from :func:`sandbox_kwargs`;
* trust: ``REQUESTS_CA_BUNDLE`` (requests: azure-identity and the IoT Hub REST calls) and ``SSL_CERT_FILE``
  (uamqp's OpenSSL: cloud-to-device messages) point at a bundle of certifi's roots plus the sandbox CA, from
  :func:`trust_sandbox`, so the same kernel still reaches real Azure;
* managed identity: pointed at the sandbox with ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` (App Service protocol)
  or ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` (IMDS protocol), so no chain probes 169.254.169.254.

A notebook can write ``ClientSecretCredential(tenant, client, secret, **sandbox_kwargs(conn))`` itself, or call a
factory such as :func:`client_secret`, which does exactly that.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from azure.core.credentials import TokenCredential
from azure.identity import (
    AzureAuthorityHosts,
    AzureCliCredential,
    CertificateCredential,
    ChainedTokenCredential,
    ClientAssertionCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    DeviceCodeCredential,
    EnvironmentCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from pydantic import SecretStr

from kit.sandbox.connection import Connection, load_connection
from kit.settings import SandboxOnlyError, Settings

__all__ = [
    "DEVELOPER_CREDENTIALS", "MANAGED_IDENTITY_VARIABLES", "admin_credential", "authority_kwargs", "build",
    "certificate", "chained", "client_assertion", "client_secret", "connection_for", "default", "device_code",
    "environment", "environment_variables", "managed_identity", "prepare_environment", "prepare_managed_identity",
    "production", "read_token_file", "sandbox_kwargs", "simulate_deployment", "trust_sandbox", "which_link",
    "workload_identity"
]

ManagedIdentityProtocol = Literal["app_service", "imds"]
MANAGED_IDENTITY_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_POD_IDENTITY_AUTHORITY_HOST")
# Developer-tool credentials read the learner's real Azure sign-ins; against the sandbox they are left out.
DEVELOPER_TOOL_EXCLUSIONS = {
    "exclude_cli_credential": True, "exclude_powershell_credential": True,
    "exclude_developer_cli_credential": True, "exclude_visual_studio_code_credential": True,
    "exclude_shared_token_cache_credential": True, "exclude_broker_credential": True,
}
# Authorities msal validates with login.microsoftonline.com's instance discovery. Any other host (Azure Stack Hub, a
# private cloud, the sandbox published as a cloud) is trusted as configured: disable_instance_discovery=True.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    "https://" + host for host in (AzureAuthorityHosts.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_CHINA,
                                   AzureAuthorityHosts.AZURE_GOVERNMENT))


# --- the knobs ------------------------------------------------------------------------------------------------

def connection_for(settings: Settings) -> Connection:
    """The sandbox the settings point at (its ``connection.json``); refused when the target is real Azure."""
    if settings.target != "sandbox":
        raise SandboxOnlyError("The sandbox's connection.json",
                               "These settings are for real Azure: their authority and hub host are used as given.")
    return load_connection(settings.sandbox_state_dir)


def trust_environment(conn: Connection) -> dict[str, str]:
    """The variables that make requests (``REQUESTS_CA_BUNDLE``) and OpenSSL (``SSL_CERT_FILE``) trust the CA."""
    return {"REQUESTS_CA_BUNDLE": conn.ca_bundle, "SSL_CERT_FILE": conn.ca_bundle}


def trust_sandbox(conn: Connection) -> dict[str, str]:
    """Trust the sandbox CA in this process (HTTPS and AMQP); returns the variables it set."""
    variables = trust_environment(conn)
    os.environ.update(variables)
    return variables


def sandbox_kwargs(conn: Connection) -> dict[str, Any]:
    """Keyword arguments that point an msal-based credential at the sandbox (and trust it)."""
    trust_sandbox(conn)
    return {"authority": conn.authority_host, "disable_instance_discovery": True}


def authority_kwargs(settings: Settings) -> dict[str, Any]:
    """``sandbox_kwargs`` for the sandbox; the settings' authority host for Azure (with instance discovery off for
    an authority that is not one of Microsoft's clouds, as for Azure Stack Hub)."""
    if settings.target == "sandbox":
        return sandbox_kwargs(connection_for(settings))
    if settings.authority_host in MICROSOFT_AUTHORITY_HOSTS:
        return {"authority": settings.authority_host}
    return {"authority": settings.authority_host, "disable_instance_discovery": True}


def managed_identity_environment(conn: Connection, protocol: ManagedIdentityProtocol = "app_service") -> dict[str, str]:
    """Variables that make ``ManagedIdentityCredential`` ask the sandbox instead of the real IMDS address."""
    if protocol == "app_service":
        return {"IDENTITY_ENDPOINT": conn.identity_endpoint, "IDENTITY_HEADER": conn.identity_header}
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": conn.imds_authority_host}


def prepare_managed_identity(conn: Connection, protocol: ManagedIdentityProtocol = "app_service") -> dict[str, str]:
    """Set the managed identity variables for one protocol (clearing the other's) and trust the sandbox."""
    for name in MANAGED_IDENTITY_VARIABLES:
        os.environ.pop(name, None)
    variables = managed_identity_environment(conn, protocol)
    os.environ.update(variables)
    trust_sandbox(conn)
    return variables


def environment_variables(settings: Settings) -> dict[str, str]:
    """The ``AZURE_*`` variables ``EnvironmentCredential`` reads, for these settings' credential kind."""
    variables = {"AZURE_TENANT_ID": settings.tenant_id or "", "AZURE_CLIENT_ID": settings.client_id or "",
                 "AZURE_AUTHORITY_HOST": _authority_host(settings)}
    if settings.credential_kind == "certificate" and settings.certificate_path:
        variables["AZURE_CLIENT_CERTIFICATE_PATH"] = str(settings.certificate_path)
    elif settings.client_secret is not None:
        variables["AZURE_CLIENT_SECRET"] = settings.client_secret.get_secret_value()
    if settings.federated_token_file:
        variables["AZURE_FEDERATED_TOKEN_FILE"] = str(settings.federated_token_file)
    return variables


def prepare_environment(settings: Settings) -> list[str]:
    """Export ``environment_variables`` into this process; returns the names set (never the values)."""
    variables = environment_variables(settings)
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        os.environ.pop(name, None)
    os.environ.update(variables)
    if settings.target == "sandbox":
        trust_sandbox(connection_for(settings))
    return sorted(variables)


def _authority_part(settings: Settings, key: str) -> dict[str, Any]:
    """One entry of :func:`authority_kwargs`: ``authority`` alone for credentials not built on msal, or
    ``disable_instance_discovery`` alone for credentials that read the authority from ``AZURE_AUTHORITY_HOST``."""
    return {k: v for k, v in authority_kwargs(settings).items() if k == key}


def _authority_host(settings: Settings) -> str:
    return connection_for(settings).authority_host if settings.target == "sandbox" else settings.authority_host


def _secret(settings: Settings) -> str:
    if settings.client_secret is None:
        raise ValueError("client_secret: enter the secret's Value (not its Secret ID) in the settings.")
    return settings.client_secret.get_secret_value()


def _require(settings: Settings, *names: str) -> None:
    missing = [name for name in names if not getattr(settings, name)]
    if missing:
        raise ValueError(f"{', '.join(missing)}: needed for a {settings.credential_kind} credential; enter "
                         "it in the settings.")


# --- one factory per credential type ---------------------------------------------------------------------------

def client_secret(settings: Settings, **kwargs: Any) -> ClientSecretCredential:
    """``ClientSecretCredential`` from the settings: the simplest app credential, a shared secret to keep safe."""
    _require(settings, "tenant_id", "client_id")
    return ClientSecretCredential(settings.tenant_id, settings.client_id, _secret(settings),
                                  **authority_kwargs(settings), **kwargs)


def certificate(settings: Settings, **kwargs: Any) -> CertificateCredential:
    """``CertificateCredential`` from the settings' PEM (private key and certificate in one file)."""
    _require(settings, "tenant_id", "client_id", "certificate_path")
    return CertificateCredential(settings.tenant_id, settings.client_id, str(settings.certificate_path),
                                 **authority_kwargs(settings), **kwargs)


def read_token_file(path: str | os.PathLike[str]) -> Callable[[], str]:
    """A ``func`` for ``ClientAssertionCredential`` that reads a (rotated) token file on every call."""
    return lambda: Path(path).read_text().strip()


def client_assertion(settings: Settings, func: Callable[[], str] | None = None,
                     **kwargs: Any) -> ClientAssertionCredential:
    """Federation with an assertion you supply (``func``); by default the settings' federated token file."""
    _require(settings, "tenant_id", "client_id")
    if func is None:
        _require(settings, "federated_token_file")
        func = read_token_file(settings.federated_token_file)  # type: ignore[arg-type]
    return ClientAssertionCredential(settings.tenant_id, settings.client_id, func,
                                     **_authority_part(settings, "authority"), **kwargs)


def workload_identity(settings: Settings, **kwargs: Any) -> WorkloadIdentityCredential:
    """``WorkloadIdentityCredential``: federation through a token file that the platform keeps rotating."""
    _require(settings, "tenant_id", "client_id", "federated_token_file")
    return WorkloadIdentityCredential(tenant_id=settings.tenant_id, client_id=settings.client_id,
                                      token_file_path=str(settings.federated_token_file),
                                      **_authority_part(settings, "authority"), **kwargs)


def managed_identity(settings: Settings, protocol: ManagedIdentityProtocol = "app_service",
                     **kwargs: Any) -> ManagedIdentityCredential:
    """System-assigned by default; pass ``client_id=`` for a user-assigned identity."""
    if settings.target == "sandbox":
        prepare_managed_identity(connection_for(settings), protocol)
    return ManagedIdentityCredential(**kwargs)


def environment(settings: Settings, **kwargs: Any) -> EnvironmentCredential:
    """``EnvironmentCredential`` after exporting the settings as the ``AZURE_*`` variables it reads."""
    prepare_environment(settings)
    return EnvironmentCredential(**_authority_part(settings, "disable_instance_discovery"), **kwargs)


def default(settings: Settings, **kwargs: Any) -> DefaultAzureCredential:
    """``DefaultAzureCredential`` with the settings exported; against the sandbox its managed identity is the
    sandbox's and the developer-tool credentials (real Azure sign-ins) are left out."""
    prepare_environment(settings)
    if settings.target == "azure":
        return DefaultAzureCredential(**{**_authority_part(settings, "disable_instance_discovery"), **kwargs})
    prepare_managed_identity(connection_for(settings))
    return DefaultAzureCredential(disable_instance_discovery=True, **{**DEVELOPER_TOOL_EXCLUSIONS, **kwargs})


def chained(*credentials: TokenCredential) -> ChainedTokenCredential:
    """Try each credential in turn; only 'unavailable' moves on, any other failure stops the chain."""
    return ChainedTokenCredential(*credentials)


def device_code(settings: Settings, client_id: str | None = None, **kwargs: Any) -> DeviceCodeCredential:
    """A user signs in with a code. ``client_id`` must be a public client; azure-identity's default is the Azure
    CLI's application (04b07795-8ddb-461a-bbee-02f9e1bf7b46)."""
    _require(settings, "tenant_id")
    if client_id:
        kwargs["client_id"] = client_id
    return DeviceCodeCredential(tenant_id=settings.tenant_id, **authority_kwargs(settings), **kwargs)


# --- the administrator ----------------------------------------------------------------------------------------

ADMIN_SECRET_ENV = "KIT_ADMIN_CLIENT_SECRET"


def admin_credential(session_or_settings: Any, **kwargs: Any) -> TokenCredential:
    """The administrator's credential for the admin steps (``kit.admin``: Graph and ARM), not the app's.

    On real Azure it is the learner's own account: ``az login``'s (``AzureCliCredential``, the default), a device
    code sign-in, or an admin app's secret from ``KIT_ADMIN_CLIENT_SECRET`` (``admin_credential_kind``). On the
    sandbox it is the sandbox's administrator app from ``connection.json``, which holds what that account holds on
    Azure: Owner on the subscription and the right to manage app registrations."""
    settings: Settings = getattr(session_or_settings, "settings", session_or_settings)
    _require(settings, "tenant_id")
    if settings.target == "sandbox":
        conn = connection_for(settings)
        return ClientSecretCredential(conn.tenant_id, conn.admin_client_id, conn.admin_client_secret,
                                      **sandbox_kwargs(conn), **kwargs)
    if settings.admin_credential_kind == "cli":
        return AzureCliCredential(tenant_id=settings.tenant_id, **kwargs)
    if settings.admin_credential_kind == "device_code":
        return device_code(settings, **kwargs)
    secret = settings.admin_client_secret or SecretStr(os.environ.get(ADMIN_SECRET_ENV, ""))
    if not settings.admin_client_id or not secret.get_secret_value():
        raise ValueError(f"admin_client_id, {ADMIN_SECRET_ENV}: admin_credential_kind 'client_secret' needs the "
                         f"admin app's client id in the settings and its secret in {ADMIN_SECRET_ENV} (%env in a "
                         "cell you do not save); or choose 'cli' to use your az login.")
    return ClientSecretCredential(settings.tenant_id, settings.admin_client_id, secret.get_secret_value(),
                                  **authority_kwargs(settings), **kwargs)


# --- the production chain --------------------------------------------------------------------------------------

# Credentials that answer as a developer or a person. Each one, left in a deployed service's chain, could answer when
# the workload identity is missing, and the service would then run with someone's own rights:
DEVELOPER_CREDENTIALS = {
    # whoever last ran `az login` / `Connect-AzAccount` / `azd auth login` on the machine (an admin on a build agent
    # or a jump box): the service would act with that person's rights, and they run a subprocess (10 s timeout).
    "AzureCliCredential": "the account of the last `az login` on this machine",
    "AzurePowerShellCredential": "the account of the last `Connect-AzAccount` on this machine",
    "AzureDeveloperCliCredential": "the account of the last `azd auth login` on this machine",
    # a developer's sign-in cached on the machine by an editor or a Microsoft tool.
    "VisualStudioCodeCredential": "a developer's Visual Studio Code sign-in",
    "SharedTokenCacheCredential": "an account cached by Microsoft developer tools",
    "BrokerCredential": "the Windows account signed in to the machine (WAM)",
    # a person at a keyboard: a headless service would wait for a sign-in that never comes.
    "InteractiveBrowserCredential": "a person signing in through a browser",
    "InteractiveBrowserBrokerCredential": "a person signing in through the Windows broker",
    "DeviceCodeCredential": "a person entering a code on a web page",
    "UsernamePasswordCredential": "a person's password",
}
WORKLOAD_IDENTITY_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                               "AZURE_AUTHORITY_HOST")
Deployment = Literal["workload_identity", "managed_identity"]


def production(managed_identity_client_id: str | None = None, **kwargs: Any) -> ChainedTokenCredential:
    """The chain a deployed service runs with: the workload identity where the platform set one up (AKS: its webhook
    injects ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_FEDERATED_TOKEN_FILE``, ``AZURE_AUTHORITY_HOST``), then
    the managed identity of the VM, App Service or Function (``managed_identity_client_id`` picks a user-assigned
    one; None means system-assigned). It reads only what the platform provides, so the same code runs everywhere.

    Left out, and what each exclusion prevents:

    * every credential of :data:`DEVELOPER_CREDENTIALS` (Azure CLI, PowerShell, azd, VS Code, cached and interactive
      sign-ins): where the workload identity is missing, the service would otherwise run as whoever signed in on
      the machine, or hang waiting for a person;
    * ``EnvironmentCredential``: a client secret in the environment. A stale ``AZURE_CLIENT_SECRET`` on a host would
      win over the workload identity (or stop the chain with AADSTS7000215, notebook 02), and a secret is one more
      thing to leak and rotate.

    ``WorkloadIdentityCredential`` cannot be built without its variables, so it joins the chain only where they are
    set, as in ``DefaultAzureCredential``. The SDK's own pared-down form is ``DefaultAzureCredential(
    require_envvar=True)`` with ``AZURE_TOKEN_CREDENTIALS=prod`` (azure-identity 1.27: Environment, WorkloadIdentity
    and ManagedIdentity only; ``require_envvar`` makes a deployment that forgot the variable fail at start-up instead
    of falling back to developer credentials). ``kit.checks.production_chain`` accepts both."""
    links: list[TokenCredential] = []
    if os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        links.append(WorkloadIdentityCredential(**kwargs))
    links.append(ManagedIdentityCredential(client_id=managed_identity_client_id, **kwargs))
    return ChainedTokenCredential(*links)


def simulate_deployment(conn: Connection, deployment: Deployment) -> list[str]:
    """Make this process look like a deployment, on the sandbox: every ``AZURE_*`` and managed-identity variable
    cleared, the VM's metadata endpoint (IMDS) redirected to the sandbox, and for ``workload_identity`` the four
    variables AKS's webhook injects into a pod. Returns the names set (never the values)."""
    if deployment not in ("workload_identity", "managed_identity"):
        raise ValueError(f"deployment: '{deployment}' is neither 'workload_identity' nor 'managed_identity'.")
    for name in [name for name in os.environ if name.startswith("AZURE_")]:
        del os.environ[name]
    names = list(prepare_managed_identity(conn, "imds"))
    if deployment == "workload_identity":
        os.environ.update(dict(zip(WORKLOAD_IDENTITY_VARIABLES, (conn.tenant_id, conn.client_id,
                                                                 conn.federated_token_file, conn.authority_host))))
        names += WORKLOAD_IDENTITY_VARIABLES
    return sorted(names)


def which_link(credential: TokenCredential, *scopes: str) -> tuple[Any, str]:
    """A token from a chain and the name of the credential that answered, read from the line azure-identity logs
    at INFO ("... acquired a token from <name>")."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("azure.identity")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        token = credential.get_token(*scopes)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    answered = [record.args[-1] for record in records
                if record.msg == "%s acquired a token from %s" and isinstance(record.args, tuple)]
    return token, answered[-1] if answered else type(credential).__name__


FACTORIES: dict[str, Callable[..., TokenCredential]] = {
    "default": default, "environment": environment, "client_secret": client_secret, "certificate": certificate,
    "client_assertion": client_assertion, "workload_identity": workload_identity,
    "managed_identity": managed_identity, "device_code": device_code,
}


def build(settings: Settings, **kwargs: Any) -> TokenCredential:
    """The credential of ``settings.credential_kind`` (``chained`` = managed identity, then client secret)."""
    if settings.credential_kind == "chained":
        return chained(managed_identity(settings), client_secret(settings, **kwargs))
    return FACTORIES[settings.credential_kind](settings, **kwargs)
