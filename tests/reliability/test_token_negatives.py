"""Every kind of bad Entra ID token is refused by the hub, over REST and over AMQP alike, with the real error.

Bad tokens (good tokens for Microsoft Graph or ARM among them: the wrong resource): 401 IotHubUnauthorizedAccess
(REST), put-token answered 401 (AMQP CBS). A valid token of a principal without a role: 401 IotHubUnauthorized
(REST), put-token accepted but the cloud-to-device link refused (AMQP). A valid token of a role holder is the
control: accepted on both, so a refusal means the token, not the setup.

AMQP runs against the session sandbox's own listener when it holds port 5671. Where AMQP is required (CI) nothing
else will do: without the port the AMQP cases fail. On a laptop where another sandbox has the port, they run against
a listener on a free port wired with the same ``hub_handlers`` to the same state, and the table says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from azure.identity import ClientSecretCredential
from cryptography.hazmat.primitives import serialization
from proton.utils import LinkDetached

from kit.sandbox import rbac
from kit.sandbox.connection import Connection, amqp_required
from kit.sandbox.context import SandboxContext
from kit.sandbox.db import Database
from kit.sandbox.hub.context import HubContext
from kit.sandbox.hub.devices.registry import Registry
from kit.sandbox.hub.transport import amqp
from kit.sandbox.identity import directory, external_issuer
from kit.sandbox.identity.issuance import entra_signing_key, mint_access_token, sign, sts_issuer
from kit.sandbox.identity.service import IdentityService
from kit.sandbox.tls import ensure_tls
from tests.reliability.reporting import report, table
from tests.sandbox.hub.conftest import error_code
from tests.sandbox.hub.transport.test_amqp import Cbs, connect, free_port

SECTION = "token negatives (REST and AMQP)"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"
OTHER_TENANT = "0b0b0b0b-1111-2222-3333-444444444444"


@dataclass(frozen=True)
class Principals:
    contributor: str  # object id holding IoT Hub Data Contributor (REST reads and AMQP sends)
    disabled: str
    deleted: str
    roleless: str


@pytest.fixture(scope="module")
def principals(sandbox: Connection) -> Iterator[Principals]:
    """Apps made in the sandbox's directory, as the admin commands make them."""
    db = directory.open_directory(Database.in_state_dir(Path(sandbox.state_dir)))
    try:
        def app(role: str | None) -> directory.Principal:
            principal = directory.create_principal(db, f"negatives-{uuid.uuid4().hex[:6]}", "application")
            if role:
                rbac.assign(db, principal.object_id, role)
            return principal

        contributor = app("IoT Hub Data Contributor")
        disabled, deleted = app("IoT Hub Data Contributor"), app("IoT Hub Data Contributor")
        yield Principals(contributor.object_id, disabled.object_id, deleted.object_id, app(None).object_id)
    finally:
        db.close()


def _change_directory(sandbox: Connection, change: Callable[[Database, directory.Principal], None],
                      object_id: str) -> None:
    db = directory.open_directory(Database.in_state_dir(Path(sandbox.state_dir)))
    try:
        change(db, directory.principal_by_object_id(db, object_id))
    finally:
        db.close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hs256_with_public_key(state_dir: str, claims: dict) -> str:
    """The key-confusion attack: HS256 with the RSA public key (PEM) as the HMAC secret. PyJWT refuses to make
    such a token, so it is assembled by hand."""
    key = entra_signing_key(Path(state_dir))
    secret = key.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"typ": "JWT", "alg": "HS256", "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bad_tokens(sandbox: Connection, p: Principals) -> dict[str, str]:
    """Case name → token. All name the contributor unless the case is about the principal."""
    state = sandbox.state_dir
    now = time.time()
    claims = jwt.decode(mint_access_token(state, p.contributor), options={"verify_signature": False})
    return {
        "expired": mint_access_token(state, p.contributor, issued_at=now - 7200, lifetime_s=600),
        "not yet valid": mint_access_token(state, p.contributor, issued_at=now + 3600),
        "wrong audience": mint_access_token(state, p.contributor, audience="https://management.azure.com"),
        "wrong issuer": mint_access_token(state, p.contributor,
                                          iss=f"https://login.microsoftonline.com/{sandbox.tenant_id}/v2.0"),
        "another tenant": mint_access_token(state, p.contributor, tenant_id=OTHER_TENANT),
        "bad signature": mint_access_token(state, p.contributor, forged=True),
        "alg none": jwt.encode(claims, key=None, algorithm="none"),
        "HS256 with the public key": hs256_with_public_key(state, claims),
        "unknown kid": sign(claims, entra_signing_key(Path(state)), kid="bm90LWEta25vd24ta2V5"),
        "not a JWT": "eyJub3QiOiJhIGp3dCJ9",
        "disabled app": mint_access_token(state, p.disabled),
        "deleted app": mint_access_token(state, p.deleted),
    }


@pytest.fixture(scope="module")
def tokens(sandbox: Connection, principals: Principals) -> dict[str, str]:
    """The bad tokens (minted while their apps still exist), then the apps disabled and deleted."""
    made = bad_tokens(sandbox, principals)
    # A learner's real mistake: a token asked for Microsoft Graph or ARM, sent to the hub. The app holds IoT Hub Data
    # Contributor, so only the audience is wrong.
    learner = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                     authority=sandbox.authority_host, disable_instance_discovery=True)
    made["Graph token"] = learner.get_token(GRAPH_SCOPE).token
    made["ARM token"] = learner.get_token(ARM_SCOPE).token
    assert jwt.decode(made["another tenant"], options={"verify_signature": False})["iss"] == sts_issuer(OTHER_TENANT)
    _change_directory(sandbox, lambda db, pr: directory.set_enabled(db, pr, False), principals.disabled)
    _change_directory(sandbox, directory.delete_principal, principals.deleted)
    return made


