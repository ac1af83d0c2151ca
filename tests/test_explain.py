"""kit.explain: errors map to a cause and a fix, and the troubleshooting page is generated from the same catalogue.

Every client-side failure is produced by the real SDK call that raises it, on loopback only: a host typed with
https://, a name under .invalid (never resolvable), a closed port, the sandbox's CA left untrusted, a socket that
never answers, a local proxy that refuses, each credential of a chain unavailable, a token passed as a credential.
"""

from __future__ import annotations

import ast
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import certifi
import pytest
from azure.identity import (
    AzureCliCredential,
    AzureDeveloperCliCredential,
    AzurePowerShellCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    EnvironmentCredential,
    ManagedIdentityCredential,
    SharedTokenCacheCredential,
    VisualStudioCodeCredential,
    WorkloadIdentityCredential,
)
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import Twin

from kit.explain import CATALOGUE, CLIENT, CONTROL, ENTRA, HUB, explain, troubleshooting_markdown
from kit.sandbox.cli import main
from kit.sandbox.connection import Connection
from kit.tracebacks import shown_message

DOCS = Path(__file__).resolve().parents[1] / "docs" / "troubleshooting.md"
SCOPE = "https://iothubs.azure.net/.default"


def failure(call) -> BaseException:
    """The exception a call raises (the test fails if it raises none)."""
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def loopback_server(answer: bytes | None) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection with ``answer`` (an HTTP proxy's reply), or, when
    ``answer`` is None, accepts nothing and never answers (the kernel still completes the TCP handshake)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(answer or b"")

    if answer is not None:
        threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def proxy_answer(status: str, *headers: str) -> bytes:
    return "\r\n".join([f"HTTP/1.1 {status}", *headers, "Content-Length: 0", "Connection: close", "", ""]).encode()


@pytest.fixture
def through_proxy(monkeypatch: pytest.MonkeyPatch):
    """Send HTTPS through a loopback proxy that answers ``status`` (requests honours HTTPS_PROXY)."""

    @contextmanager
    def use(status: str, *headers: str) -> Iterator[None]:
        with loopback_server(proxy_answer(status, *headers)) as port:
            for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "https_proxy"):
                monkeypatch.delenv(name, raising=False)
            monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
            yield

    return use


def secret_credential(sandbox: Connection, authority: str | None = None, **kwargs) -> ClientSecretCredential:
    return ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret, retry_total=0,
                                  authority=authority or sandbox.authority_host, disable_instance_discovery=True,
                                  **kwargs)


def get_devices(host: str, credential) -> None:
    IoTHubRegistryManager.from_token_credential(host, credential).get_devices(max_number_of_devices=1)


# --- the catalogue and the page ----------------------------------------------------------------------------------

def test_troubleshooting_page_is_generated_from_the_catalogue() -> None:
    assert DOCS.read_text() == troubleshooting_markdown(), (
        "regenerate: python -m kit.explain --markdown > docs/troubleshooting.md")


@pytest.mark.parametrize("entry", [e for entries in CATALOGUE.values() for e in entries if e.code.startswith("AADSTS")],
                         ids=lambda e: e.code)
def test_every_aadsts_code_is_recognised_in_an_entra_message(entry) -> None:
    message = (f"Authentication failed: {entry.code}: Something went wrong. Trace ID: 1 Correlation ID: 2 "
               "Timestamp: 2026-11-26 10:00:00Z")
    explained = explain(RuntimeError(message))
    assert explained.code == entry.code


# Codes only real Azure sends, each with why the catalogue explains it anyway.
REAL_AZURE_ONLY = {
    "AADSTS70021": "Entra ID's generic federated-credential mismatch, and its answer for a short while right after a "
                   "federated credential is created (docs/parity.md); the sandbox sends the specific 700211-700213",
    "AADSTS7002138": "a subject that matches the federated credential's only when case is ignored (docs/parity.md, "
                     "Azure/login#517)",
}
SANDBOX = Path(__file__).resolve().parents[1] / "kit" / "sandbox"


# Where each error constructor of the sandbox takes its code: the argument's position (a ``code=`` keyword counts too,
# and a ``code`` parameter's default in any function).
CODE_ARGUMENT = {"HubError": 1, "ArmError": 1, "GraphError": 1, "bad_request": 1, "DirectoryError": 1,
                 "AssignmentConflict": 0}


def string_constants(node: ast.expr) -> set[str]:
    """The strings an argument can be: a literal, or either branch of ``a if condition else b``."""
    if isinstance(node, ast.IfExp):
        return string_constants(node.body) | string_constants(node.orelse)
    return {node.value} if isinstance(node, ast.Constant) and isinstance(node.value, str) else set()


