"""The five IoT Hub service clients of ``azure-iot-hub``, built with a token credential and closed cleanly.

Each factory is one visible SDK call, e.g. ``IoTHubRegistryManager.from_token_credential(host, credential)``, after
checking the host value (the SDK adds ``https://`` itself, so ``https://myhub.azure-devices.net`` would become
``https://https://...``). Close a client with ``close(client)`` or use ``with closing(client) as rm:``: the registry
manager holds an AMQP connection (for cloud-to-device messages) that, if left to the garbage collector, prints an
"Exception ignored" warning at interpreter exit; closing disconnects it and drops it first.

Both keep the client's HTTPS connection alive between calls (``keep_alive``: msrest's ``with client:`` mode); a client
used without them opens a new TLS connection for every call.

Example::

    from kit import clients
    with clients.closing(clients.registry_manager("myhub.azure-devices.net", credential)) as registry:
        registry.get_twin("thermostat-a-1")
    registry = clients.keep_alive(clients.registry_manager(host, credential))  # kept for a notebook; close() at the end
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.iot.hub import (
    DigitalTwinClient,
    IoTHubConfigurationManager,
    IoTHubHttpRuntimeManager,
    IoTHubJobManager,
    IoTHubRegistryManager,
)

__all__ = [
    "check_host", "close", "closing", "configuration_manager", "digital_twin_client", "from_connection_string",
    "http_runtime_manager", "job_manager", "keep_alive", "registry_manager"
]

Client = TypeVar("Client")

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")


def check_host(host: str) -> str:
    """Return the hub host name (``myhub.azure-devices.net``, or ``localhost:PORT`` for the sandbox) or raise a
    ValueError that names the field and the fix."""
    if not isinstance(host, str) or not host.strip():
        raise ValueError("host: it is empty. Give the hub's host name, e.g. myhub.azure-devices.net.")
    value = host.strip()
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value)
    if scheme:
        bare = value[scheme.end():].rstrip("/")
        raise ValueError(
            f"host: '{value}' starts with '{scheme.group(0)}'. The SDK adds https:// itself; give the host name "
            f"only, e.g. '{bare}'."
        )
    if "HostName=" in value or ";" in value:
        raise ValueError(
            "host: this looks like a connection string. Give only the HostName part (e.g. myhub.azure-devices.net), "
            "or use from_connection_string."
        )
    if not _HOST.match(value):
        raise ValueError(
            f"host: '{value}' is not a host name. Use the hub's host name, e.g. myhub.azure-devices.net "
            "(no path, no spaces)."
        )
    return value


def registry_manager(host: str, credential: TokenCredential) -> IoTHubRegistryManager:
    """Devices, modules, twins, queries, direct methods and cloud-to-device messages."""
    return IoTHubRegistryManager.from_token_credential(check_host(host), credential)


def job_manager(host: str, credential: TokenCredential) -> IoTHubJobManager:
    """Scheduled jobs (twin updates and direct methods over many devices) and import/export jobs."""
    return IoTHubJobManager.from_token_credential(check_host(host), credential)


def configuration_manager(host: str, credential: TokenCredential) -> IoTHubConfigurationManager:
    """Automatic device management configurations and edge deployments."""
    return IoTHubConfigurationManager.from_token_credential(check_host(host), credential)


def http_runtime_manager(host: str, credential: TokenCredential) -> IoTHubHttpRuntimeManager:
    """Feedback of cloud-to-device messages."""
    return IoTHubHttpRuntimeManager.from_token_credential(check_host(host), credential)


def digital_twin_client(host: str, credential: TokenCredential) -> DigitalTwinClient:
    """IoT Plug and Play digital twins: read, patch, invoke commands."""
    return DigitalTwinClient.from_token_credential(check_host(host), credential)


CLIENT_CLASSES: dict[str, type] = {
    "registry": IoTHubRegistryManager,
    "jobs": IoTHubJobManager,
    "configurations": IoTHubConfigurationManager,
    "http_runtime": IoTHubHttpRuntimeManager,
    "digital_twins": DigitalTwinClient,
}


def from_connection_string(kind: str, connection_string: str) -> Any:
    """A client authenticated with a shared access policy, e.g. ``from_connection_string("registry", cs)``."""
    if kind not in CLIENT_CLASSES:
        raise ValueError(f"kind: '{kind}' is not a client; use one of {', '.join(CLIENT_CLASSES)}.")
    if not isinstance(connection_string, str) or "HostName=" not in connection_string:
        raise ValueError(
            "connection_string: expected 'HostName=...;SharedAccessKeyName=...;SharedAccessKey=...' "
            "(the hub's Shared access policies page)."
        )
    return CLIENT_CLASSES[kind].from_connection_string(connection_string)


def keep_alive(client: Client) -> Client:
    """Switch a client to msrest's keep-alive mode (what ``with client:`` does) and return it: its calls share one
    HTTPS connection until ``close(client)``. Without it the SDK opens a new TLS connection for every call (and
    loads the CA bundle again), tens of milliseconds each. For a client kept for a whole notebook."""
    protocol = getattr(client, "protocol", None)
    if protocol is not None and not protocol.config.keep_alive:
        protocol.__enter__()
    return client


def close(client: Any) -> None:
    """Disconnect a client now: the registry manager's AMQP link (then set to None, so nothing runs at exit) and
    the HTTP session. Closing twice is harmless."""
    amqp = getattr(client, "amqp_svc_client", None)
    if amqp is not None:
        amqp.disconnect_sync()
        client.amqp_svc_client = None
    protocol = getattr(client, "protocol", None)
    if protocol is not None:
        protocol.__exit__(None, None, None)  # msrest: close the HTTP session, end keep-alive


@contextmanager
def closing(client: Client) -> Iterator[Client]:
    """``with closing(clients.registry_manager(host, credential)) as registry: ...`` closes it at the end.

    Inside the block the HTTP connection is kept alive between calls (msrest's own ``with client:`` mode), so
    each call does not open a new TLS connection.
    """
    keep_alive(client)
    try:
        yield client
    finally:
        close(client)
