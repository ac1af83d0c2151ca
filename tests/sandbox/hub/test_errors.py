"""The hub's error replies on the wire (kit/sandbox/hub/errors.py): status, envelope and headers."""

from __future__ import annotations

import re

import pytest

from tests.sandbox.hub.conftest import error_code


@pytest.mark.parametrize("authorization, status, code", [
    ("bearer", 404, "DeviceNotFound"),
    (None, 401, "IotHubUnauthorizedAccess"),
])
def test_error_headers_and_envelope(hub, new_id, authorization, status, code):
    reply = hub.call("GET", f"/devices/{new_id('absent')}", authorization=authorization)
    assert reply.status_code == status and error_code(reply) == code
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r"[0-9a-f-]{36}", reply.headers["x-ms-request-id"])
    assert reply.headers["server"] == "Microsoft-HTTPAPI/2.0"  # one header (requests joins repeats)
    body = reply.json()
    assert set(body) == {"Message", "ExceptionMessage"} and body["Message"].startswith(f"ErrorCode:{code};")
    assert re.fullmatch(r"Tracking ID:[0-9a-f]{32}-G:\d+-TimeStamp:\d\d/\d\d/\d{4} \d\d:\d\d:\d\d",
                        body["ExceptionMessage"])


def test_successful_replies_name_the_hubs_front_end_once(hub):
    reply = hub.call("GET", "/statistics/devices")
    assert reply.status_code == 200
    assert reply.headers["server"] == "Microsoft-HTTPAPI/2.0"  # one header (requests joins repeats)
