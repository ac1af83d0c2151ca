"""Cloud-to-device messages end to end (kit/sandbox/hub/devices/c2d.py, routes_messages.py, and amqp.py behind them).

The real SDK sends over AMQP (uamqp, port 5671) with an Entra ID token or a connection string; feedback and purge go
over HTTPS. ``receive_feedback_notification`` returns None in the SDK, so the feedback body and its lock token are
read with a plain HTTPS request carrying the same kind of token.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.iot.hub import IoTHubHttpRuntimeManager, IoTHubRegistryManager
from msrest.exceptions import HttpOperationError
from uamqp.errors import LinkDetach, TokenAuthFailure

from kit import clients
from kit.sandbox.connection import Connection
from tests.sandbox.hub.conftest import HubHttp, credential_for, enabled_device, error_code

ONLINE_DEVICE = "thermostat-a-1"  # a seeded thermostat: the simulator keeps it connected
FEEDBACK = "/messages/serviceBound/feedback"


needs_amqp = pytest.mark.usefixtures("amqp_ready")


@pytest.fixture(scope="module")
def runtime(sandbox: Connection, contributor_credential) -> IoTHubHttpRuntimeManager:
    return IoTHubHttpRuntimeManager.from_token_credential(sandbox.hub_host, contributor_credential)


@pytest.fixture
def offline_device(token_registry: IoTHubRegistryManager, new_id: Callable[[str], str]) -> Iterator[str]:
    """A device no client connects as: its messages stay queued."""
    yield from enabled_device(token_registry, new_id("c2d"))


def drain_feedback(hub: HubHttp) -> list[dict[str, Any]]:
    """Receive and complete every pending feedback batch; return their records."""
    records: list[dict[str, Any]] = []
    while (reply := hub.call("GET", FEEDBACK, authorization="bearer")).status_code == 200:
        records += reply.json()
        assert hub.call("DELETE", f"{FEEDBACK}/{reply.headers['ETag'].strip(chr(34))}",
                        authorization="bearer").status_code == 204
    assert reply.status_code == 204, reply.text
    return records


def wait_for_feedback(hub: HubHttp, message_ids: set[str], timeout: float = 10.0) -> tuple[Any, dict[str, dict]]:
    """Poll until one feedback batch holds records for all ``message_ids``; return the reply and those records."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = hub.call("GET", FEEDBACK, authorization="bearer")
        if reply.status_code == 200:
            found = {r["originalMessageId"]: r for r in reply.json() if r["originalMessageId"] in message_ids}
            if set(found) == message_ids:
                return reply, found
            hub.call("POST", f"{FEEDBACK}/{reply.headers['ETag'].strip(chr(34))}/abandon", authorization="bearer")
        time.sleep(0.2)
    raise AssertionError(f"no feedback for {message_ids} within {timeout} s")


def purge(hub: HubHttp, device_id: str, authorization: str = "bearer") -> Any:
    return hub.call("DELETE", f"/devices/{device_id}/commands", authorization=authorization)


