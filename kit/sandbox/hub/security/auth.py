"""Who is calling the hub, and may they do this? Entra ID bearer tokens with RBAC, or SAS tokens of a policy.

Stable API (also used by the AMQP listener for CBS put-token):

* ``authenticate(ctx, authorization) -> Principal`` where ``authorization`` is ``"Bearer <jwt>"`` or
  ``"SharedAccessSignature sr=..."`` (or None); raises ``HubError`` 401 IotHubUnauthorizedAccess.
* ``authorize(ctx, principal, data_action, method, path)``: raises ``HubError`` 401 IotHubUnauthorized (Entra ID
  principal without the data action, message as the real hub words it) or 401 IotHubUnauthorizedAccess (a policy
  without the right).
* ``authorize_permission(ctx, principal, permission, method, path)``: the same for a ``permissions.Permission``.

Bearer tokens are checked by ``kit.sandbox.bearer`` as an Entra ID resource server does, for the audience
``https://iothubs.azure.net`` with or without a trailing slash: a token for Microsoft Graph or ARM is refused.
UNCONFIRMED: the real hub's wording for a bad or expired JWT (the sandbox explains the cause in the message).

What the database decides (a principal still enabled, a role granting a data action, local authentication on) is
remembered per request path in :class:`_Decisions` only while the database is unchanged (``Database.generation``:
a write by the sandbox, the admin command line or a test's own connection clears it) and until the next role
assignment comes into effect, so a revoked role or a disabled app is refused at the very next request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kit.sandbox import bearer, rbac
from kit.sandbox.bearer import BearerError
from kit.sandbox.hub.security import sas
from kit.sandbox.hub.security.permissions import Permission
from kit.sandbox.hub.transport.errors import HubError

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

AUDIENCE = "https://iothubs.azure.net"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an Entra ID object (``kind="entra"``, ``name`` = oid) or a SAS policy."""

    kind: Literal["entra", "sas"]
    name: str
    rights: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _unauthorized(message: str) -> HubError:
    return HubError(401, "IotHubUnauthorizedAccess", message)


class _Decisions:
    """Answers the database gave, valid while it is unchanged and until the next assignment applies."""

    def __init__(self) -> None:
        self._answers: dict[Any, Any] = {}
        self._generation: Any = None
        self._until = -math.inf

    def answer(self, ctx: HubContext, question: Any, ask: Callable[[], Any]) -> Any:
        generation = ctx.db.generation()
        now = time.time()
        if generation != self._generation or now >= self._until:
            self._answers = {}
            self._generation = generation
            self._until = rbac.next_effective_at(ctx.db, now)
        if question not in self._answers:
            self._answers[question] = ask()
        return self._answers[question]


@dataclass
class AuthState:
    """What the hub's checks remember (``HubContext.auth``): decisions, and the shared access policies."""

    decisions: _Decisions = field(default_factory=_Decisions)
    policies: dict[str, sas.Policy] | None = None


def _decided(ctx: HubContext, question: Any, ask: Callable[[], Any]) -> Any:
    return ctx.auth.decisions.answer(ctx, question, ask)


def _bearer_message(error: BearerError, ctx: HubContext) -> str:
    """The sandbox's explanation of a refused token, in the hub's 401 (the real wording is UNCONFIRMED)."""
    messages = {
        "not_jwt": "The bearer token is not a JWT. Send the access_token returned by Entra ID.",
        "algorithm": f"The bearer token uses algorithm '{error.detail}'. IoT Hub accepts only RS256 tokens signed "
                     "by Entra ID.",
        "key": f"The token was signed with key '{error.detail}', which is not one of the tenant's signing keys. "
               "Get a new token from this tenant's authority.",
        "expired": "The bearer token has expired. Ask the credential for a new token.",
        "not_yet_valid": "The bearer token is not valid yet (nbf is in the future). Check the clock.",
        "audience": f"The bearer token is for another resource. Request it with the scope {AUDIENCE}/.default.",
        "issuer": "The bearer token was issued for another tenant. This hub trusts tokens issued by "
                  f"{bearer.issuer_of(ctx)}.",
        "signature": "The bearer token's signature does not verify. The token was altered.",
        "no_oid": "The bearer token has no 'oid' claim; IoT Hub needs the caller's object id.",
        "missing": "The bearer token is empty. Send 'Bearer <token>' from Entra ID.",
    }
    return messages.get(error.reason, f"The bearer token was rejected: {error.detail}.")


