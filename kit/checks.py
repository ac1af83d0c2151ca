"""Self-checks for the notebooks: each one returns quietly when things are right and raises :class:`CheckFailed`,
whose message carries a hint, when they are not. Under nbval a plain run of a notebook is therefore a real test.

A cell that demonstrates a failure is tagged ``raises-exception`` (nbval then expects its error); the next cell calls
:func:`failed_with`, which checks that the error was the one the notebook meant to show (not, say, a typo) and
returns its explanation from :mod:`kit.explain`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential

from kit import clients, credentials
from kit.explain import Explanation, explain
from kit.settings import Settings, SettingsError
from kit.tokens import decode_unverified

__all__ = [
    "IOT_HUB_AUDIENCE", "IOT_HUB_SCOPE", "CheckFailed", "Connectivity", "chain_links", "connectivity",
    "environment_ready", "equal", "failed_with", "production_chain", "token_for_iot_hub", "token_from_app",
    "token_proof"
]

IOT_HUB_AUDIENCE = "https://iothubs.azure.net"
IOT_HUB_SCOPE = IOT_HUB_AUDIENCE + "/.default"
# appidacr / azpacr: how the application proved who it is.
PROOF_KINDS = {"public": "0", "secret": "1", "certificate": "2", "assertion": "2"}


class CheckFailed(AssertionError):
    """A self-check found something wrong; the message says what and the hint says what to try."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(f"{problem}\nHint: {hint}")
        self.problem = problem
        self.hint = hint


def _claims(token: Any) -> dict[str, Any]:
    try:
        return decode_unverified(token)["claims"]
    except ValueError as error:
        raise CheckFailed(str(error), "Pass what get_token() returned (or its .token).") from None


def token_for_iot_hub(token: Any) -> dict[str, Any]:
    """The token is a JWT for IoT Hub that has not expired; returns its claims."""
    claims = _claims(token)
    audience = claims.get("aud")
    if audience != IOT_HUB_AUDIENCE:
        raise CheckFailed(f"The token's audience is {audience!r}, not {IOT_HUB_AUDIENCE!r}.",
                          f"Ask for the scope '{IOT_HUB_SCOPE}' (resource + '/.default').")
    if float(claims.get("exp", 0)) <= time.time():
        raise CheckFailed("The token has expired.", "Call get_token() again; credentials cache and refresh tokens.")
    return claims


def token_from_app(token: Any, client_id: str) -> dict[str, Any]:
    """The token was issued to the application ``client_id``."""
    claims = _claims(token)
    app = claims.get("appid") or claims.get("azp")
    if (app or "").lower() != client_id.lower():
        raise CheckFailed(f"The token belongs to application {app!r}, not {client_id!r}.",
                          "Check which credential produced it: another one may have won the chain.")
    return claims


def token_proof(token: Any, kind: str) -> dict[str, Any]:
    """The application proved itself with ``kind``: 'secret', 'certificate', 'assertion' or 'public'."""
    if kind not in PROOF_KINDS:
        raise ValueError(f"kind: '{kind}' is not one of {', '.join(PROOF_KINDS)}.")
    claims = _claims(token)
    proof = claims.get("appidacr", claims.get("azpacr"))
    if proof != PROOF_KINDS[kind]:
        raise CheckFailed(f"appidacr is {proof!r}; a {kind} gives {PROOF_KINDS[kind]!r}.",
                          "1 means a client secret, 2 a certificate or a signed assertion, 0 a public client.")
    return claims


def equal(actual: Any, expected: Any, hint: str) -> None:
    """``actual == expected``, or a :class:`CheckFailed` carrying ``hint``. Returns nothing, so a check on a cell's
    last line adds no output (an echoed ``False`` after "the tag is removed" reads like a failure)."""
    if actual != expected:
        raise CheckFailed(f"Expected {expected!r}, got {actual!r}.", hint)


def environment_ready() -> None:
    """Python 3.11 or 3.12, and the native AMQP library azure-iot-hub needs imports."""
    if not (3, 11) <= sys.version_info[:2] <= (3, 12):
        raise CheckFailed(f"Python {sys.version.split()[0]} is not supported by azure-iot-hub's uamqp.",
                          "Create the environment with Python 3.11 or 3.12 (see the README).")
    try:
        import azure.iot.hub  # noqa: F401
        import uamqp  # noqa: F401
    except ImportError as error:
        raise CheckFailed(f"An SDK does not import: {error}", "Run: pip install -r requirements.txt") from None


