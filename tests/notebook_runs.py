"""What each notebook cell printed when nbval ran it in this pytest session, kept for checks that read notebook
outputs (the secret scan in tests/reliability/test_exposure.py), so they scan that one run instead of executing every
notebook a second time. Loaded as a plugin by the repository's root ``conftest.py``.

A test marked ``after_notebooks`` runs after the notebook cells (the root conftest orders it), so the record is
complete when it reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# notebook path -> code cell number -> the outputs nbval received (streams, results, displays, errors)
EXECUTED: dict[Path, dict[int, list[dict[str, Any]]]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval's cell item once the kernel ran the cell
    if call.when == "call" and outputs is not None:
        EXECUTED.setdefault(Path(item.path), {})[item.cell_num] = [dict(output) for output in outputs]