def verify_bearer(ctx: HubContext, token: str) -> Principal:
    """Verify an Entra ID access token for the hub; return its principal."""
    try:
        claims = bearer.decode(ctx, token, (AUDIENCE, AUDIENCE + "/"))
    except BearerError as error:
        raise _unauthorized(_bearer_message(error, ctx)) from None
    oid = claims["oid"]
    directory = ctx.directory
    if directory is not None and not _decided(ctx, ("active", oid), lambda: directory.principal_active(oid)):
        raise _unauthorized(
            f"Principal {oid} is disabled or no longer exists in the tenant. Its tokens are not accepted "
            "(the sandbox refuses them at once; on Azure, Entra ID stops issuing new ones, but those already issued "
            "stay valid until they expire, 60 to 90 minutes after issue by default)."
        )
    return Principal("entra", oid, claims=claims)


def _accepted_hosts(ctx: HubContext) -> tuple[str, ...]:
    return (ctx.hub_host.lower(), f"127.0.0.1:{ctx.port}", f"[::1]:{ctx.port}")


def verify_sas(ctx: HubContext, token: str) -> Principal:
    """The policy behind a SAS token, unless local authentication is disabled on the hub."""
    state = ctx.auth
    if _decided(ctx, "local_auth_disabled", lambda: sas.local_auth_disabled(ctx.db)):
        raise _unauthorized(
            "Local authentication (shared access policies) is disabled on this hub (disableLocalAuth). "
            "Authenticate with Microsoft Entra ID instead."
        )
    if state.policies is None:
        state.policies = sas.load_policies(ctx.db)
    policy = sas.verify(state.policies, token, _accepted_hosts(ctx))
    return Principal("sas", policy.name, rights=policy.rights)


def authenticate(ctx: HubContext, authorization: str | None) -> Principal:
    """Identify the caller from an ``Authorization`` value (REST header or AMQP CBS put-token body)."""
    value = (authorization or "").strip()
    if not value:
        raise _unauthorized(
            "Authorization header missing. Send 'Bearer <token>' from Entra ID or a SharedAccessSignature."
        )
    scheme, _, credential = value.partition(" ")
    if scheme.lower() == "bearer":
        return verify_bearer(ctx, credential.strip())
    if scheme == "SharedAccessSignature":
        return verify_sas(ctx, value)
    raise _unauthorized(
        f"Authorization scheme '{scheme}' is not supported. Use 'Bearer <token>' or 'SharedAccessSignature ...'."
    )


def authorize_permission(ctx: HubContext, principal: Principal, permission: Permission, method: str, path: str) -> None:
    """Allow the call or raise the 401 the real hub answers."""
    if principal.kind == "sas":
        if not principal.rights.intersection(permission.sas_rights):
            raise _unauthorized(
                f"Authorization rule '{principal.name}' does not allow {method} on {path}: it needs "
                f"{' or '.join(permission.sas_rights)}. Use a policy with that right (e.g. iothubowner)."
            )
        return
    for action in permission.data_actions:
        if not _decided(ctx, (principal.name, action),
                        lambda action=action: rbac.is_allowed(ctx.db, principal.name, action)):
            raise HubError(
                401, "IotHubUnauthorized",
                f"Principal {principal.name} is not authorized for {method} on {path} due to no assigned permissions",
            )


def authorize(ctx: HubContext, principal: Principal, data_action: str, method: str, path: str) -> None:
    """Check one data action (e.g. ``Microsoft.Devices/IotHubs/cloudToDeviceMessages/send/action``)."""
    from kit.sandbox.hub.security.permissions import OPERATIONS

    rights = next((p.sas_rights for p in OPERATIONS.values() if p.data_actions == (data_action,)), ())
    authorize_permission(ctx, principal, Permission((data_action,), rights), method, path)