def failed_with(code: str, error: BaseException | None = None, *, field: str | None = None) -> Explanation | None:
    """The failure just shown (the previous cell's error, or ``error``) was the one meant: ``code`` is its code (an
    AADSTS number, an IoT Hub error name, a :mod:`kit.explain` key) or, for an error without one, its own class
    name (e.g. 'SettingsError', never a base class such as 'Exception'). A settings error must also name ``field``.
    Returns the explanation, when :mod:`kit.explain` has one.

    Every call consumes the last error, so a later check cannot pass on an old failure; an error raised while
    displaying a cell's value is not the cell's failure and does not count."""
    last = _take_last_error()
    error = error if error is not None else last
    if error is None:
        raise CheckFailed(f"The previous cell was expected to fail with {code}, and it succeeded.",
                          "Run the cell above again: it should raise. If it did not, re-run the cells before it.")
    explanation = explain(error)
    found = explanation.code if explanation.known else type(error).__name__
    if code != found:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckFailed(f"Expected {code}, but the error was {found}: {first_line[:200]}",
                          "Re-run the notebook from the top; an earlier cell may not have run.")
    if isinstance(error, SettingsError):
        if field is None:
            raise ValueError(f"field: a settings error names the setting that is wrong ({', '.join(error.fields)});"
                             " pass it, e.g. failed_with('SettingsError', field='hub_host').")
        if field not in error.fields:
            raise CheckFailed(f"Expected a mistake in {field}, but the settings error was about "
                              f"{', '.join(error.fields) or 'the settings file'}: {str(error)[:200]}",
                              "Re-run the notebook from the top; an earlier cell may not have run.")
    return explanation if explanation.known else None


def _take_last_error() -> BaseException | None:
    """The error the previous cell raised, and forget it (and every ``sys.last_*``) so it is checked only once.

    In IPython the previous cell's execution result says whether the cell itself raised: a failure while showing its
    value sets ``sys.last_value`` too, but it is not the cell's error. Elsewhere (a plain interpreter) the last
    error is ``sys.last_value``."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        previous = shell.last_execution_result
        error = previous and (previous.error_in_exec or previous.error_before_exec)
        if previous is not None:
            previous.error_in_exec = previous.error_before_exec = None
    else:
        error = getattr(sys, "last_value", None)
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    return error or None


def chain_links(credential: Any) -> list[str]:
    """The class names of a credential's links, depth first (a chain inside a chain included)."""
    inner = getattr(credential, "credentials", None)
    if inner is None:
        # DefaultAzureCredential keeps a link it could not set up (a workload identity without its variables) as a
        # stand-in that names the credential it replaces
        return [getattr(credential, "_credential_name", None) or type(credential).__name__]
    return [name for link in inner for name in chain_links(link)]


def production_chain(credential: Any) -> list[str]:
    """No link of the credential answers as a developer or a person (``kit.credentials.DEVELOPER_CREDENTIALS``):
    in production it can only be the workload's own identity. Returns the links' names."""
    links = chain_links(credential)
    developer = [name for name in links if name in credentials.DEVELOPER_CREDENTIALS]
    if developer:
        could = "; ".join(f"{name} ({credentials.DEVELOPER_CREDENTIALS[name]})" for name in developer)
        raise CheckFailed(f"A developer credential could answer: {could}.",
                          "Build the chain with kit.credentials.production(), or use DefaultAzureCredential("
                          "require_envvar=True) with AZURE_TOKEN_CREDENTIALS=prod in the deployment's environment.")
    return links


@dataclass(frozen=True)
class Connectivity:
    """What the connectivity check saw: who got the token, and what the hub answered."""

    app_id: str
    tenant_id: str
    expires_in_s: int
    devices: int

    def __str__(self) -> str:
        return (f"Token for IoT Hub issued to app {self.app_id} (tenant {self.tenant_id}), valid "
                f"{self.expires_in_s // 60} more minutes. The hub answered: {self.devices} devices registered.")


def connectivity(settings: Settings, credential: TokenCredential | None = None) -> Connectivity:
    """Get a token for IoT Hub with the settings' credential, then make one read call to the hub. A failure says
    whether the request never reached the service (DNS, connection, TLS, proxy) or the service refused it."""
    credential = credential or credentials.build(settings)
    try:
        token = credential.get_token(IOT_HUB_SCOPE)
    except Exception as error:  # every failure becomes a hint
        raise _failure(error, "No token", f"the token endpoint ({_authority(settings)})",
                       "Check tenant, client id and the secret or certificate.") from None
    claims = token_for_iot_hub(token)
    try:
        with clients.closing(clients.registry_manager(settings.hub_host or "", credential)) as registry:
            statistics = registry.get_device_registry_statistics()
    except Exception as error:
        raise _failure(error, "The hub refused", f"the hub ({settings.hub_host})",
                       "Check the hub host and that the app has an IoT Hub data role.") from None
    return Connectivity(claims.get("appid") or claims.get("azp", ""), claims.get("tid", ""),
                        int(token.expires_on - time.time()), int(statistics.total_device_count or 0))


def _authority(settings: Settings) -> str:
    try:
        return credentials.authority_kwargs(settings)["authority"]
    except Exception:  # a sandbox that is not running: the error itself says so
        return settings.authority_host


def _failure(error: BaseException, refused: str, where: str, fallback: str) -> CheckFailed:
    """A network failure is named as one (never "check your secret"); a refusal carries kit.explain's fix."""
    explanation = explain(error)
    if explanation.network:
        return CheckFailed(f"Could not reach {where}: {explanation.message}",
                           f"{explanation.title}: a network problem, not a credential one. {explanation.fix}")
    hint = f"{explanation.title}. {explanation.fix}" if explanation.known else fallback
    return CheckFailed(f"{refused}: {type(error).__name__}: {explanation.message[:300]}", hint)
