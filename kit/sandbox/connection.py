"""``connection.json``: everything a client needs to reach a running sandbox, written with mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kit.sandbox.paths import CONNECTION_FILE, resolve_state_dir, write_private

AMQP_REQUIRED_ENV = "KIT_REQUIRE_AMQP"
LOOPBACK = "127.0.0.1"
PUBLIC_HOSTNAME = "localhost"  # what clients call the sandbox, so the certificate's name matches
HEALTH_PATH = "/.sandbox/health"


@dataclass(frozen=True)
class Connection:
    """What a running sandbox tells its clients. Secrets are kept out of ``repr``.

    Like an Azure cloud, the sandbox is a set of endpoints: the authority (``authority_host``), Microsoft Graph
    (``graph_endpoint``, which clients extend with ``/v1.0/...``), Azure Resource Manager (``arm_endpoint``, the
    management SDKs' ``base_url``) and the hub (``hub_host``), whose resource is ``hub_resource_id``. The
    administrator (``admin_client_id``/``admin_client_secret``) stands in for the learner's own signed-in account.
    """

    state_dir: str
    pid: int
    port: int
    tenant_id: str
    tenant_domain: str
    authority_host: str
    hub_host: str
    hub_name: str
    ca_bundle: str
    client_id: str
    client_secret: str = field(repr=False)
    certificate_path: str
    federated_token_file: str
    identity_endpoint: str
    identity_header: str = field(repr=False)
    imds_authority_host: str = ""
    external_issuer: str = ""
    hub_connection_string: str = field(default="", repr=False)
    amqp_port: int | None = None
    amqp_note: str = ""
    graph_endpoint: str = ""
    arm_endpoint: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    hub_resource_id: str = ""
    admin_client_id: str = ""
    admin_client_secret: str = field(default="", repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Connection:
        """Read a mapping, keeping unknown fields in ``extra`` so a newer sandbox's file still loads."""
        known = {f.name for f in fields(cls)}
        extra = {k: v for k, v in data.items() if k not in known}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("extra", {}).update(extra)
        return cls(**values)


def connection_path(state_dir: str | Path | None = None) -> Path:
    """Where ``connection.json`` is for a state folder (default or ``$KIT_SANDBOX_DIR`` resolved)."""
    return resolve_state_dir(state_dir) / CONNECTION_FILE


def write_connection(state_dir: Path, connection: Connection) -> Path:
    """Write ``connection.json`` with mode 0600: it holds the learner app's secret."""
    return write_private(state_dir / CONNECTION_FILE, connection.to_json())


def load_connection(state_dir: str | Path | None = None) -> Connection:
    """Read ``connection.json`` of the sandbox in ``state_dir`` (it exists while, and after, a sandbox ran)."""
    path = connection_path(state_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"No sandbox connection file at {path}. Start the sandbox first: python -m kit.sandbox start"
        )
    return Connection.from_mapping(json.loads(path.read_text()))


def amqp_required() -> bool:
    """Whether cloud-to-device over AMQP must work here: ``KIT_REQUIRE_AMQP=1``, or, when that is unset, in CI
    (``CI=true``, set by CI services). Then a sandbox without port 5671 is an error, not a note: a test run fails
    instead of quietly skipping every cloud-to-device check."""
    chosen = os.environ.get(AMQP_REQUIRED_ENV) or os.environ.get("CI", "")
    return chosen.strip().lower() in {"1", "true", "yes"}
