"""Fixtures of the reliability tests, and the figures they print at the end of the run.

The hub fixtures (raw HTTPS caller, role apps, the contributor credential) are the hub tests' own, re-used here.
Tests that need a sandbox of their own (fuzzing, crash safety, exposure) get one in a temporary state folder from
``private_sandbox``; it asks for the session sandbox first, so the session one keeps AMQP port 5671.

Tests add lines to ``reporting.REPORT``; ``pytest_terminal_summary`` prints them whatever ``-s`` says, so a CI log
carries the case tables and latency figures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kit.sandbox import process
from kit.sandbox.connection import Connection
from kit.sandbox.paths import TLS_DIR
from tests.reliability.reporting import REPORT, SANDBOX_FOLDERS
from tests.sandbox.hub.conftest import (  # noqa: F401 (fixtures shared with the hub tests)
    contributor_credential,
    hub,
    token_registry,
)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    for section, lines in REPORT.items():
        terminalreporter.write_sep("-", section)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def private_sandbox(sandbox: Connection, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Callable[..., Connection]]:
    """``private_sandbox()`` starts a sandbox in a new temporary state folder (restartable with ``state_dir=``);
    every one started is stopped at teardown. It gets the session sandbox's TLS CA, so the trust variables the
    session set (read by requests and azure-identity) hold for it too."""
    started: list[Path] = []

    def start(state_dir: Path | None = None, **options) -> Connection:
        folder = state_dir or tmp_path_factory.mktemp("private-sandbox") / "state"
        if not (folder / TLS_DIR).exists():
            shutil.copytree(Path(sandbox.state_dir) / TLS_DIR, folder / TLS_DIR)
        started.append(folder)
        SANDBOX_FOLDERS.append(folder)
        return process.start(folder, **options)

    yield start
    for folder in started:
        process.stop(folder)
