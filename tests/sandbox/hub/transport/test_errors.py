"""The hub's error replies on the wire (kit/sandbox/hub/transport/errors.py): status, envelope and headers."""

from __future__ import annotations

import re

import pytest

from kit.sandbox.hub.transport.errors import HubError
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


@pytest.mark.parametrize(("code", "number"), [
    ("JobQuotaExceeded", 403003), ("ConfigurationNotFound", 404301), ("JobAlreadyExists", 409104),
    ("ConfigurationAlreadyExists", 409401), ("ConfigurationCountLimitExceeded", 413101),
    ("ThrottlingException", 429001), ("ThrottlingMaxActiveJobCountExceeded", 429004), ("DeviceNotOnline", 404103),
])
def test_numbers_follow_the_documented_catalogue(code, number):
    """troubleshoot-error-codes.md (2026-01) lists each error name with its number."""
    assert HubError(400, code, "").number == number
