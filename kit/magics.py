"""``%sandbox``: the sandbox's admin command line (``python -m kit.sandbox ...``) run inside the notebook's kernel.

``app = %sandbox app create --name demo`` takes milliseconds instead of the second a new Python needs, and returns
the command's JSON as Python values. A value the command prints only once (a new client secret, a workload token)
comes back as a ``SecretStr``, so displaying the result never shows it. In a terminal the same line is
``python -m kit.sandbox app create --name demo``. :func:`kit.session.begin` registers the magic.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from typing import Any

from pydantic import SecretStr

from kit.settings import SandboxOnlyError

__all__ = ["SandboxCommandError", "register_magic", "sandbox_command"]

SECRET_OUTPUT_KEYS = frozenset({"client_secret", "token"})


class SandboxCommandError(RuntimeError):
    """An admin command refused its arguments; the message is the command's own explanation."""


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: SecretStr(v) if k in SECRET_OUTPUT_KEYS and isinstance(v, str) else _hide_secrets(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secrets(item) for item in value]
    return value


def sandbox_command(line: str) -> Any:
    """``%sandbox app create --name demo``: run ``python -m kit.sandbox <line>`` in this kernel (no new Python to
    start, so it takes milliseconds) and return its JSON output as Python values, secrets as ``SecretStr``."""
    from kit.sandbox.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(shlex.split(line))
        except SystemExit as exit_:  # argparse: --help, or a usage error
            code = exit_.code if isinstance(exit_.code, int) else 2
    if code not in (0, None):
        raise SandboxCommandError(f"python -m kit.sandbox {line}\n{(err.getvalue() or out.getvalue()).strip()}")
    text = out.getvalue()
    try:
        return _hide_secrets(json.loads(text))
    except ValueError:
        print(text, end="")
        return None


def refuse_sandbox_command(line: str) -> None:
    """``%sandbox`` when the target is real Azure: refused, so that nothing meant for the learner's tenant silently
    happens in a local sandbox instead."""
    raise SandboxOnlyError(
        f"%sandbox {line}".strip(),
        "Run the kit.admin call (or the az command) shown beside this step; a step that only the sandbox can do "
        "belongs under `if session.on_sandbox:`.")


def register_magic(on_sandbox: bool = True) -> None:
    """Make ``%sandbox`` available when running under IPython (a notebook); elsewhere, do nothing. When the target
    is real Azure (``on_sandbox=False``) the magic refuses every command with the reason."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        command = sandbox_command if on_sandbox else refuse_sandbox_command
        shell.register_magic_function(command, magic_kind="line", magic_name="sandbox")
