"""Where a sandbox keeps its state, and the names of the files inside that folder."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "KIT_SANDBOX_DIR"
DEFAULT_STATE_DIR = Path.home() / ".iot-entra-kit" / "sandbox"

CONNECTION_FILE = "connection.json"
DATABASE_FILE = "state.sqlite3"
PID_FILE = "sandbox.pid"
LOG_FILE = "sandbox.log"
TLS_DIR = "tls"
SECRETS_DIR = "secrets"


def resolve_state_dir(state_dir: str | os.PathLike[str] | None = None) -> Path:
    """The state folder: the argument, else ``$KIT_SANDBOX_DIR``, else one in the user's home."""
    chosen = state_dir or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().resolve()


def private_dir(path: Path) -> Path:
    """Create a folder only its owner can enter (it holds keys and secrets)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: str | bytes) -> Path:
    """Write a file created with mode 0600 from the start, so a secret is never readable by others, not even briefly.

    A folder it has to create is made 0700: a secret's folder should not even list its contents to others.
    """
    if not path.parent.exists():
        private_dir(path.parent)
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
