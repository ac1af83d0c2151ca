"""Figures the reliability tests print at the end of the run, the secret patterns they scan for, and the
sandboxes they started.

A plain module (not the conftest), so the tests and the summary hook share one ``REPORT``.
"""

from __future__ import annotations

import re
from pathlib import Path

REPORT: dict[str, list[str]] = {}
SANDBOX_FOLDERS: list[Path] = []  # state folders of the sandboxes the tests started, for the log scans

# What a secret looks like when it leaks: a JWT, a SAS signature, a SAS key in a connection string.
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.?[A-Za-z0-9_-]*")
SAS_SIGNATURE_PATTERN = re.compile(r"sig=[A-Za-z0-9%+/=]{20,}")
SAS_KEY_PATTERN = re.compile(r"SharedAccessKey=[A-Za-z0-9+/=]{20,}")
PRIVATE_KEY_PATTERN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def report(section: str, line: str) -> None:
    """Add a line to a section of the summary printed at the end of the run."""
    REPORT.setdefault(section, []).append(line)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    """Left-aligned text table, one string per line."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *rows]]


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets, JWTs and SAS signatures or keys found in ``text`` (shortened, so the report leaks nothing)."""
    found = [f"secret #{index}" for index, s in enumerate(secrets) if s and s in text]
    for pattern in (JWT_PATTERN, SAS_SIGNATURE_PATTERN, SAS_KEY_PATTERN, PRIVATE_KEY_PATTERN):
        found += [f"{pattern.pattern[:12]}… match {m.group(0)[:8]}…" for m in pattern.finditer(text)]
    return found
