"""kit.checks: each self-check passes on the real thing and raises CheckFailed with a hint otherwise."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from kit import checks
from kit.credentials import sandbox_kwargs
from kit.sandbox.cli import main
from kit.sandbox.connection import Connection
from kit.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def token(sandbox: Connection):
    credential = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret,
                                        **sandbox_kwargs(sandbox))
    return credential.get_token(checks.IOT_HUB_SCOPE)


def unsigned(**claims) -> str:
    return jwt.encode(claims, "not-a-real-key-only-for-shape-tests", algorithm="HS256")


def test_a_sandbox_token_is_for_iot_hub_from_the_learner_app_by_secret(token, sandbox: Connection) -> None:
    claims = checks.token_for_iot_hub(token)
    assert claims["aud"] == "https://iothubs.azure.net"
    checks.token_from_app(token, sandbox.client_id.upper())
    checks.token_proof(token, "secret")


def test_a_token_for_another_audience_says_which_scope_to_ask_for() -> None:
    with pytest.raises(checks.CheckFailed, match="https://iothubs.azure.net/.default") as failure:
        checks.token_for_iot_hub(unsigned(aud="https://management.azure.com", exp=time.time() + 60))
    assert failure.value.hint.startswith("Ask for the scope")


def test_an_expired_token_is_caught() -> None:
    with pytest.raises(checks.CheckFailed, match="expired"):
        checks.token_for_iot_hub(unsigned(aud=checks.IOT_HUB_AUDIENCE, exp=time.time() - 5))


def test_something_that_is_not_a_token_gets_a_hint() -> None:
    with pytest.raises(checks.CheckFailed, match="get_token"):
        checks.token_for_iot_hub("not a token")


def test_the_wrong_app_and_the_wrong_proof_are_named(token) -> None:
    with pytest.raises(checks.CheckFailed, match="another one may have won"):
        checks.token_from_app(token, str(uuid.uuid4()))
    with pytest.raises(checks.CheckFailed, match="a certificate gives '2'"):
        checks.token_proof(token, "certificate")
    with pytest.raises(ValueError, match="kind"):
        checks.token_proof(token, "password")


def test_equal_passes_quietly_or_carries_the_hint() -> None:
    assert checks.equal(3, 3, "unused") is None
    with pytest.raises(checks.CheckFailed, match="Hint: count again"):
        checks.equal(2, 3, "count again")


@pytest.fixture
def shell(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[str], BaseException | None]]:
    """``shell(code)`` runs ``code`` as a cell of a real IPython shell and returns the error the cell raised (None
    when it ran through); the shell shows tracebacks as a notebook does, captured here."""
    from IPython.core.interactiveshell import InteractiveShell

    instance = InteractiveShell.instance()

    def run(code: str) -> BaseException | None:
        result = instance.run_cell(code)
        return result.error_in_exec or result.error_before_exec

    yield run
    InteractiveShell.clear_instance()


def wrong_secret_cell(sandbox: Connection) -> str:
    return ("from azure.identity import ClientSecretCredential\n"
            f"ClientSecretCredential({sandbox.tenant_id!r}, {sandbox.client_id!r}, 'wrong', retry_total=0, "
            f"authority={sandbox.authority_host!r}, disable_instance_discovery=True)"
            ".get_token('https://iothubs.azure.net/.default')")


def test_failed_with_recognises_the_previous_cells_failure_and_consumes_it(sandbox: Connection, shell) -> None:
    assert isinstance(shell(wrong_secret_cell(sandbox)), ClientAuthenticationError)
    assert isinstance(sys.last_value, ClientAuthenticationError)
    assert shell("import kit.checks\nexplanation = kit.checks.failed_with('AADSTS7000215')") is None
    assert sys.last_value is None and sys.last_type is None and sys.last_traceback is None
    assert shell("assert explanation.code == 'AADSTS7000215' and 'Value' in explanation.fix") is None
    again = shell("kit.checks.failed_with('AADSTS7000215')")
    assert isinstance(again, checks.CheckFailed) and "succeeded" in str(again)


def test_failed_with_names_the_error_not_a_base_class(sandbox: Connection, shell) -> None:
    for wrong in ("Exception", "ClientAuthenticationError", "AzureError", "AADSTS7000222"):
        assert isinstance(shell(wrong_secret_cell(sandbox)), ClientAuthenticationError)
        refused = shell(f"import kit.checks\nkit.checks.failed_with({wrong!r})")
        assert isinstance(refused, checks.CheckFailed), wrong
        assert "but the error was AADSTS7000215" in str(refused)
    with pytest.raises(checks.CheckFailed, match="Expected Exception, but the error was KeyError"):
        checks.failed_with("Exception", KeyError("x"))
    with pytest.raises(checks.CheckFailed, match="Expected ValueError, but the error was SettingsError"):
        checks.failed_with("ValueError", SettingsError("hub_host: remove the scheme", ("hub_host",)))


def test_an_error_raised_while_showing_a_value_is_not_the_cells_failure(shell) -> None:
    assert shell("class Unprintable:\n    def __repr__(self):\n        raise ValueError('repr')\n"
                 "Unprintable()") is None
    assert isinstance(sys.last_value, ValueError)  # IPython showed the display error's traceback...
    refused = shell("import kit.checks\nkit.checks.failed_with('ValueError')")
    assert isinstance(refused, checks.CheckFailed) and "succeeded" in str(refused)  # ...but the cell ran through


def test_an_error_passed_explicitly_also_consumes_the_last_one() -> None:
    sys.last_type, sys.last_value, sys.last_traceback = KeyError, KeyError("old"), None
    assert checks.failed_with("KeyError", KeyError("new")) is None
    with pytest.raises(checks.CheckFailed, match="succeeded"):
        checks.failed_with("KeyError")


def test_failed_with_refuses_a_different_failure() -> None:
    with pytest.raises(checks.CheckFailed, match="Expected AADSTS7000215, but the error was AADSTS7000222"):
        checks.failed_with("AADSTS7000215", RuntimeError("AADSTS7000222: The provided client secret keys expired"))
    with pytest.raises(checks.CheckFailed, match="KeyError"):
        checks.failed_with("AADSTS7000215", KeyError("x"))


def test_a_settings_error_must_be_about_the_named_field() -> None:
    def mistake(**values: str) -> SettingsError:
        with pytest.raises(SettingsError) as raised:
            Settings(**{"target": "azure", "tenant_id": "contoso.onmicrosoft.com", "client_id": str(uuid.uuid4()),
                        "client_secret": "s", **values})
        return raised.value

    scheme = mistake(hub_host="https://myhub.azure-devices.net")
    assert scheme.fields == ("hub_host",)
    assert checks.failed_with("SettingsError", scheme, field="hub_host") is None
    with pytest.raises(checks.CheckFailed, match="Expected a mistake in hub_host, but .* about tenant_id"):
        checks.failed_with("SettingsError", mistake(hub_host="h.azure-devices.net", tenant_id="not a tenant"),
                           field="hub_host")
    with pytest.raises(ValueError, match="field: a settings error names the setting"):
        checks.failed_with("SettingsError", scheme)


def test_the_environment_is_ready_here() -> None:
    checks.environment_ready()


def test_connectivity_gets_a_token_and_reads_the_registry(sandbox: Connection) -> None:
    result = checks.connectivity(Settings.from_sandbox(sandbox))
    assert result.app_id == sandbox.client_id and result.tenant_id == sandbox.tenant_id
    assert result.devices > 0 and 3000 < result.expires_in_s <= 3600
    assert "devices registered" in str(result)


def test_connectivity_turns_a_wrong_secret_into_its_fix(sandbox: Connection) -> None:
    settings = Settings.from_sandbox(sandbox).model_copy(update={"client_secret": None})
    wrong = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, "wrong", retry_total=0,
                                   **sandbox_kwargs(sandbox))
    with pytest.raises(checks.CheckFailed, match="AADSTS7000215") as failure:
        checks.connectivity(settings, credential=wrong)
    assert "Secret ID" in failure.value.hint


def test_connectivity_says_which_role_is_missing(sandbox: Connection, capsys: pytest.CaptureFixture[str]) -> None:
    main(["app", "create", "--name", "checks-no-role", "--state-dir", sandbox.state_dir])
    app = json.loads(capsys.readouterr().out)
    credential = ClientSecretCredential(sandbox.tenant_id, app["client_id"], app["client_secret"],
                                        **sandbox_kwargs(sandbox))
    try:
        with pytest.raises(checks.CheckFailed, match="The hub refused") as failure:
            checks.connectivity(Settings.from_sandbox(sandbox), credential=credential)
        assert "IoT Hub Data Reader" in failure.value.hint
    finally:
        main(["app", "delete", "--app", app["client_id"], "--state-dir", sandbox.state_dir])


def test_connectivity_names_a_network_failure_as_one(sandbox: Connection) -> None:
    """A name that does not resolve is a network problem: the hint never blames the tenant or the secret."""
    unreachable = ClientSecretCredential(sandbox.tenant_id, sandbox.client_id, sandbox.client_secret, retry_total=0,
                                         authority="https://nonexistent.invalid", disable_instance_discovery=True)
    with pytest.raises(checks.CheckFailed, match="Could not reach the token endpoint") as failure:
        checks.connectivity(Settings.from_sandbox(sandbox), credential=unreachable)
    assert "network problem" in failure.value.hint and "secret" not in failure.value.hint


def test_connectivity_names_an_unreachable_hub(sandbox: Connection) -> None:
    settings = Settings.from_sandbox(sandbox).model_copy(update={"hub_host": "nonexistent.invalid"})
    with pytest.raises(checks.CheckFailed, match=r"Could not reach the hub \(nonexistent.invalid\)") as failure:
        checks.connectivity(settings)
    assert failure.value.hint.startswith("Host name does not resolve") and "data role" not in failure.value.hint


def test_the_production_self_check_fails_when_a_developer_credential_could_answer(monkeypatch) -> None:
    from azure.identity import AzureCliCredential, ChainedTokenCredential, DefaultAzureCredential
    from azure.identity import ManagedIdentityCredential as Managed

    monkeypatch.delenv("AZURE_TOKEN_CREDENTIALS", raising=False)
    with pytest.raises(checks.CheckFailed, match=r"AzureCliCredential \(the account of the last `az login`"):
        checks.production_chain(DefaultAzureCredential())
    with pytest.raises(checks.CheckFailed, match="AzureCliCredential") as failure:
        checks.production_chain(ChainedTokenCredential(Managed(), ChainedTokenCredential(AzureCliCredential())))
    assert "AZURE_TOKEN_CREDENTIALS=prod" in failure.value.hint
    with pytest.raises(ValueError, match="AZURE_TOKEN_CREDENTIALS"):
        DefaultAzureCredential(require_envvar=True)  # a deployment that forgot the variable fails at start-up


def test_default_azure_credential_with_prod_passes_the_self_check(monkeypatch) -> None:
    from azure.identity import DefaultAzureCredential

    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "prod")
    links = checks.production_chain(DefaultAzureCredential(require_envvar=True))
    assert links[0] == "EnvironmentCredential" and links[-1] == "ManagedIdentityCredential" and len(links) == 3
