"""One line per HTTP request in the sandbox's log, written after the responses went out.

uvicorn's own access log formats and writes (and flushes) a log record inside every request, about a tenth of a
millisecond each on this machine: more than the hub spends answering a twin read. This middleware keeps the same
information (client, method, path without the query string, status) but only appends a line per request; the lines
reach the log's handlers in one write a few milliseconds later, formatted as the sandbox's other log lines are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

FLUSH_AFTER_S = 0.05  # a line is in the log file this long after its response at most
LOGGER = "kit.sandbox.access"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessLog:
    """ASGI middleware around the sandbox's app: ``client - "METHOD /path HTTP/1.1" status`` per request."""

    def __init__(self, app: App, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER)
        self._pending: list[tuple[float, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app fails before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client") or ("-", 0)
            self._add(f'{client[0]}:{client[1]} - "{scope["method"]} {scope["path"]} '
                      f'HTTP/{scope.get("http_version", "1.1")}" {status}')

    def _add(self, line: str) -> None:
        self._pending.append((time.time(), line))
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self.flush)

    def flush(self) -> None:
        """Hand the waiting lines to the logger's handlers, one write each (also called at shutdown)."""
        pending, self._pending = self._pending, []
        if not pending or not self.logger.isEnabledFor(logging.INFO):
            return
        records = [self.logger.makeRecord(self.logger.name, logging.INFO, __file__, 0, line, None, None)
                   for _, line in pending]
        for record, (created, _) in zip(records, pending):
            record.created, record.msecs = created, (created % 1) * 1000
        for handler in _handlers(self.logger):
            wanted = [record for record in records if record.levelno >= handler.level]
            stream = getattr(handler, "stream", None) if isinstance(handler, logging.StreamHandler) else None
            if stream is None:
                for record in wanted:
                    handler.handle(record)
                continue
            with handler.lock:  # a file or stderr: the whole batch in one write
                stream.write("".join(handler.format(record) + handler.terminator for record in wanted))
                handler.flush()


def _handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of ``logger`` reaches, as ``Logger.callHandlers`` walks them."""
    found: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        found += current.handlers
        current = current.parent if current.propagate else None
    return found
