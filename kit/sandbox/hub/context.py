"""The running hub's context: what every side shares (``SandboxContext``) plus the hub's own parts, as typed fields.

Every hub function that needs the running hub takes a :class:`HubContext`; ``side.start`` makes the one context over
the server's shared one (the same database, background and stop lists, and the identity side's directory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

from kit.sandbox.context import SandboxContext
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.limits import realism
from kit.sandbox.hub.limits.throttling import Throttle
from kit.sandbox.hub.security.auth import AuthState

Provider = Callable[[int], Iterator[tuple[int, dict]]]  # a FROM source: after_rowid -> (rowid, document) pairs


@dataclass(kw_only=True)
class HubContext(SandboxContext):
    """The hub's parts beside the shared ones."""

    registry: Registry
    realism: realism.Live  # the realism knobs as the running hub sees them
    throttle: Throttle  # per-operation throttles (REST routes and the AMQP listener)
    collections: dict[str, Provider] = field(default_factory=dict)  # query sources by FROM name
    auth: AuthState = field(default_factory=AuthState)  # remembered auth decisions and shared access policies

    @classmethod
    def over(cls, shared: SandboxContext, registry: Registry) -> HubContext:
        """The hub's context over ``shared``: the same database, lists, directory and token caches."""
        common = {item.name: getattr(shared, item.name) for item in fields(SandboxContext)}
        return cls(**common, registry=registry, realism=realism.Live(shared.db), throttle=Throttle())
