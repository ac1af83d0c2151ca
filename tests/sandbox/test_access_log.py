"""The sandbox's access log (kit/sandbox/access_log.py): every request gets its line, after the response."""

from __future__ import annotations

import asyncio
import io
import logging

from kit.sandbox.access_log import FLUSH_AFTER_S, AccessLog


async def _answer(scope, receive, send) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    await send({"type": "http.response.start", "status": 404 if scope["path"] == "/missing" else 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def test_each_request_is_logged_once_in_one_batch_after_the_responses():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.access")
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    middleware = AccessLog(_answer, logger)
    sent = []

    async def send(message) -> None:
        sent.append(message)

    async def run() -> str:
        for path in ("/twins/a?x", "/missing", "/boom"):
            scope = {"type": "http", "method": "GET", "path": path.split("?")[0], "http_version": "1.1",
                     "client": ("127.0.0.1", 5000)}
            try:
                await middleware(scope, None, send)
            except RuntimeError:
                pass
        written_at_once = stream.getvalue()
        await asyncio.sleep(FLUSH_AFTER_S * 3)
        assert written_at_once == ""  # nothing is written while requests are answered
        return stream.getvalue()

    lines = asyncio.run(run()).splitlines()
    assert lines == ['INFO test.access: 127.0.0.1:5000 - "GET /twins/a HTTP/1.1" 200',
                     'INFO test.access: 127.0.0.1:5000 - "GET /missing HTTP/1.1" 404',
                     'INFO test.access: 127.0.0.1:5000 - "GET /boom HTTP/1.1" 500']
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200, 404]