def refusal_log(caplog: pytest.LogCaptureFixture) -> str:
    """uamqp logs the hub's refusal (condition and description) before the SDK raises its generic exception."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("uamqp"))


@needs_amqp
def test_send_with_entra_token_is_completed_and_full_ack_gives_feedback(
        token_registry: IoTHubRegistryManager, runtime: IoTHubHttpRuntimeManager, hub: HubHttp) -> None:
    drain_feedback(hub)
    token_registry.send_c2d_message(ONLINE_DEVICE, "hello", {"iothub-ack": "full", "messageId": "m-full-1"})
    reply, found = wait_for_feedback(hub, {"m-full-1"})
    record = found["m-full-1"]
    assert record["statusCode"] == "Success" and record["description"] == "Success"
    assert record["deviceId"] == ONLINE_DEVICE
    assert record["deviceGenerationId"] == token_registry.get_device(ONLINE_DEVICE).generation_id
    assert record["enqueuedTimeUtc"].endswith("Z")
    assert set(record) == {"originalMessageId", "description", "deviceGenerationId", "deviceId",
                           "enqueuedTimeUtc", "statusCode"}
    lock = reply.headers["ETag"].strip('"')

    # The SDK's own calls: abandon hands the batch out again, complete removes it, a second complete finds no lock.
    assert runtime.abandon_feedback_notification(lock) is None
    again, _ = wait_for_feedback(hub, {"m-full-1"})
    assert again.headers["iothub-deliverycount"] == "2"
    assert runtime.complete_feedback_notification(again.headers["ETag"].strip('"')) is None
    with pytest.raises(HttpOperationError) as lost:
        runtime.complete_feedback_notification(again.headers["ETag"].strip('"'))
    assert lost.value.response.status_code == 412
    assert error_code(lost.value.response) == "DeviceMessageLockLost"
    assert runtime.receive_feedback_notification() is None  # 204 now; the SDK returns None for 200 and 204 alike
    assert hub.call("GET", FEEDBACK, authorization="bearer").status_code == 204


@needs_amqp
def test_send_with_connection_string_and_positive_ack(sas_registry: IoTHubRegistryManager, hub: HubHttp) -> None:
    sas_registry.send_c2d_message(ONLINE_DEVICE, b"\x00\x01binary", {"iothub-ack": "positive",
                                                                   "messageId": "m-sas-1"})
    sas_registry.send_c2d_message(ONLINE_DEVICE, "no feedback wanted", {"messageId": "m-sas-2"})
    reply, found = wait_for_feedback(hub, {"m-sas-1"})
    assert found["m-sas-1"]["statusCode"] == "Success"
    assert "m-sas-2" not in {r["originalMessageId"] for r in reply.json()}
    drain_feedback(hub)


@needs_amqp
def test_queue_depth_purge_and_the_device_count(token_registry: IoTHubRegistryManager, hub: HubHttp,
                                                offline_device: str, caplog: pytest.LogCaptureFixture) -> None:
    for number in range(50):
        token_registry.send_c2d_message(offline_device, f"message {number}", {"iothub-ack": "negative"})
    assert token_registry.get_device(offline_device).cloud_to_device_message_count == 50

    caplog.set_level(logging.INFO, logger="uamqp")
    with pytest.raises(Exception, match="C2D message send failure"):
        token_registry.send_c2d_message(offline_device, "one too many")
    refusal = refusal_log(caplog)
    assert "ResourceLimitExceeded" in refusal and "DeviceMaximumQueueDepthExceeded" in refusal
    assert "403004" in refusal

    # The protocol operation the SDK has for purge, and the same call over HTTPS for the JSON body.
    result = token_registry.protocol.cloud_to_device_messages.purge_cloud_to_device_message_queue(offline_device)
    assert result.total_messages_purged == 50 and result.device_id == offline_device
    empty = purge(hub, offline_device)
    assert empty.status_code == 200
    assert empty.json() == {"totalMessagesPurged": 0, "deviceId": offline_device, "moduleId": None}
    assert token_registry.get_device(offline_device).cloud_to_device_message_count == 0

    records = drain_feedback(hub)  # negative ack: every purged message is reported as Purged
    purged = [r for r in records if r["deviceId"] == offline_device]
    assert len(purged) == 50 and {r["statusCode"] for r in purged} == {"Purged"}

    token_registry.send_c2d_message(offline_device, "room again")
    assert token_registry.get_device(offline_device).cloud_to_device_message_count == 1


@needs_amqp
def test_unexpired_message_waits_and_an_expired_one_is_dead_lettered(
        token_registry: IoTHubRegistryManager, hub: HubHttp, offline_device: str) -> None:
    expiry_ms = int((time.time() + 0.5) * 1000)
    token_registry.send_c2d_message(offline_device, "short-lived", {
        "iothub-ack": "negative", "messageId": "m-expiring", "expiryTimeUtc": expiry_ms})
    _, found = wait_for_feedback(hub, {"m-expiring"})
    assert found["m-expiring"]["statusCode"] == "Expired"
    assert found["m-expiring"]["description"] == "Message expired"
    assert token_registry.get_device(offline_device).cloud_to_device_message_count == 0
    drain_feedback(hub)


@needs_amqp
@pytest.mark.parametrize(("device", "body", "condition", "code"), [
    ("no-such-device", "hello", "NotFound", "DeviceNotFound"),
    (ONLINE_DEVICE, "x" * (65 * 1024), "LinkMessageSizeExceeded", "MessageTooLarge"),
])
def test_refused_messages_raise_in_the_sdk(token_registry: IoTHubRegistryManager, caplog: pytest.LogCaptureFixture,
                                           device: str, body: str, condition: str, code: str) -> None:
    caplog.set_level(logging.INFO, logger="uamqp")
    with pytest.raises(Exception, match="C2D message send failure"):
        token_registry.send_c2d_message(device, body)
    refusal = refusal_log(caplog)
    assert condition in refusal and code in refusal
    token_registry.send_c2d_message(ONLINE_DEVICE, "the connection is still usable")


@needs_amqp
def test_bad_ack_value_is_refused(token_registry: IoTHubRegistryManager, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uamqp")
    with pytest.raises(Exception, match="C2D message send failure"):
        token_registry.send_c2d_message(ONLINE_DEVICE, "hello", {"iothub-ack": "always"})
    assert "iothub-ack" in refusal_log(caplog)


@needs_amqp
def test_principal_without_the_send_action_is_refused_at_the_link(
        sandbox: Connection, role_app: Callable[[str | None], dict[str, str]], hub: HubHttp,
        offline_device: str) -> None:
    reader = role_app("IoT Hub Data Reader")
    credential = credential_for(sandbox, reader["client_id"], reader["client_secret"])
    with (clients.closing(IoTHubRegistryManager.from_token_credential(sandbox.hub_host, credential)) as rm,
          pytest.raises(LinkDetach) as refused):
        rm.send_c2d_message(offline_device, "not allowed")
    text = str(refused.value)
    assert "UnauthorizedAccess" in text and "IotHubUnauthorized" in text
    assert f"Principal {reader['object_id']} is not authorized for POST on /messages/devicebound" in text

    bearer = "Bearer " + credential.get_token("https://iothubs.azure.net/.default").token
    for reply in (hub.call("GET", FEEDBACK, authorization=bearer), purge(hub, offline_device, bearer)):
        assert reply.status_code == 401 and error_code(reply) == "IotHubUnauthorized"
    assert purge(hub, offline_device).status_code == 200  # the same call with a policy that may


@needs_amqp
def test_sas_put_token_is_refused_when_local_auth_is_disabled(sandbox: Connection,
                                                             token_registry: IoTHubRegistryManager) -> None:
    def local_auth(action: str) -> None:
        subprocess.run([sys.executable, "-m", "kit.sandbox", "local-auth", action, "--state-dir", sandbox.state_dir],
                       check=True, capture_output=True)

    local_auth("disable")
    try:
        with (pytest.raises(TokenAuthFailure) as refused,
              clients.closing(IoTHubRegistryManager.from_connection_string(sandbox.hub_connection_string)) as rm):
            rm.send_c2d_message(ONLINE_DEVICE, "over SAS")
        assert refused.value.status_code == 401
        token_registry.send_c2d_message(ONLINE_DEVICE, "Entra ID still works")
    finally:
        local_auth("enable")


def test_feedback_lock_tokens_that_hold_nothing(hub: HubHttp) -> None:
    drain_feedback(hub)
    unknown = "3f0c8f0e-0000-4000-8000-000000000000"
    for method, path in (("DELETE", f"{FEEDBACK}/{unknown}"), ("POST", f"{FEEDBACK}/{unknown}/abandon")):
        reply = hub.call(method, path, authorization="bearer")
        assert reply.status_code == 412 and error_code(reply) == "DeviceMessageLockLost"
        assert json.loads(reply.text)["Message"].startswith("ErrorCode:DeviceMessageLockLost;")


def test_purge_of_an_unknown_device(hub: HubHttp) -> None:
    reply = purge(hub, "no-such-device")
    assert reply.status_code == 404 and error_code(reply) == "DeviceNotFound"
