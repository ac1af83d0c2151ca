"""Waiting for a new role assignment to reach the hub's data plane.

Azure says a role assignment "can take up to 10 minutes" to take effect (role-based-access-control/
troubleshooting.md); until then the hub answers 401 as if there were none. :func:`wait_for_role` repeats a cheap
data-plane call with a growing pause until it stops answering 401, and gives up with a message that says so. The
sandbox imitates the delay (a few seconds by default, ``python -m kit.sandbox role propagation``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
# Troubleshoot Azure RBAC: "it can take up to 10 minutes for changes to take effect", and "you can force a refresh
# by refreshing your access token" (signing out and in, for the portal, PowerShell and the CLI).
AZURE_PROPAGATION_NOTE = ("On Azure a new role assignment can take up to 10 minutes to apply; a new access token "
                          "(a new credential, or signing out and in) can force the refresh.")


def status_of(error: BaseException) -> int | None:
    """The HTTP status of an SDK error: azure-core's ``status_code`` or msrest's ``response.status_code``."""
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def wait_for_role(probe: Callable[[], T], timeout: float = 660.0, first_pause: float = 1.0,
                  max_pause: float = 15.0, on_wait: Callable[[float], None] | None = None) -> T:
    """Call ``probe`` (one data-plane call the new role allows, e.g. ``lambda: registry.get_twin(id)``) until it no
    longer fails with 401, and return its result. Other errors are raised at once; after ``timeout`` seconds a
    ``TimeoutError`` explains what to check. ``on_wait(seconds)`` is told of each pause."""
    if timeout <= 0:
        raise ValueError("timeout: give a number of seconds above 0 (Azure may need up to 600).")
    deadline = time.monotonic() + timeout
    pause = first_pause
    while True:
        try:
            return probe()
        except Exception as error:
            if status_of(error) != 401:
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"The hub still answers 401 after {timeout:.0f} s. {AZURE_PROPAGATION_NOTE} If it lasts longer, "
                    "check the assignment: the role allows this call, its scope is the hub (or above), and its "
                    "principal is the service principal's object id.") from error
            pause = min(pause, max_pause, remaining)
            if on_wait is not None:
                on_wait(pause)
            time.sleep(pause)
            pause *= 1.6