def codes_the_sandbox_sends() -> set[str]:
    """Every AADSTS code and error name the sandbox can answer with (Entra ID, IoT Hub, Graph, ARM), read from its
    own error modules (every ``Aadsts`` and ``ERROR_NUMBERS`` entry) and from each error it constructs in its
    source, so a code added anywhere is caught."""
    from kit.sandbox.hub.transport.errors import ERROR_NUMBERS
    from kit.sandbox.identity import errors as identity_errors

    codes = {f"AADSTS{value.code}" for value in vars(identity_errors).values()
             if isinstance(value, identity_errors.Aadsts)}
    codes |= set(ERROR_NUMBERS)
    for path in SANDBOX.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.arguments):  # def f(..., code: str = "Request_BadRequest")
                named = node.args[len(node.args) - len(node.defaults):] + node.kwonlyargs
                defaults = node.defaults + node.kw_defaults
                codes |= {value for arg, default in zip(named, defaults) if arg.arg == "code" and default is not None
                          for value in string_constants(default)}
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            literals = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
            if name == "Aadsts" and literals and isinstance(literals[0], int):
                codes.add(f"AADSTS{literals[0]}")
            position = CODE_ARGUMENT.get(name or "")
            if position is not None:
                given = [node.args[position]] if len(node.args) > position else []
                given += [kw.value for kw in node.keywords if kw.arg == "code"]
                codes |= {value for argument in given for value in string_constants(argument)}
    return codes


def test_every_code_the_sandbox_sends_has_an_explanation() -> None:
    explained = {entry.code for section in (ENTRA, HUB, CONTROL) for entry in CATALOGUE[section]}
    missing = codes_the_sandbox_sends() - explained
    assert not missing, f"add entries to kit/explain.py CATALOGUE for: {sorted(missing)}"


def test_every_service_explanation_belongs_to_a_code_some_service_sends() -> None:
    explained = {entry.code for section in (ENTRA, HUB, CONTROL) for entry in CATALOGUE[section]}
    orphans = explained - codes_the_sandbox_sends() - set(REAL_AZURE_ONLY)
    assert not orphans, f"no service sends {sorted(orphans)}: remove them, or list them in REAL_AZURE_ONLY with why"
    assert set(REAL_AZURE_ONLY) <= explained


def test_an_unknown_error_says_so_in_one_line_with_its_own_message() -> None:
    explained = explain(ValueError("something else entirely\nsecond line"))
    assert not explained.known
    assert str(explained) == "kit.explain has no entry for this ValueError; its message: something else entirely"
    assert "something else entirely" in explained._repr_markdown_()


def test_explanation_renders_in_a_notebook() -> None:
    markdown = explain("AADSTS7000215: Invalid client secret provided.")._repr_markdown_()
    assert markdown.startswith("**AADSTS7000215")
    assert "Secret ID" in markdown


def test_amqp_patterns() -> None:
    assert explain("TimeoutError: Authorization timeout.").code == "AMQP_AUTH_TIMEOUT"


# --- client-side failures, each raised by the real SDK call -------------------------------------------------------

def test_hub_host_with_https_scheme(sandbox: Connection, through_proxy) -> None:
    """The learner's own mistake: ``from_token_credential("https://" + host, ...)``. The SDK prefixes https:// again
    and asks for a host named 'https'. A refusing loopback proxy keeps the name from reaching any DNS server; without
    a proxy the same host='https' appears in a name-resolution error."""
    credential = secret_credential(sandbox)
    credential.get_token(SCOPE)  # cached: only the hub call goes through the proxy
    with through_proxy("502 Bad Gateway"):
        error = failure(lambda: get_devices("https://" + sandbox.hub_host, credential))
    explained = explain(error)
    assert "host='https'" in str(error)
    assert explained.code == "HOST_WITH_SCHEME" and explained.network
    assert "host name only" in explained.fix


def test_host_that_does_not_resolve(sandbox: Connection) -> None:
    hub = explain(failure(lambda: get_devices("nonexistent.invalid", secret_credential(sandbox))))
    entra = explain(failure(lambda: secret_credential(sandbox, "https://nonexistent.invalid").get_token(SCOPE)))
    assert hub.code == entra.code == "DNS_FAILURE"
    assert "nonexistent.invalid" in entra.message and entra.network


