"""kit.magics: %sandbox runs the admin command line in-process, returns JSON as Python values, hides secrets."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell
from pydantic import SecretStr

from kit import magics
from kit.sandbox.connection import Connection
from kit.settings import SandboxOnlyError


def test_a_created_app_comes_back_with_its_secret_hidden(sandbox: Connection) -> None:
    app = magics.sandbox_command("app create --name magics-demo")
    try:
        assert isinstance(app["client_secret"], SecretStr)
        assert app["client_secret"].get_secret_value() not in repr(app)
        listed = magics.sandbox_command("app list")
        assert app["client_id"] in {entry["client_id"] for entry in listed}
    finally:
        assert magics.sandbox_command(f"app delete --app {app['client_id']}")["deleted"] is True


def test_a_refused_command_raises_with_the_commands_own_message(sandbox: Connection) -> None:
    with pytest.raises(magics.SandboxCommandError, match="no-such-app"):
        magics.sandbox_command("app disable --app no-such-app")
    with pytest.raises(magics.SandboxCommandError, match="python -m kit.sandbox app frobnicate"):
        magics.sandbox_command("app frobnicate")


def test_text_output_is_printed(sandbox: Connection, capsys: pytest.CaptureFixture[str]) -> None:
    assert magics.sandbox_command("env --format dotenv") is None
    assert f"AZURE_CLIENT_ID={sandbox.client_id}" in capsys.readouterr().out


def test_in_ipython_the_magic_expands_variables(sandbox: Connection) -> None:
    shell = InteractiveShell.instance()
    try:
        magics.register_magic()
        shell.user_ns["client"] = sandbox.client_id
        shell.run_cell('found = %sandbox role list --principal {client}', store_history=False)
        assert "IoT Hub Data Contributor" in [row["role"] for row in shell.user_ns["found"]]
    finally:
        InteractiveShell.clear_instance()



def test_on_azure_the_magic_refuses_and_changes_nothing(sandbox: Connection) -> None:
    shell = InteractiveShell.instance()
    try:
        before = {app["client_id"] for app in magics.sandbox_command("app list")}
        magics.register_magic(on_sandbox=False)
        result = shell.run_cell("%sandbox app create --name created-on-azure", store_history=False)
        assert isinstance(result.error_in_exec, SandboxOnlyError)
        assert "real Azure" in str(result.error_in_exec) and "kit.admin" in str(result.error_in_exec)
        assert {app["client_id"] for app in magics.sandbox_command("app list")} == before
    finally:
        InteractiveShell.clear_instance()
