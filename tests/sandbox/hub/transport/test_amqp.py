"""The AMQP transport of the hub side (kit/sandbox/hub/transport/amqp.py).

A listener on a free port with recording handlers, driven by proton's own blocking client over TLS (uamqp, the
SDK's client, can only dial port 5671; the end-to-end SDK tests are in test_c2d.py). This covers what the SDK path
does not reach on demand: token refresh on an open connection, refused links, concurrent connections, stopping.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from proton import Message, SSLDomain, int32, ulong
from proton.utils import BlockingConnection, LinkDetached, SendException

from kit.sandbox.hub.transport import amqp
from kit.sandbox.hub.transport.amqp import AmqpHandlers, AmqpListener, Grant, server_tls_context
from kit.sandbox.hub.transport.errors import HubError
from kit.sandbox.tls import TlsFiles, ensure_tls

GOOD = "Bearer good"


class Recorder:
    """Accepts the token ``Bearer good`` (or ``Bearer good-2``), refuses the rest; records delivered messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[Grant, Message, int]] = []
        self.may_send = True
        self.refuse_with: HubError | None = None

    def authenticate(self, token_type: str, token: str) -> Grant:
        if not token.startswith(GOOD):
            raise HubError(401, "IotHubUnauthorizedAccess", "The bearer token is not a JWT.")
        return Grant(token, time.time() + 60)

    def authorize_send(self, grant: Grant) -> None:
        if not self.may_send:
            raise HubError(401, "IotHubUnauthorized", "Principal p is not authorized for POST on "
                           "/messages/devicebound due to no assigned permissions")

    def deliver(self, grant: Grant, message: Message, size: int) -> None:
        if self.refuse_with is not None:
            raise self.refuse_with
        self.messages.append((grant, message, size))

    def handlers(self) -> AmqpHandlers:
        return AmqpHandlers(self.authenticate, self.authorize_send, self.deliver)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_tls(tmp_path_factory.mktemp("amqp-tls"))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def listener(tls: TlsFiles, recorder: Recorder) -> Iterator[AmqpListener]:
    server = AmqpListener(server_tls_context(str(tls.server_cert), str(tls.server_key)), recorder.handlers(),
                          port=free_port())
    server.start()
    yield server
    server.stop()


def connect(listener: AmqpListener, tls: TlsFiles) -> BlockingConnection:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(str(tls.ca_cert))
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    return BlockingConnection(f"amqps://localhost:{listener.port}", ssl_domain=domain, sasl_enabled=True,
                              allowed_mechs="ANONYMOUS", timeout=10)


class Cbs:
    """The client half of claims-based security: put-token requests and their replies."""

    def __init__(self, connection: BlockingConnection) -> None:
        self.replies = connection.create_receiver("$cbs")
        self.requests = connection.create_sender("$cbs")
        self.next_id = 0

    def put_token(self, token: str, token_type: str = "bearer") -> Message:
        request_id = ulong(self.next_id)
        self.next_id += 1
        self.requests.send(Message(id=request_id, body=token, properties={
            "operation": "put-token", "type": token_type, "name": "https://iothubs.azure.net/.default"}))
        reply = self.replies.receive(timeout=5)
        assert reply.correlation_id == request_id
        return reply


def devicebound(device_id: str = "dev-1", body: bytes = b"hello", **properties: str) -> Message:
    return Message(address=f"/devices/{device_id}/messages/devicebound", id="m-1", body=body, properties=properties)


def test_put_token_reply_has_int32_status_and_the_request_id(listener: AmqpListener, tls: TlsFiles) -> None:
    connection = connect(listener, tls)
    try:
        reply = Cbs(connection).put_token(GOOD)
        status = reply.properties["status-code"]
        assert status == 200 and isinstance(status, int32)
        assert reply.properties["status-description"] == "OK"
    finally:
        connection.close()


def test_bad_token_gets_401_with_the_hub_error(listener: AmqpListener, tls: TlsFiles) -> None:
    connection = connect(listener, tls)
    try:
        reply = Cbs(connection).put_token("Bearer forged")
        assert reply.properties["status-code"] == 401
        assert reply.properties["status-description"].startswith("ErrorCode:IotHubUnauthorizedAccess;")
    finally:
        connection.close()


def test_message_is_delivered_after_put_token_and_a_refreshed_token_replaces_the_first(
        listener: AmqpListener, tls: TlsFiles, recorder: Recorder) -> None:
    connection = connect(listener, tls)
    try:
        cbs = Cbs(connection)
        assert cbs.put_token(GOOD).properties["status-code"] == 200
        sender = connection.create_sender("amqps://localhost/messages/devicebound")
        sender.send(devicebound(body=b"first", **{"iothub-ack": "full"}))
        assert cbs.put_token(GOOD + "-2").properties["status-code"] == 200  # token refresh, same connection
        sender.send(devicebound(body=b"second"))
        sender.close()
    finally:
        connection.close()
    assert [m.body for _, m, _ in recorder.messages] == [b"first", b"second"]
    assert [g.principal for g, _, _ in recorder.messages] == [GOOD, GOOD + "-2"]
    first = recorder.messages[0][1]
    assert first.address == "/devices/dev-1/messages/devicebound"
    assert first.properties == {"iothub-ack": "full"}