def test_connection_refused_when_nothing_listens(sandbox: Connection) -> None:
    port = closed_port()
    hub = explain(failure(lambda: get_devices(f"localhost:{port}", secret_credential(sandbox))))
    entra = explain(failure(lambda: secret_credential(sandbox, f"https://localhost:{port}").get_token(SCOPE)))
    assert hub.code == entra.code == "CONNECTION_REFUSED"
    assert "python -m kit.sandbox start" in hub.fix


def test_tls_certificate_not_trusted(sandbox: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """certifi's roots alone do not hold the sandbox's CA, as a corporate proxy's CA is missing from them."""
    entra = explain(failure(lambda: secret_credential(sandbox, connection_verify=certifi.where()).get_token(SCOPE)))
    credential = secret_credential(sandbox)
    credential.get_token(SCOPE)  # the token comes while the CA is trusted; then the hub call is made without it
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    hub = explain(failure(lambda: get_devices(sandbox.hub_host, credential)))
    assert entra.code == hub.code == "CERTIFICATE_VERIFY_FAILED"
    assert "REQUESTS_CA_BUNDLE" in entra.fix and entra.network


def test_timeout_against_a_socket_that_never_answers(sandbox: Connection) -> None:
    with loopback_server(None) as port:
        error = failure(lambda: secret_credential(sandbox, f"https://127.0.0.1:{port}", connection_timeout=0.5,
                                                  read_timeout=0.5).get_token(SCOPE))
    explained = explain(error)
    assert explained.code == "TIMEOUT" and explained.network


@pytest.mark.parametrize("status", ["403 Forbidden", "407 Proxy Authentication Required"])
def test_a_proxy_that_refuses(sandbox: Connection, through_proxy, status: str) -> None:
    with through_proxy(status, 'Proxy-Authenticate: Basic realm="corporate"'):
        error = failure(lambda: secret_credential(sandbox).get_token(SCOPE))
    explained = explain(error)
    assert status.split()[0] in str(error)
    assert explained.code == "PROXY_REFUSED" and "NO_PROXY" in explained.fix


def test_a_token_passed_where_a_credential_is_expected(sandbox: Connection) -> None:
    token = secret_credential(sandbox).get_token(SCOPE)
    explained = explain(failure(lambda: get_devices(sandbox.hub_host, token)))
    assert explained.code == "TOKEN_NOT_CREDENTIAL" and "credential itself" in explained.fix


@pytest.fixture
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine with no Azure variables, no developer tools on PATH, no cached sign-ins, and a metadata endpoint
    (IMDS, redirected to loopback) where nothing listens."""
    import os

    for name in list(os.environ):
        if name.startswith(("AZURE_", "IDENTITY_", "MSI_", "IMDS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{closed_port()}")


UNAVAILABLE = {
    "ENVIRONMENT_UNAVAILABLE": lambda: EnvironmentCredential().get_token(SCOPE),
    "WORKLOAD_IDENTITY_UNAVAILABLE": lambda: WorkloadIdentityCredential().get_token(SCOPE),
    "MANAGED_IDENTITY_UNAVAILABLE": lambda: ManagedIdentityCredential(retry_total=0).get_token(SCOPE),
    "SHARED_TOKEN_CACHE_UNAVAILABLE": lambda: SharedTokenCacheCredential().get_token(SCOPE),
    "VISUAL_STUDIO_CODE_UNAVAILABLE": lambda: VisualStudioCodeCredential().get_token(SCOPE),
    "AZURE_CLI_UNAVAILABLE": lambda: AzureCliCredential().get_token(SCOPE),
    "AZURE_POWERSHELL_UNAVAILABLE": lambda: AzurePowerShellCredential().get_token(SCOPE),
    "AZURE_DEVELOPER_CLI_UNAVAILABLE": lambda: AzureDeveloperCliCredential().get_token(SCOPE),
}


@pytest.mark.parametrize("code", UNAVAILABLE)
def test_each_link_of_a_chain_when_it_is_unavailable(nothing_configured, code: str) -> None:
    explained = explain(failure(UNAVAILABLE[code]))
    assert explained.code == code and explained.section == CLIENT


def test_a_chain_of_unavailable_credentials_names_the_fix_for_each(nothing_configured) -> None:
    explained = explain(failure(lambda: DefaultAzureCredential(retry_total=0).get_token(SCOPE)))
    assert explained.code == "CREDENTIAL_CHAIN"
    named = {detail.split(":", 1)[0]: detail for detail in explained.details}
    assert {"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential",
            "AzureCliCredential", "AzurePowerShellCredential", "AzureDeveloperCliCredential"} <= set(named)
    assert "az login" in named["AzureCliCredential"]
    assert "AZURE_FEDERATED_TOKEN_FILE" not in named["EnvironmentCredential"]
    assert "prepare_managed_identity" in named["ManagedIdentityCredential"]
    assert all(line in str(explained) for line in explained.details)


def test_a_wrong_secret_in_a_chain_is_the_cause_not_the_chain(sandbox: Connection, nothing_configured,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AZURE_TENANT_ID": sandbox.tenant_id, "AZURE_CLIENT_ID": sandbox.client_id,
                        "AZURE_CLIENT_SECRET": "wrong", "AZURE_AUTHORITY_HOST": sandbox.authority_host}.items():
        monkeypatch.setenv(name, value)
    error = failure(lambda: DefaultAzureCredential(disable_instance_discovery=True, retry_total=0).get_token(SCOPE))
    assert explain(error).code == "AADSTS7000215"


# --- 401 IotHubUnauthorized: the hub's message, the data action, the smallest role ------------------------------

@pytest.fixture
def app_with_role(sandbox: Connection, capsys: pytest.CaptureFixture[str]):
    created = []

    def create(role: str | None) -> ClientSecretCredential:
        main(["app", "create", "--name", f"explain-{len(created)}", *(["--role", role] if role else []),
              "--state-dir", sandbox.state_dir])
        app = json.loads(capsys.readouterr().out)
        created.append(app["client_id"])
        return ClientSecretCredential(sandbox.tenant_id, app["client_id"], app["client_secret"],
                                      authority=sandbox.authority_host, disable_instance_discovery=True)

    yield create
    for client_id in created:
        main(["app", "delete", "--app", client_id, "--state-dir", sandbox.state_dir])


def test_a_reader_that_writes_a_twin_is_told_twin_contributor(sandbox: Connection, app_with_role) -> None:
    registry = IoTHubRegistryManager.from_token_credential(sandbox.hub_host, app_with_role("IoT Hub Data Reader"))
    error = failure(lambda: registry.update_twin("thermostat-a-1", Twin(tags={"x": 1}), "*"))
    explained = explain(error)
    assert str(error).startswith("Operation returned an invalid status code 'Unauthorized'")
    assert explained.code == "IotHubUnauthorized"
    assert "is not authorized for PATCH on /twins/thermostat-a-1" in explained.message
    assert "Microsoft.Devices/IotHubs/twins/write" in explained.cause
    assert explained.fix.startswith("Assign 'IoT Hub Twin Contributor'")


def test_a_registry_contributor_that_queries_twins_is_told_data_reader(sandbox: Connection, app_with_role) -> None:
    registry = IoTHubRegistryManager.from_token_credential(sandbox.hub_host,
                                                           app_with_role("IoT Hub Registry Contributor"))
    from azure.iot.hub.models import QuerySpecification

    explained = explain(failure(lambda: registry.query_iot_hub(QuerySpecification(query="SELECT * FROM devices"))))
    assert "twins/read" in explained.cause and "POST /devices/query" in explained.cause
    assert explained.fix.startswith("Assign 'IoT Hub Data Reader'")
    assert "Data Contributor" in explained.fix  # the widest role is named as the alternative


def test_a_role_for_a_direct_method_is_data_contributor() -> None:
    message = "ErrorCode:IotHubUnauthorized;Principal 1 is not authorized for POST on /twins/d1/methods due to no " \
              "assigned permissions"
    explained = explain(message)
    assert explained.fix.startswith("Assign 'IoT Hub Data Contributor'")
    assert "(or" not in explained.fix



# --- Graph and ARM: the codes the management calls raise -------------------------------------------------------

def test_graph_and_arm_refusals_are_explained(sandbox: Connection, app_with_role) -> None:
    """Graph's code through kit.admin's client, ARM's through the real azure-mgmt-iothub client."""
    import kit.admin
    from kit.credentials import admin_credential
    from kit.session import Session
    from kit.settings import Settings

    session = Session(Settings.from_sandbox(sandbox), sandbox)
    graph = kit.admin.graph(session, admin_credential(session))
    missing = explain(failure(lambda: graph.get_application(str(uuid.uuid4()))))
    assert missing.code == "Request_ResourceNotFound" and "appId" in missing.fix
    hubs = kit.admin.iothub_client(session, app_with_role(None))  # an app with no role on the hub resource
    cloud = session.cloud
    error = failure(lambda: list(hubs.iot_hub_resource.list_keys(cloud.resource_group, cloud.hub_name)))
    refused = explain(error)
    assert refused.code == "AuthorizationFailed" and "roleAssignments/write" in refused.cause
    assert str(error).count("does not have authorization") == 2  # azure-core writes it twice...
    assert shown_message(error).count("does not have authorization") == 1  # ...a notebook shows it once