# ---- AMQP ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def amqp_endpoint(sandbox: Connection, request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """Where to open AMQP connections, and what the table says about it."""
    tls = ensure_tls(Path(sandbox.state_dir))
    if sandbox.amqp_port is not None or amqp_required():
        yield SimpleNamespace(port=request.getfixturevalue("amqp_ready"), tls=tls, where="sandbox listener :5671")
        return
    db = Database.in_state_dir(Path(sandbox.state_dir))
    state_dir = Path(sandbox.state_dir)
    identity = IdentityService(state_dir=state_dir, db=db, entra_key=entra_signing_key(state_dir),
                               external_key=external_issuer.signing_key(state_dir), external_issuer="",
                               identity_header="", tenant_id=sandbox.tenant_id)
    shared = SandboxContext(state_dir=state_dir, db=db, tls=tls, port=sandbox.port, directory=identity)
    ctx = HubContext.over(shared, Registry(db))
    listener = amqp.AmqpListener(amqp.server_tls_context(str(tls.server_cert), str(tls.server_key)),
                                 amqp.hub_handlers(ctx), port=free_port())
    listener.start()
    try:
        yield SimpleNamespace(port=listener.port, tls=tls, where="hub_handlers on a free port (5671 taken)")
    finally:
        listener.stop()
        db.close()


def amqp_outcome(endpoint: SimpleNamespace, token: str) -> tuple[str, str]:
    """(put-token status, devicebound link outcome) for a JWT sent as uamqp sends it (type ``jwt``)."""
    connection = connect(endpoint, endpoint.tls)
    try:
        reply = Cbs(connection).put_token(token, token_type="jwt")
        status = int(reply.properties["status-code"])
        description = reply.properties["status-description"]
        if status != 200:
            return str(status), description
        try:
            connection.create_sender("/messages/devicebound").close()
        except LinkDetached as refused:
            return "200", f"link refused: {refused}"  # carries the condition and the hub's error
        return "200", "link open"
    finally:
        connection.close()


# ---- the cases -------------------------------------------------------------------------------------------------

ROWS: list[tuple[str, ...]] = []


@pytest.fixture(scope="module", autouse=True)
def token_table(amqp_endpoint) -> Iterator[None]:
    """After the module: the table of cases and outcomes, in the terminal summary."""
    yield
    if not ROWS:
        return
    refused = sum(row[-1] == "refused" for row in ROWS)
    for line in table(ROWS, ("case", "REST status", "iothub-errorcode", f"AMQP ({amqp_endpoint.where})",
                             "outcome")):
        report(SECTION, line)
    report(SECTION, f"cases tried: {len(ROWS)}, each on REST and AMQP; refused: {refused}; "
                    f"accepted: {len(ROWS) - refused} (must be only the valid-token control)")


def test_valid_token_is_accepted_on_both_transports(hub, sandbox, principals, amqp_endpoint):
    token = mint_access_token(sandbox.state_dir, principals.contributor)
    response = hub.call("GET", "/statistics/devices", authorization="Bearer " + token)
    assert response.status_code == 200, response.text
    assert amqp_outcome(amqp_endpoint, token) == ("200", "link open")
    ROWS.append(("valid token (control)", "200", "-", "200 link open", "accepted"))


CASES = ["expired", "not yet valid", "wrong audience", "wrong issuer", "another tenant", "bad signature",
         "alg none", "HS256 with the public key", "unknown kid", "not a JWT", "disabled app", "deleted app",
         "Graph token", "ARM token"]


@pytest.mark.parametrize("case", CASES)
def test_bad_token_refused_on_rest_and_amqp(hub, tokens, amqp_endpoint, case):
    token = tokens[case]
    response = hub.call("GET", "/statistics/devices", authorization="Bearer " + token)
    status, description = amqp_outcome(amqp_endpoint, token)
    ROWS.append((case, str(response.status_code), error_code(response),
                 f"{status} {description.split(';', 1)[-1][:44]}",
                 "refused" if response.status_code == 401 and status == "401" else "ACCEPTED"))
    assert response.status_code == 401 and error_code(response) == "IotHubUnauthorizedAccess", response.text
    body = response.json()
    assert body["Message"].startswith("ErrorCode:IotHubUnauthorizedAccess;")
    assert body["ExceptionMessage"].startswith("Tracking ID:")
    assert status == "401" and description.startswith("ErrorCode:IotHubUnauthorizedAccess;")


def test_valid_token_without_a_role_is_refused_by_rbac(hub, sandbox, principals, amqp_endpoint):
    token = mint_access_token(sandbox.state_dir, principals.roleless)
    response = hub.call("GET", "/statistics/devices", authorization="Bearer " + token)
    status, outcome = amqp_outcome(amqp_endpoint, token)
    ROWS.append(("principal without a role", str(response.status_code), error_code(response),
                 f"{status}, link refused" if "refused" in outcome else f"{status} {outcome}",
                 "refused" if "refused" in outcome else "ACCEPTED"))
    assert response.status_code == 401 and error_code(response) == "IotHubUnauthorized"
    assert response.json()["Message"].endswith("due to no assigned permissions")
    assert status == "200"  # the token itself is good: CBS accepts it
    assert "amqp:unauthorized-access" in outcome and "IotHubUnauthorized" in outcome
