"""Loaded for every pytest run in this repository (``pytest``, ``pytest tests/...``, ``pytest notebooks``).

``KIT_SANDBOX_DIR`` and ``KIT_SETTINGS_FILE`` point into a scratch folder before anything runs, so the tests'
fixtures and the notebooks (run by nbval in kernels that inherit this environment) share one sandbox, and neither
touches the learner's own state or settings. The session's sandbox is stopped at the end, whoever started it.

The one exception is the notebooks' Azure mode (``tests/test_notebooks_azure_mode.py``): it runs pytest again with
``KIT_NOTEBOOK_MODE=azure`` and an environment of its own (real-Azure settings, an empty sandbox folder), which
this file then leaves as it is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kit.sandbox import process
from kit.sandbox.db import Database
from kit.sandbox.hub.limits import realism
from kit.sandbox.paths import DATABASE_FILE, STATE_DIR_ENV
from kit.settings import SETTINGS_FILE_ENV

pytest_plugins = ["tests.notebook_runs"]

NOTEBOOK_MODE_ENV = "KIT_NOTEBOOK_MODE"


def azure_mode() -> bool:
    """Whether this pytest runs the notebooks as a learner on real Azure would (see the module docstring)."""
    return os.environ.get(NOTEBOOK_MODE_ENV) == "azure"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or azure_mode():
        return
    scratch = Path(tempfile.mkdtemp(prefix="kit-tests-"))
    os.environ[STATE_DIR_ENV] = str(scratch / "sandbox")
    os.environ[SETTINGS_FILE_ENV] = str(scratch / "settings.json")
    os.environ.pop("KIT_TARGET", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get(STATE_DIR_ENV) and not azure_mode():
        process.stop(os.environ[STATE_DIR_ENV])


TESTS_SWITCH_OFF = ("throttling", "query_lag_seconds")  # what tests/conftest.py switches off for quick tests
_notebook_prepared: list[Path] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before each notebook: the hub behaves as Azure does (throttling and query lag at their defaults), whatever the
    tests before it switched off. Knobs a notebook sets itself are left alone."""
    database = Path(os.environ.get(STATE_DIR_ENV, "")) / DATABASE_FILE
    if item.path.suffix != ".ipynb" or _notebook_prepared[-1:] == [item.path]:
        return
    _notebook_prepared.append(item.path)
    if os.environ.get(STATE_DIR_ENV) and database.exists():
        db = Database(database)
        try:
            realism.ensure(db, {name: realism.KNOBS[name].default for name in TESTS_SWITCH_OFF})
        finally:
            db.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that read the notebooks' outputs after the notebooks, and the browser tests last. Playwright's
    sync API keeps an event loop on the main thread while its browser is open (a session fixture), which would break
    every later test that calls ``asyncio.run``."""
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None,
                                 item.get_closest_marker("after_notebooks") is not None))
