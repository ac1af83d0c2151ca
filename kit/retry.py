"""Retry with backoff when IoT Hub throttles (HTTP 429), which the Python SDK does not do for you.

IoT Hub limits each kind of operation per tier and unit (identity registry operations, queries, twin reads and
updates, jobs, configurations...). Bursts above the limit are first queued (traffic shaping); beyond that the hub
answers 429 ``ThrottlingException`` and "the client should back-off and retry" (iot-hub-devguide-quotas-throttling).
azure-iot-hub's msrest pipeline retries 408 and 5xx only, so a 429 reaches your code as ``HttpOperationError``.

:func:`call` runs one SDK call and, on a throttling 429, waits and calls again: as long as the hub says to wait
("Wait 10 seconds and try again", or a ``Retry-After`` header), else with exponential backoff (1, 2, 4... s, at most
``max_delay_s``). Any other error, or the last attempt's 429, is raised unchanged. Example::

    result = kit.retry.call(lambda: registry.bulk_create_or_update_devices(batch))
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["call", "is_throttled", "suggested_wait"]

T = TypeVar("T")
RATE_THROTTLES = frozenset({"ThrottlingException", "ThrottleBacklogLimitExceeded", "ThrottlingBacklogTimeout"})
_WAIT = re.compile(r"Wait (\d+(?:\.\d+)?) seconds", re.IGNORECASE)


def _response(error: BaseException) -> Any:
    return getattr(error, "response", None)


def _body(response: Any) -> str:
    text = getattr(response, "text", "")
    return text() if callable(text) else (text or "")


def is_throttled(error: BaseException) -> bool:
    """True for the hub's rate throttles (429 ThrottlingException and its backlog variants). Not for 429
    ThrottlingMaxActiveJobCountExceeded: that one waits for a job to end, which retrying quickly does not help."""
    response = _response(error)
    if getattr(response, "status_code", None) != 429:
        return False
    code = (getattr(response, "headers", None) or {}).get("iothub-errorcode", "")
    return code in RATE_THROTTLES or (not code and any(name in _body(response) for name in RATE_THROTTLES))


def suggested_wait(error: BaseException) -> float | None:
    """The seconds the hub asks for: a ``Retry-After`` header, or "Wait N seconds" in its message; else None."""
    response = _response(error)
    header = (getattr(response, "headers", None) or {}).get("retry-after")
    if header and header.strip().isdigit():
        return float(header)
    found = _WAIT.search(_body(response))
    return float(found.group(1)) if found else None


def call(operation: Callable[[], T], attempts: int = 6, base_delay_s: float = 1.0, max_delay_s: float = 60.0,
         on_wait: Callable[[float, BaseException], None] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> T:
    """``operation()``, called again after each throttling 429 (up to ``attempts`` calls in all).

    ``on_wait(seconds, error)`` is told before each wait (to show it, e.g. on a progress bar); by default the wait is
    printed, so a slow cell says why it is slow.
    """
    if attempts < 1:
        raise ValueError(f"attempts: {attempts} is out of range; give 1 or more.")
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as error:
            if attempt == attempts or not is_throttled(error):
                raise
            delay = min(max_delay_s, suggested_wait(error) or base_delay_s * 2 ** (attempt - 1))
            (on_wait or _print_wait)(delay, error)
            sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def _print_wait(seconds: float, error: BaseException) -> None:
    print(f"IoT Hub throttled the request (429); retrying in {seconds:g} s")
