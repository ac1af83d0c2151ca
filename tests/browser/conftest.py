"""A real JupyterLab server and a real headless Chromium, so the notebooks are tested as learners see them.

nbval runs cells in a kernel but never renders a widget: a form that shows "Error displaying widget" in the browser
passes every nbval test. These fixtures start one Lab server per test session on loopback (token auth, a scratch
root folder holding a copy of the notebooks) whose kernels inherit this session's environment, so they use the
sandbox of the ``sandbox`` fixture and the scratch settings file. Chromium is Debian's ``/usr/bin/chromium`` (or
``$KIT_CHROMIUM``), driven by Playwright; no browser is ever downloaded. When Chromium or Playwright is missing or
cannot start, the tests are skipped with the reason, never reported as passed.

Screenshots of every step go to ``$KIT_SCREENSHOTS_DIR`` (or a scratch folder), named in the terminal summary.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kit.sandbox.connection import Connection

CHROMIUM = os.environ.get("KIT_CHROMIUM", "/usr/bin/chromium")  # Debian's package; another build may be named
# The closed network refuses Chromium's background connections; these flags keep it from trying.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS_ENV = "KIT_SCREENSHOTS_DIR"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LAB_START_TIMEOUT_S = 60
KERNEL_TIMEOUT_MS = 60_000
WIDGET_TIMEOUT_MS = 15_000
KERNEL_IDLE = re.compile(r"\(ipykernel\) \| Idle$")
# What JupyterLab's widget manager writes instead of a widget it cannot show.
WIDGET_FAILURE_TEXT = re.compile(r"Error displaying widget|model not found|Failed to (load model class|create view)")
WIDGET_FAILURE_SELECTOR = ".jupyter-widgets-error-widget"
# Lab settings for a quiet, offline front end: no news, no update check, no extension manager (they go online).
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
    # Start the notebook's own kernel without asking: the "Select Kernel" dialog otherwise races the kernel list.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
}

DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
_screenshots_dir: Path | None = None
collect_ignore_glob = ["fixtures/*"]  # notebooks opened in the browser, not run by nbval


class WidgetNotRendered(AssertionError):
    """The browser shows a widget failure, or not the widget expected."""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _screenshots_dir is not None:
        terminalreporter.write_line(f"browser screenshots: {_screenshots_dir}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """Outside pytest's temporary folders, which later runs delete, so the pictures stay to be looked at."""
    global _screenshots_dir
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="kit-browser-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    _screenshots_dir = folder
    return folder


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, or a skip that says why it is not available."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.skip(f"Playwright for Python is not installed ({error}): pip install -r requirements-dev.txt")
    driver = sync_playwright().start()
    try:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    except PlaywrightError as error:
        driver.stop()
        pytest.skip(f"Playwright could not start {CHROMIUM}: {str(error).splitlines()[0]}")
    yield browser
    browser.close()
    driver.stop()


def _lab_settings(folder: Path) -> Path:
    for name, values in LAB_USER_SETTINGS.items():
        file = folder / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    return folder


