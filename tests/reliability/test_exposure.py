"""What the sandbox exposes: where it listens, who may read its files, and whether a secret ever reaches a log
or a notebook's output.

* It listens on loopback only, unless ``--bind`` says otherwise, and then its log warns.
* ``connection.json``, key and secret files, the database (it holds the policy and device keys) and saved settings
  are 0600.
* After token requests of every kind, hub calls with bearer and SAS tokens, and refused bad tokens, its log holds
  no secret, no JWT and no SAS signature; the same scan covers the session sandbox's log and every sandbox's log
  this run started.
* Every notebook shows no secret, JWT or SAS signature in any output: the scan reads the outputs of the notebook
  run nbval made in this session (it runs after the notebooks), and executes only the notebooks nbval did not run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from pathlib import Path

import nbformat
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential, WorkloadIdentityCredential
from nbclient import NotebookClient

from kit.sandbox.connection import Connection
from kit.sandbox.db import Database
from kit.sandbox.hub.security import sas
from kit.sandbox.paths import DATABASE_FILE, LOG_FILE, SECRETS_DIR, STATE_DIR_ENV, TLS_DIR
from kit.settings import SETTINGS_FILE_ENV
from tests import notebook_runs
from tests.reliability.reporting import SANDBOX_FOLDERS, leaks, report
from tests.sandbox.hub.conftest import HubHttp, credential_for

SECTION = "exposure"
REPO = Path(__file__).resolve().parents[2]
SCOPE = "https://iothubs.azure.net/.default"
NOTEBOOK_CELL_TIMEOUT_S = 120


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table_name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            lines = Path(f"/proc/net/{table_name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                raw = bytes.fromhex(address)
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def secrets_of(conn: Connection) -> list[str]:
    """Every secret value a sandbox hands out: the app's secret, the managed identity header, the policy keys."""
    db = Database.in_state_dir(Path(conn.state_dir))
    try:
        keys = [key for policy in sas.load_policies(db).values() for key in (policy.primary_key, policy.secondary_key)]
    finally:
        db.close()
    return [conn.client_secret, conn.identity_header, *keys]


def test_listens_on_loopback_only_by_default(sandbox):
    assert listening_addresses(sandbox.port) == {"127.0.0.1"}
    report(SECTION, f"default listener: {sorted(listening_addresses(sandbox.port))} on port {sandbox.port}")


def test_amqp_listens_on_loopback_only_by_default(amqp_ready):
    assert listening_addresses(amqp_ready) == {"127.0.0.1"}
    report(SECTION, f"AMQP listener: {sorted(listening_addresses(amqp_ready))} on port {amqp_ready}")


@pytest.mark.slow
def test_bind_flag_exposes_and_warns(private_sandbox):
    conn = private_sandbox(bind_host="0.0.0.0")
    log = (Path(conn.state_dir) / LOG_FILE).read_text()
    assert listening_addresses(conn.port) == {"0.0.0.0"}
    assert "not only on loopback" in log and "WARNING" in log
    report(SECTION, f"--bind 0.0.0.0: listening on {sorted(listening_addresses(conn.port))}, warning logged")


def test_secret_files_are_private(sandbox, tmp_path, monkeypatch):
    from kit.settings import Settings

    folder = Path(sandbox.state_dir)
    secret_files = [folder / "connection.json", folder / DATABASE_FILE, folder / LOG_FILE,
                    *(folder / SECRETS_DIR).iterdir(), *(folder / TLS_DIR).glob("*key*")]
    secret_files += [path for path in folder.glob(DATABASE_FILE + "-*")]
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(tmp_path / "settings.json"))
    saved = Settings(tenant_id=sandbox.tenant_id, client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                     hub_host=sandbox.hub_host).save(include_secret=True)
    secret_files.append(saved)
    modes = {path.relative_to(path.parents[1]).as_posix(): oct(stat.S_IMODE(path.stat().st_mode))
             for path in secret_files}
    report(SECTION, "file modes: " + ", ".join(f"{name} {mode}" for name, mode in sorted(modes.items())))
    assert len(secret_files) >= 8
    assert {mode for mode in modes.values()} == {"0o600"}, modes
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def _exercise(conn: Connection) -> int:
    """Token requests of each kind and hub calls, good and bad; returns how many requests were made."""
    common = {"authority": conn.authority_host, "disable_instance_discovery": True}
    credentials = [
        ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret, **common),
        CertificateCredential(conn.tenant_id, conn.client_id, conn.certificate_path, **common),
        WorkloadIdentityCredential(tenant_id=conn.tenant_id, client_id=conn.client_id,
                                   token_file_path=conn.federated_token_file, **common),
    ]
    for credential in credentials:
        credential.get_token(SCOPE)
    wrong = ClientSecretCredential(conn.tenant_id, conn.client_id, conn.client_secret + "x", **common)
    with pytest.raises(ClientAuthenticationError):
        wrong.get_token(SCOPE)
    hub = HubHttp(conn, credential_for(conn, conn.client_id, conn.client_secret))
    calls = [("bearer", 200), ("sas", 200), ("Bearer eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4In0.", 401),
             (hub.sas().replace("sig=", "sig=A"), 401)]
    for authorization, expected in calls:
        assert hub.call("GET", "/statistics/devices", authorization=authorization).status_code == expected
    hub.call("GET", "/twins/thermostat-a-1", authorization="bearer")
    return len(credentials) + 1 + len(calls) + 1


