"""kit.tracebacks: in an IPython shell an SDK error is shown once, with the notebook's frames and the service's
message; other errors keep IPython's own traceback."""

from __future__ import annotations

import re
import sys
import uuid

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kit import tracebacks
from kit.sandbox.connection import Connection


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    assert tracebacks.install(shell)
    yield shell
    shell.set_custom_exc((), None)


FEDERATED_FAILURE = """
from azure.identity import ClientAssertionCredential
ClientAssertionCredential("{tenant}", "{client}", lambda: open("{token_file}").read(),
                          authority="{authority}", retry_total=0).get_token("https://iothubs.azure.net/.default")
"""


def test_an_entra_error_is_shown_once(sandbox: Connection, shell, capsys: pytest.CaptureFixture[str]) -> None:
    """azure-identity's AadClient errors repeat the whole body as ``Content: {...}``: the shown text has it once."""
    shell.run_cell(FEDERATED_FAILURE.format(tenant=sandbox.tenant_id, client=uuid.uuid4(),
                                            token_file=sandbox.federated_token_file,
                                            authority=sandbox.authority_host))
    shown = plain(capsys.readouterr().out)
    assert shown.count("AADSTS") == 1, shown
    assert "ClientAuthenticationError" in shown and "Content: {" not in shown
    assert tracebacks.HIDDEN_NOTE in shown
    assert "site-packages" not in shown  # no library frames
    assert type(sys.last_value).__name__ == "ClientAuthenticationError"  # the original, for failed_with and %tb
    assert "Content: {" in str(sys.last_value)


def test_a_hub_error_shows_the_hubs_own_message(sandbox: Connection, shell, capsys) -> None:
    shell.run_cell(f"""
from azure.iot.hub import IoTHubRegistryManager
from azure.identity import ClientSecretCredential
credential = ClientSecretCredential("{sandbox.tenant_id}", "{sandbox.client_id}", "{sandbox.client_secret}",
                                    authority="{sandbox.authority_host}", disable_instance_discovery=True)
IoTHubRegistryManager.from_token_credential("{sandbox.hub_host}", credential).get_twin("no-such-device")
""")
    shown = plain(capsys.readouterr().out)
    assert "Operation returned an invalid status code 'Not Found'" in shown
    assert "The service says: ErrorCode:DeviceNotFound;" in shown


def test_other_errors_keep_ipythons_traceback(shell, capsys) -> None:
    shell.run_cell("raise ValueError('plain')")
    shown = plain(capsys.readouterr().out)
    assert "ValueError: plain" in shown and tracebacks.HIDDEN_NOTE not in shown