@dataclass(frozen=True)
class LabServer:
    """The Lab server's address and token, for the browser's URLs and for its REST API."""

    base: str
    token: str

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with DIRECT.open(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def notebook_url(self, path: str) -> str:
        """The notebook at ``path`` (relative to the root) in a reset workspace, logged in with the token."""
        return f"{self.base}/lab/tree/{path}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


def _wait_for_lab(lab: LabServer, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + LAB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            lab.api("GET", "/api/status")
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {LAB_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def lab_scratch() -> Iterator[Path]:
    """The Lab server's scratch folder; its ``root`` holds a copy of the notebooks and the browser fixtures."""
    scratch = Path(tempfile.mkdtemp(prefix="kit-lab-"))
    shutil.copytree(NOTEBOOKS, scratch / "root", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(FIXTURES, scratch / "root" / "fixtures")
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_root(lab_scratch: Path) -> Path:
    return lab_scratch / "root"


@pytest.fixture(scope="session")
def lab_notary(lab_scratch: Path) -> Any:
    """Signs notebooks as trusted for the Lab server, as Lab does for a notebook its learner saved (an untrusted
    notebook's widget outputs are shown as plain text)."""
    from nbformat.sign import NotebookNotary

    return NotebookNotary(data_dir=str(lab_scratch / "data"))


@pytest.fixture(scope="session")
def lab_server(sandbox: Connection, chromium: Any, lab_scratch: Path, lab_root: Path) -> Iterator[LabServer]:
    """A JupyterLab server on loopback serving ``lab_root``. Its kernels inherit KIT_SANDBOX_DIR and
    KIT_SETTINGS_FILE, so they share ``sandbox``."""
    scratch, root = lab_scratch, lab_root
    port, token = _free_port(), secrets.token_hex(24)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(scratch / "config"), "JUPYTER_DATA_DIR": str(scratch / "data"),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"), "JUPYTER_PLATFORM_DIRS": "1"}
    log = scratch / "lab.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               f"--LabApp.user_settings_dir={_lab_settings(scratch / 'user-settings')}",
               f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    lab = LabServer(f"http://127.0.0.1:{port}", token)
    try:
        _wait_for_lab(lab, server, log)
        yield lab
    finally:
        server.terminate()  # Jupyter Server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class LabPage:
    """One notebook open in JupyterLab, with the steps the tests take and a screenshot after each."""

    def __init__(self, page: Any, server: LabServer, screenshots: Path, prefix: str) -> None:
        self.page = page
        self.server = server
        self.screenshots = screenshots
        self.prefix = prefix
        self.step = 0

    def open(self, path: str) -> None:
        """Open the notebook at ``path`` (relative to the Lab's root) in a reset workspace; wait for its kernel."""
        self.page.goto(self.server.notebook_url(path))
        self.page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=KERNEL_TIMEOUT_MS)
        self.wait_idle()

    def wait_idle(self) -> None:
        """The notebook's kernel has started and is idle (the status bar says "Python 3 (ipykernel) | Idle")."""
        self.page.locator(".jp-StatusBar-Widget").get_by_text(KERNEL_IDLE).wait_for(timeout=KERNEL_TIMEOUT_MS)

    def run_all(self) -> None:
        """Run > Run All Cells, as a learner does, then wait until no cell is queued or running."""
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        self.page.wait_for_function(
            "() => document.querySelectorAll('.jp-Notebook .jp-InputPrompt').length > 0 && "
            "[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]/.test(p.textContent))", timeout=KERNEL_TIMEOUT_MS)
        self.wait_idle()

    def cell(self, code: str) -> Any:
        """The code cell whose source contains ``code``."""
        return self.page.locator(".jp-CodeCell", has=self.page.locator(".jp-InputArea-editor", has_text=code))

    def shot(self, name: str, target: Any | None = None) -> Path:
        self.step += 1
        file = self.screenshots / f"{self.prefix}-{self.step:02d}-{name}.png"
        if target is not None:
            target.scroll_into_view_if_needed()
        self.page.screenshot(path=str(file))
        return file

    def expect_widget(self, cell: Any, selector: str) -> Any:
        """The widget output of ``cell`` rendered, showing ``selector``; a :class:`WidgetNotRendered` naming what
        the browser shows instead (the widget manager's error text, its error widget, or nothing)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        output = cell.locator(".jp-OutputArea")
        expected = output.locator(selector)
        failure = output.get_by_text(WIDGET_FAILURE_TEXT).or_(output.locator(WIDGET_FAILURE_SELECTOR))
        try:
            expected.or_(failure).first.wait_for(state="visible", timeout=WIDGET_TIMEOUT_MS)
        except PlaywrightTimeout as error:
            raise WidgetNotRendered(f"no widget shown ({selector!r} not found): "
                                    f"{output.inner_text()[:300]!r}") from error
        if failure.count():
            raise WidgetNotRendered(f"the browser shows a widget failure: {output.inner_text()[:300]!r}")
        return expected.first


@pytest.fixture
def lab(chromium: Any, lab_server: LabServer, screenshots_dir: Path,
        request: pytest.FixtureRequest) -> Iterator[LabPage]:
    """A fresh browser context (own storage) on the Lab server; a screenshot is kept when the test fails, and the
    test's kernels are shut down after it."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WIDGET_TIMEOUT_MS)
    page = LabPage(context.new_page(), lab_server, screenshots_dir, request.node.name)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.shot("failed")
    context.close()
    lab_server.shutdown_kernels()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