def test_refused_delivery_carries_condition_and_hub_error(listener: AmqpListener, tls: TlsFiles,
                                                          recorder: Recorder) -> None:
    recorder.refuse_with = HubError(403, "DeviceMaximumQueueDepthExceeded",
                                    "Device Queue depth cannot exceed 50 messages")
    connection = connect(listener, tls)
    try:
        Cbs(connection).put_token(GOOD)
        sender = connection.create_sender("/messages/devicebound")
        with pytest.raises(SendException) as refused:
            sender.send(devicebound())
        # The link stays usable after a refused message.
        recorder.refuse_with = None
        sender.send(devicebound(body=b"next"))
    finally:
        connection.close()
    assert refused.value.state == refused.value.state.REJECTED
    assert [m.body for _, m, _ in recorder.messages] == [b"next"]


def test_refused_delivery_condition_on_the_wire(listener: AmqpListener, tls: TlsFiles,
                                                recorder: Recorder) -> None:
    """The rejection names a standard condition uamqp does not retry, and the hub's code in its description."""
    error = HubError(403, "DeviceMaximumQueueDepthExceeded", "Device Queue depth cannot exceed 50 messages")
    condition = amqp.condition_for(error)
    assert condition.name == "amqp:resource-limit-exceeded"
    assert condition.description.startswith("ErrorCode:DeviceMaximumQueueDepthExceeded;")
    assert "403004" in condition.description
    assert amqp.condition_for(HubError(404, "DeviceNotFound", "x")).name == "amqp:not-found"
    assert amqp.condition_for(HubError(413, "MessageTooLarge", "x")).name == "amqp:link:message-size-exceeded"


def test_devicebound_link_is_refused_without_a_token_or_the_send_action(
        listener: AmqpListener, tls: TlsFiles, recorder: Recorder) -> None:
    connection = connect(listener, tls)
    try:
        with pytest.raises(LinkDetached) as no_token:
            connection.create_sender("/messages/devicebound")
    finally:
        connection.close()
    assert "amqp:unauthorized-access" in str(no_token.value)
    assert "put a token" in str(no_token.value)

    recorder.may_send = False
    connection = connect(listener, tls)
    try:
        Cbs(connection).put_token(GOOD)
        with pytest.raises(LinkDetached) as no_role:
            connection.create_sender("/messages/devicebound")
    finally:
        connection.close()
    assert "IotHubUnauthorized" in str(no_role.value)


def test_unknown_node_is_refused_and_the_connection_survives(listener: AmqpListener, tls: TlsFiles,
                                                             recorder: Recorder) -> None:
    connection = connect(listener, tls)
    try:
        Cbs(connection).put_token(GOOD)
        with pytest.raises(LinkDetached) as refused:
            connection.create_sender("/messages/events")
        connection.create_sender("/messages/devicebound").send(devicebound(body=b"still fine"))
    finally:
        connection.close()
    assert "amqp:not-found" in str(refused.value)
    assert [m.body for _, m, _ in recorder.messages] == [b"still fine"]


def test_concurrent_connections(listener: AmqpListener, tls: TlsFiles, recorder: Recorder) -> None:
    def client(number: int) -> int:
        connection = connect(listener, tls)
        try:
            Cbs(connection).put_token(GOOD)
            sender = connection.create_sender("/messages/devicebound")
            for _ in range(5):
                sender.send(devicebound(device_id=f"dev-{number}"))
        finally:
            connection.close()
        return number

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(client, range(6), timeout=30)) == list(range(6))  # re-raises a client's error
    assert len(recorder.messages) == 30
    assert {m.address for _, m, _ in recorder.messages} == {f"/devices/dev-{n}/messages/devicebound" for n in range(6)}


def test_garbage_and_wrong_mechanism_do_not_harm_the_listener(listener: AmqpListener, tls: TlsFiles,
                                                              recorder: Recorder) -> None:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")  # not even TLS
    connection = connect(listener, tls)
    try:
        assert Cbs(connection).put_token(GOOD).properties["status-code"] == 200
    finally:
        connection.close()


def test_stop_ends_connections_and_frees_the_port(tls: TlsFiles, recorder: Recorder) -> None:
    port = free_port()
    server = AmqpListener(server_tls_context(str(tls.server_cert), str(tls.server_key)), recorder.handlers(),
                          port=port)
    server.start()
    connection = connect(server, tls)
    Cbs(connection).put_token(GOOD)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    again = AmqpListener(server_tls_context(str(tls.server_cert), str(tls.server_key)), recorder.handlers(),
                         port=port)
    again.start()
    again.stop()
    started = time.monotonic()
    connection.close()  # the server said goodbye with a close frame, so the client does not wait for a timeout
    assert time.monotonic() - started < 3


def test_setup_without_the_port_still_starts_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.sandbox.server import open_context

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        monkeypatch.setattr(amqp, "AMQP_PORT", holder.getsockname()[1])
        ctx = open_context(tmp_path, port=0)
        try:
            fields = amqp.setup(ctx)
        finally:
            ctx.db.close()
    assert fields["amqp_port"] is None
    assert "Cloud-to-device messages are unavailable" in fields["amqp_note"]
    assert "in use" in fields["amqp_note"].lower() or "taken" in fields["amqp_note"]
