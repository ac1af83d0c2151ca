"""The edge of a service's routes: its own errors become its own error replies, and anything unexpected becomes a
500 in the same shape (logged with its traceback), so a client never sees a bare server error page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Exception)
INTERNAL_ERROR = "The sandbox hit an internal error; see its log."


class ServiceError(Exception):
    """An error a service answers with: HTTP status, the service's error code and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def answered(handler: Handler, error_type: type[E], reply: Callable[[Request, E], Response],
             internal: Callable[[], E], log: logging.Logger) -> Handler:
    """``handler`` with ``error_type`` answered by ``reply`` and any other exception by ``reply(internal())``."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except error_type as error:
            log.info("%s %s -> %s", request.method, request.url.path, error)
            return reply(request, error)
        except Exception:
            log.exception("request failed: %s %s", request.method, request.url.path)
            return reply(request, internal())

    return endpoint