@pytest.mark.slow
def test_no_secret_or_token_in_sandbox_logs(sandbox, private_sandbox):
    conn = private_sandbox()
    requests_made = _exercise(conn)
    time.sleep(0.2)  # let the access log reach the file
    logs = {folder / LOG_FILE for folder in (Path(conn.state_dir), Path(sandbox.state_dir), *SANDBOX_FOLDERS)}
    secrets = secrets_of(conn) + secrets_of(sandbox)
    scanned, found = 0, {}
    for log in sorted(path for path in logs if path.exists()):
        text = log.read_text(errors="replace")
        scanned += len(text.splitlines())
        if leaks(text, secrets):
            found[str(log)] = leaks(text, secrets)
    report(SECTION, f"sandbox logs: {requests_made} token/hub requests made here, {scanned} lines scanned in "
                    f"{len(logs)} sandboxes' logs, secrets or tokens found: {sum(map(len, found.values()))}")
    a_token = credential_for(conn, conn.client_id, conn.client_secret).get_token(SCOPE).token
    assert leaks(a_token, []), "the scan would not see a token"
    assert scanned > requests_made
    assert not found, found


async def _execute_notebooks(paths: list[Path], env: dict[str, str]) -> dict[Path, dict[int, list[dict]]]:
    """Run the notebooks one after the other in kernels with ``env``, keeping every output (errors included); return
    the outputs by notebook and code cell number, for the cells that ran."""
    executed = {}
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=NOTEBOOK_CELL_TIMEOUT_S, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        await client.async_execute(env=env)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        executed[path] = {number: cell.outputs for number, cell in enumerate(code_cells)
                          if cell.execution_count is not None}
    return executed


def _execute_in_two_lanes(paths: list[Path], private_sandbox, tmp_path: Path
                          ) -> tuple[dict[Path, dict[int, list[dict]]], list[str]]:
    """The notebooks nbval did not run in this session, run in two lanes, each against a sandbox of its own (and its
    own settings file), so they neither wait for each other nor leave devices behind in the session's sandbox.
    Returns their outputs and the secrets of those sandboxes."""
    lanes = [lane for lane in (paths[0::2], paths[1::2]) if lane]
    envs, secrets = [], []
    for index in range(len(lanes)):
        conn = private_sandbox()
        secrets += secrets_of(conn)
        envs.append({**os.environ, STATE_DIR_ENV: conn.state_dir,
                     SETTINGS_FILE_ENV: str(tmp_path / f"settings-{index}.json")})

    async def run_lanes() -> list[dict[Path, dict[int, list[dict]]]]:
        return await asyncio.gather(*(_execute_notebooks(lane, env) for lane, env in zip(lanes, envs)))

    executed: dict[Path, dict[int, list[dict]]] = {}
    for lane in asyncio.run(run_lanes()) if lanes else []:
        executed.update(lane)
    return executed, secrets


def cells_not_run(path: Path, executed: dict[int, list[dict]]) -> list[int]:
    """The code cells of the notebook that have no recorded run: the notebook stopped early, or a cell was skipped."""
    code_cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return [number for number in range(len(code_cells)) if number not in executed]


def test_the_notebook_scan_notices_cells_that_did_not_run():
    setup = REPO / "notebooks" / "00_setup_check.ipynb"
    code_cells = sum(cell.cell_type == "code" for cell in nbformat.read(setup, as_version=4).cells)
    assert code_cells > 3
    assert cells_not_run(setup, {number: [] for number in range(code_cells)}) == []
    assert cells_not_run(setup, {0: [], 1: []}) == list(range(2, code_cells))  # stopped after its second cell


@pytest.mark.slow
@pytest.mark.after_notebooks
def test_no_secret_or_token_in_notebook_outputs(sandbox, private_sandbox, tmp_path):
    """Every output of every notebook, as nbval produced it in this session against the session's sandbox (the
    notebooks nbval did not run here, e.g. in ``pytest tests/reliability``, are executed for the scan). Every code
    cell must have run: a scan of a notebook that stopped early would prove nothing about the rest."""
    folder = REPO / "notebooks"
    notebooks = sorted(folder.glob("*.ipynb")) + sorted((folder / "solutions").glob("*.ipynb"))  # solved versions too
    assert notebooks, "no notebooks to scan"
    executed = {path: notebook_runs.EXECUTED[path] for path in notebooks if path in notebook_runs.EXECUTED}
    from_nbval = len(executed)
    extra, secrets = _execute_in_two_lanes([path for path in notebooks if path not in executed], private_sandbox,
                                           tmp_path)
    executed.update(extra)
    secrets += secrets_of(sandbox)

    found: dict[str, list[str]] = {}
    not_run = {str(path.relative_to(folder)): cells_not_run(path, executed[path]) for path in notebooks}
    outputs = 0
    for path, cells in executed.items():
        for cell_outputs in cells.values():
            for output in cell_outputs:
                outputs += 1
                hits = leaks(json.dumps(output), secrets)
                if hits:
                    found.setdefault(str(path.relative_to(folder)), []).extend(hits)
    report(SECTION, f"notebook outputs: {len(notebooks)} notebooks ({from_nbval} from this session's nbval run, "
                    f"{len(extra)} executed for the scan), {sum(map(len, executed.values()))} code cells run, "
                    f"{outputs} outputs scanned, secrets or tokens found: {sum(map(len, found.values()))}")
    assert {name: cells for name, cells in not_run.items() if cells} == {}, "code cells that did not run"
    assert outputs > 0
    assert not found, found
