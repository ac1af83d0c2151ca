"""Show an Azure SDK error once in a notebook: the cell's lines, the exception's type and its message, without the
SDK's repetitions.

The SDKs repeat themselves: azure-identity appends the raw JSON body (``Content: {...}``) to a message that already
quotes it, the management SDKs write an ARM error's code and message twice, msrest says only "Operation returned an
invalid status code 'Unauthorized'" and leaves the hub's own message in the body, and a traceback through
azure-core's pipeline is twenty frames of plumbing. :func:`install`
registers an IPython handler for the SDKs' exception classes that prints the frames of the notebook's own code, then
``Type: message`` with the service's words once. Nothing is lost: ``%tb`` prints the full traceback, and the
exception itself is untouched (``sys.last_value``, ``kit.checks.failed_with`` and ``kit.explain`` see the original).
"""

from __future__ import annotations

import re
import sys
import sysconfig
import types
from typing import Any

import requests
from azure.core.exceptions import AzureError
from msrest.exceptions import ClientException

from kit.explain import service_message

__all__ = ["HIDDEN_NOTE", "install", "shown_message"]

SDK_ERRORS: tuple[type[BaseException], ...] = (AzureError, ClientException, requests.RequestException)
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[name] for name in ("purelib", "platlib", "stdlib", "platstdlib")})
HIDDEN_NOTE = "(the frames inside the SDK are hidden; %tb shows the full traceback)"
# Where an SDK starts repeating itself: azure-core appends the raw body ("Content: {...}") or, for ARM's OData
# errors, the code and message again ("Code: ...", "Message: ...").
_REPEATS = re.compile(r"\nContent: |\nCode: ")


class _Shown(Exception):
    """Carries the text shown for an SDK error; only its message is displayed, under the original type's name."""


def shown_message(error: BaseException) -> str:
    """The error's text, once: the SDK's first line, then the service's own message when the SDK left it out."""
    text = _REPEATS.split(str(error), maxsplit=1)[0].strip()
    own = service_message(error)
    if own and own not in text:
        text = f"{text.splitlines()[0] if text else type(error).__name__}\nThe service says: {own}"
    return text


def _is_library(filename: str) -> bool:
    return filename.startswith(_LIBRARY_DIRS)


def notebook_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback's frames from the notebook's own code: IPython's frames before it and the libraries' after it
    are dropped."""
    while tb is not None and _is_library(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    kept = []
    while tb is not None and not _is_library(tb.tb_frame.f_code.co_filename):
        kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for frame in reversed(kept):
        trimmed = types.TracebackType(trimmed, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return trimmed


def _show(shell: Any, etype: type[BaseException], value: BaseException, tb: types.TracebackType | None,
          tb_offset: int | None = None) -> list[str]:
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    if hasattr(sys, "last_exc"):  # Python 3.12
        sys.last_exc = value
    text = shown_message(value)
    stb = shell.InteractiveTB.structured_traceback(etype, _Shown(text), notebook_frames(tb), tb_offset=0)
    stb.append(HIDDEN_NOTE)
    shell._showtraceback(etype, text, stb)
    return stb


def install(shell: Any = None) -> bool:
    """Register the handler in this IPython (a no-op in plain Python, or when another handler is registered)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or (shell.custom_exceptions and shell.custom_exceptions != SDK_ERRORS):
        return False
    shell.set_custom_exc(SDK_ERRORS, _show)
    return True
