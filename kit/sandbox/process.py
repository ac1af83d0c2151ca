"""Start, find, stop and reset the background sandbox process of a state folder."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kit.sandbox.connection import HEALTH_PATH, LOOPBACK, Connection, connection_path, load_connection
from kit.sandbox.paths import LOG_FILE, PID_FILE, TLS_DIR, private_dir, resolve_state_dir

START_TIMEOUT_S = 30.0
START_LOCK_FILE = "start.lock"


class SandboxError(RuntimeError):
    """The sandbox could not be started, reached or stopped; the message says why and what to do."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours still "exists"; treat it as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def _healthy(conn: Connection, timeout: float = 2.0) -> bool:
    context = ssl.create_default_context(cafile=conn.ca_bundle)
    url = f"https://localhost:{conn.port}{HEALTH_PATH}"
    try:
        with urllib.request.urlopen(url, context=context, timeout=timeout) as reply:
            return json.load(reply).get("pid") == conn.pid
    except (OSError, ValueError):
        return False


def running(state_dir: str | Path | None = None) -> Connection | None:
    """The connection of the sandbox running for ``state_dir``, or None."""
    folder = resolve_state_dir(state_dir)
    pid_file = folder / PID_FILE
    if not pid_file.exists() or not connection_path(folder).exists():
        return None
    try:
        conn = load_connection(folder)
    except (OSError, ValueError, TypeError):
        return None
    if not _pid_alive(conn.pid) or not _healthy(conn):
        return None
    return conn


def _previous_port(folder: Path) -> int:
    try:
        return int(json.loads(connection_path(folder).read_text()).get("port") or 0)
    except (OSError, ValueError):
        return 0


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        # As the server binds (server.bind_socket): connections of the last run in TIME_WAIT do not hold the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


@contextmanager
def _start_lock(folder: Path) -> Iterator[None]:
    """One start at a time per state folder (another process's too): a second waits, then finds the first's sandbox
    instead of starting another on the same files."""
    descriptor = os.open(private_dir(folder) / START_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def start(state_dir: str | Path | None = None, port: int | None = None, bind_host: str = LOOPBACK) -> Connection:
    """Start the sandbox in the background and return once it answers; a running one is returned as it is."""
    folder = resolve_state_dir(state_dir)
    existing = running(folder)
    if existing:
        return existing
    with _start_lock(folder):
        return running(folder) or _spawn(folder, port, bind_host)


def _spawn(folder: Path, port: int | None, bind_host: str) -> Connection:
    if port is None:  # keep the port of the last run when we can, so saved settings stay valid
        previous = _previous_port(folder)
        port = previous if previous and _port_free(previous) else 0
    connection_path(folder).unlink(missing_ok=True)
    (folder / PID_FILE).unlink(missing_ok=True)
    log_path = folder / LOG_FILE
    command = [sys.executable, "-m", "kit.sandbox", "serve", "--state-dir", str(folder), "--port", str(port),
               "--log-to-file", "--bind", bind_host]
    with open(log_path, "ab") as log_file:
        os.chmod(log_path, 0o600)
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SandboxError(
                f"The sandbox stopped while starting (exit code {child.returncode}). Its log is {log_path}:\n"
                + _tail(log_path)
            )
        if connection_path(folder).exists():
            conn = running(folder)
            if conn:
                return conn
        time.sleep(0.05)
    child.terminate()
    raise SandboxError(f"The sandbox did not answer within {START_TIMEOUT_S:.0f} s. Its log is {log_path}.")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(state_dir: str | Path | None = None, timeout: float = 10.0) -> bool:
    """Stop the sandbox of ``state_dir``; True when one was running."""
    folder = resolve_state_dir(state_dir)
    pid_file = folder / PID_FILE
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid_file.unlink(missing_ok=True)
        return False
    if not _pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def reset(state_dir: str | Path | None = None) -> None:
    """Forget everything the sandbox stored (apps, devices, twins) but keep its TLS CA, so trust stays valid."""
    folder = resolve_state_dir(state_dir)
    stop(folder)
    if not folder.exists():
        return
    for entry in folder.iterdir():
        if entry.name == TLS_DIR:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
