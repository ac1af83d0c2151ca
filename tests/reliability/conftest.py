"""Fixtures of the reliability tests, and the figures they print at the end of the run.

The hub fixtures (raw HTTPS caller, role apps, the contributor credential) are the hub tests' own, re-used here.
Tests that need a sandbox of their own (fuzzing, crash safety, exposure) get one in a temporary state folder from
``private_sandbox`` (tests/conftest.py).

Tests add lines to ``reporting.REPORT``; ``pytest_terminal_summary`` prints them whatever ``-s`` says, so a CI log
carries the case tables and latency figures.
"""

from __future__ import annotations

import pytest

from tests.reliability.reporting import REPORT
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
