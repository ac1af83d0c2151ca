"""The sandbox: one local HTTPS process that behaves like Microsoft Entra ID and like IoT Hub's data plane.

The real, unmodified azure-identity and azure-iot-hub packages talk to it. Its two sides live in separate
sub-packages: ``kit.sandbox.identity`` (the token endpoint and the directory) and ``kit.sandbox.hub`` (the IoT Hub
REST API, its query language and the AMQP listener). Shared plumbing (state folder, TLS, SQLite, the process) sits
at this level.
"""

from kit.sandbox.connection import Connection, load_connection
from kit.sandbox.paths import resolve_state_dir

__all__ = ["Connection", "load_connection", "resolve_state_dir"]
