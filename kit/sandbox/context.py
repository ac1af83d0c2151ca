"""What every part of a running sandbox shares, as typed fields rather than a registry of named services.

The server makes one :class:`SandboxContext`; each side adds what it offers as a field. The identity side offers the
others (the hub, Graph, ARM) a :class:`Directory`: its signing keys, its tenant and principal lookups, so they check
tokens and callers without importing it. The hub side keeps its own parts in ``kit.sandbox.hub.context``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kit.sandbox.bearer import TokenCaches
from kit.sandbox.connection import LOOPBACK, PUBLIC_HOSTNAME
from kit.sandbox.db import Database
from kit.sandbox.tls import TlsFiles


class Directory(Protocol):
    """What the identity side offers the resources that check its tokens."""

    @property
    def tenant_id(self) -> str:
        """The tenant whose tokens the sandbox's resources trust."""
        ...

    def jwks(self) -> dict[str, Any]:
        """The tenant's signing keys, as its JWKS document lists them."""
        ...

    def principal_active(self, object_id: str) -> bool:
        """Whether the principal still exists and may sign in (a disabled app's tokens are refused at once)."""
        ...

    def principal_type(self, object_id: str) -> str | None:
        """``User``, ``ServicePrincipal``... for a directory object, None when the directory does not hold it."""
        ...


@dataclass(kw_only=True)
class SandboxContext:
    """What every part of a running sandbox shares."""

    state_dir: Path
    db: Database
    tls: TlsFiles
    port: int
    bind_host: str = LOOPBACK
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    directory: Directory | None = None  # set by the identity side
    tokens: TokenCaches = field(default_factory=TokenCaches)

    @property
    def base_url(self) -> str:
        """The HTTPS origin clients use; ``localhost`` so the certificate's name matches."""
        return f"https://{PUBLIC_HOSTNAME}:{self.port}"

    @property
    def hub_host(self) -> str:
        """The hub host name clients put in connection strings and SAS resource URIs."""
        return f"{PUBLIC_HOSTNAME}:{self.port}"
