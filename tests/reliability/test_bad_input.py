"""Bad input gets a 400 in the hub's error shape, and nothing already stored changes.

Each case is sent raw (the SDK would refuse to send most of them) to a device made for this module, which has a
tag and a desired property; after every refusal its twin, its identity and the device count are read back and
compared with what they were before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.reliability.reporting import report, table
from tests.sandbox.hub.conftest import HubHttp, error_code

SECTION = "bad input (400 + envelope, nothing stored changes)"
ROWS: list[tuple[str, ...]] = []


def nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` levels deep: {"l1": {"l2": ... {"leaf": 1}}}."""
    value: dict[str, Any] = {"leaf": 1}
    for level in range(depth - 1, 0, -1):
        value = {f"l{level}": value}
    return value


def as_body(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


TWIN_CASES: dict[str, tuple[bytes, dict[str, str], str]] = {
    # case: (body, extra headers, expected iothub-errorcode)
    "malformed JSON": (b'{"tags": {"floor": 3', {}, "IotHubFormatError"),
    "not UTF-8": (b'{"tags": {"floor": "\xff\xfe"}}', {}, "IotHubFormatError"),
    "JSON array, not an object": (as_body([{"tags": {}}]), {}, "IotHubFormatError"),
    "empty body": (b"", {}, "ArgumentNull"),
    "desired over 32 KB": (as_body({"properties": {"desired": {f"k{i}": "x" * 4000 for i in range(9)}}}), {},
                           "ArgumentInvalid"),
    "string value over 4 KB": (as_body({"properties": {"desired": {"big": "x" * 5000}}}), {}, "ArgumentInvalid"),
    "desired nested 11 deep": (as_body({"properties": {"desired": nested(11)}}), {}, "ArgumentInvalid"),
    "tags nested 11 deep": (as_body({"tags": nested(11)}), {}, "ArgumentInvalid"),
    "key with '$'": (as_body({"tags": {"$bad": 1}}), {}, "ArgumentInvalid"),
    "key with '.'": (as_body({"properties": {"desired": {"a.b": 1}}}), {}, "ArgumentInvalid"),
    "good tags + oversize desired": (as_body({"tags": {"floor": 99},
                                              "properties": {"desired": {"big": "x" * 5000}}}), {}, "ArgumentInvalid"),
    "desired not an object": (as_body({"properties": {"desired": 5}}), {}, "ArgumentInvalid"),
    "wrong content type": (as_body({"tags": {"floor": 42}}), {"Content-Type": "text/plain"}, "IotHubFormatError"),
}


@pytest.fixture(scope="module")
def device(hub: HubHttp) -> Iterator[str]:
    device_id = f"bad-input-{uuid.uuid4().hex[:8]}"
    assert hub.call("PUT", f"/devices/{device_id}", {"deviceId": device_id}).status_code == 200
    patch = {"tags": {"floor": 3}, "properties": {"desired": {"setpoint": 21}}}
    assert hub.call("PATCH", f"/twins/{device_id}", patch).status_code == 200
    yield device_id
    hub.call("DELETE", f"/devices/{device_id}", headers={"If-Match": "*"})


@pytest.fixture(scope="module", autouse=True)
def bad_input_table() -> Iterator[None]:
    yield
    if ROWS:
        for line in table(ROWS, ("case", "status", "iothub-errorcode", "stored state")):
            report(SECTION, line)
        report(SECTION, f"cases tried: {len(ROWS)}; answered 400 with the envelope: "
                        f"{sum(row[1] == '400' for row in ROWS)}; stored state changed: "
                        f"{sum(row[3] != 'unchanged' for row in ROWS)}")


def snapshot(hub: HubHttp, device_id: str) -> dict[str, Any]:
    return {
        "twin": hub.call("GET", f"/twins/{device_id}").json(),
        "device": hub.call("GET", f"/devices/{device_id}").json(),
        "devices": hub.call("GET", "/statistics/devices").json()["totalDeviceCount"],
    }


def send_raw(hub: HubHttp, method: str, path: str, body: bytes, headers: dict[str, str],
             api_version: str | None = "2021-04-12") -> requests.Response:
    sent = {"Authorization": hub.sas(), "Content-Type": "application/json; charset=utf-8", **headers}
    params = {"api-version": api_version} if api_version else {}
    return hub.session.request(method, f"https://{hub.conn.hub_host}{path}", params=params, data=body,
                               headers=sent, timeout=30)


def assert_refused(case: str, response: requests.Response, code: str | None, before: dict, after: dict) -> None:
    unchanged = before == after
    ROWS.append((case, str(response.status_code), error_code(response), "unchanged" if unchanged else "CHANGED"))
    assert response.status_code == 400, response.text
    if code:
        assert error_code(response) == code, response.text
    body = response.json()
    assert body["Message"].startswith(f"ErrorCode:{error_code(response)};"), body
    assert body["ExceptionMessage"].startswith("Tracking ID:"), body
    assert unchanged, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


@pytest.mark.parametrize("case", list(TWIN_CASES))
def test_bad_twin_update_is_refused_and_changes_nothing(hub, device, case):
    body, headers, code = TWIN_CASES[case]
    before = snapshot(hub, device)
    for method in ("PATCH", "PUT"):
        response = send_raw(hub, method, f"/twins/{device}", body, headers)
        assert_refused(f"{method} twin: {case}", response, code, before, snapshot(hub, device))


@pytest.mark.parametrize("api_version", [None, "2099-01-01", "2021-04-12x"])
def test_unknown_api_version_is_refused_and_changes_nothing(hub, device, api_version):
    before = snapshot(hub, device)
    response = send_raw(hub, "PATCH", f"/twins/{device}", as_body({"tags": {"floor": 7}}), {},
                        api_version=api_version)
    assert_refused(f"api-version {api_version or 'missing'}", response, "InvalidProtocolVersion", before,
                   snapshot(hub, device))


@pytest.mark.parametrize("device_id", ["has space", "x" * 129, "caf\u00e9", "braces{inside}", "tab\tinside"])
def test_invalid_device_id_is_refused_and_not_stored(hub, device, device_id):
    before = snapshot(hub, device)
    path = "/devices/" + requests.utils.quote(device_id, safe="")
    response = send_raw(hub, "PUT", path, as_body({"deviceId": device_id}), {})
    assert_refused(f"device id {device_id[:20]!r}", response, "ArgumentInvalid", before, snapshot(hub, device))
    assert hub.call("GET", path).status_code == 404


@pytest.mark.parametrize("query", ["SELEC * FROM devices", "SELECT * FROM devices WHERE", "SELECT * FROM nowhere",
                                   "SELECT * FROM devices WHERE tags.floor = 'unterminated", 5, ""])
def test_invalid_query_is_refused(hub, device, query):
    before = snapshot(hub, device)
    response = send_raw(hub, "POST", "/devices/query", as_body({"query": query}), {})
    assert_refused(f"query {str(query)[:28]!r}", response, None, before, snapshot(hub, device))
