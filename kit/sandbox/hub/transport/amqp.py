"""The hub's AMQP endpoint on port 5671: TLS, the SASL step, one proton engine per connection, and CBS tokens.

``IoTHubRegistryManager.send_c2d_message`` goes through uamqp, which always dials port 5671 of the hub's host name and
asks for the SASL mechanism ``MSSBCBS`` (the token follows later, over CBS). proton's own SASL layer cannot offer that
mechanism, so this module answers the few SASL frames itself and then hands the byte stream to a ``proton.Transport``
in server mode, pumped by hand over an ssl-wrapped socket. Each connection runs in its own thread.

CBS (claims-based security): the client sends ``put-token`` requests on the ``$cbs`` link (an Entra ``Bearer <jwt>``
or a ``SharedAccessSignature``), again whenever its token is refreshed, and reads replies whose ``status-code`` must
be an AMQP int32: uamqp silently ignores a reply whose code is encoded as a long.
"""

from __future__ import annotations

import base64
import json
import logging
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proton import (
    Collector,
    Condition,
    Connection,
    Data,
    DataException,
    Delivery,
    Endpoint,
    Event,
    Link,
    Message,
    MessageException,
    Transport,
    int32,
    symbol,
)

from kit.sandbox.hub.transport.errors import HubError

if TYPE_CHECKING:
    from kit.sandbox.hub.context import HubContext

log = logging.getLogger("kit.sandbox.hub.transport.amqp")

AMQP_PORT = 5671
SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_MECHANISMS = ("MSSBCBS", "ANONYMOUS")
CBS_ADDRESS = "$cbs"
DEVICEBOUND_PATH = "/messages/devicebound"
LINK_CREDIT = 100
HANDSHAKE_TIMEOUT_S = 10.0
POLL_S = 0.25

# How a refused delivery or link is reported. These conditions are the ones uamqp does not retry, so a refused
# message fails at once instead of being re-sent three times (the hub's own mapping, as the service SDKs read it:
# queue depth -> resource-limit-exceeded, unknown device -> not-found).
CONDITIONS = {
    400: "amqp:invalid-field",
    401: "amqp:unauthorized-access",
    403: "amqp:resource-limit-exceeded",
    404: "amqp:not-found",
    413: "amqp:link:message-size-exceeded",
    429: "amqp:resource-limit-exceeded",  # throttled (UNCONFIRMED: the hub's own AMQP condition for a throttle)
}


@dataclass(frozen=True)
class Grant:
    """What an accepted CBS token allows, and until when."""

    principal: Any
    expires_at: float

    def expired(self, now: float | None = None) -> bool:
        """A CBS grant ends with its token: the link needs a new put-token, as on the real hub."""
        return (time.time() if now is None else now) >= self.expires_at


@dataclass(frozen=True)
class AmqpHandlers:
    """What the hub does with tokens and messages; the transport knows nothing else about the hub."""

    authenticate: Callable[[str, str], Grant]
    authorize_send: Callable[[Grant], None]
    deliver: Callable[[Grant, Message, int], None]


def condition_for(error: HubError) -> Condition:
    """The AMQP error for a hub error: a standard condition, the classic ``ErrorCode:<Name>;<text>`` description."""
    name = CONDITIONS.get(error.status, "amqp:internal-error")
    description = error.body()["Message"]
    info = {symbol("com.microsoft:tracking-id"): uuid.uuid4().hex}
    if error.number is not None:
        description += f" (error {error.number})"
        info[symbol("com.microsoft:error-code")] = int32(error.number)
    return Condition(name, description, info)


def token_expiry(token: str) -> float:
    """When a put-token value stops being valid: ``se=`` of a SAS token, ``exp`` of a JWT (checked elsewhere)."""
    value = token.strip()
    if value.lower().startswith("sharedaccesssignature "):
        fields_ = urllib.parse.parse_qs(value.split(" ", 1)[1])
        return float(fields_.get("se", ["0"])[0])
    if value.lower().startswith("bearer "):
        value = value.split(" ", 1)[1]
    try:
        payload = value.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError):
        return 0.0


class _Closed(Exception):
    """The peer went away or broke the protocol; the connection ends quietly."""


def _sasl_frame(descriptor: int, put_fields: Callable[[Data], None]) -> bytes:
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(descriptor)
    data.put_list()
    data.enter()
    put_fields(data)
    data.exit()
    data.exit()
    body = data.encode()
    return struct.pack(">IBBH", 8 + len(body), 2, 1, 0) + body


def _mechanisms_frame() -> bytes:
    def put(data: Data) -> None:
        data.put_array(False, Data.SYMBOL)
        data.enter()
        for name in SASL_MECHANISMS:
            data.put_symbol(symbol(name))
        data.exit()

    return _sasl_frame(0x40, put)


def _outcome_frame(code: int) -> bytes:
    return _sasl_frame(0x44, lambda data: data.put_ubyte(code))


def _address_path(address: str | None) -> str:
    """``amqps://localhost/messages/devicebound`` and ``/messages/devicebound`` name the same node."""
    if not address:
        return ""
    path = urllib.parse.urlsplit(address).path if "://" in address else address
    return "/" + path.strip("/").lower()


class AmqpConnection:
    """One client connection: TLS handshake, SASL, then the proton engine until either side closes."""

    def __init__(self, raw: socket.socket, tls: ssl.SSLContext, handlers: AmqpHandlers,
                 stopping: threading.Event) -> None:
        self._raw = raw
        self._tls = tls
        self._handlers = handlers
        self._stopping = stopping
        self._sock: ssl.SSLSocket | None = None
        self._inbox = bytearray()
        self._transport = Transport(Transport.SERVER)
        self._connection = Connection()
        self._collector = Collector()
        self._connection.collect(self._collector)
        self._transport.bind(self._connection)
        self._roles: dict[Link, str] = {}
        self._replies: list[Message] = []
        self.grant: Grant | None = None

    # -- byte plumbing ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve one client until it leaves; every failure ends only this connection."""
        try:
            self._raw.settimeout(HANDSHAKE_TIMEOUT_S)
            self._sock = self._tls.wrap_socket(self._raw, server_side=True)
            self._sasl()
            self._pump()
        except (_Closed, OSError, ValueError) as error:
            log.debug("AMQP connection ended: %s", error)
        except Exception:  # one broken connection must never take the listener down
            log.exception("AMQP connection failed")
        finally:
            try:
                (self._sock or self._raw).close()
            except OSError:
                pass

    def close(self) -> None:
        """Shut the socket down from another thread, which wakes a ``run`` blocked in a read."""
        try:
            (self._sock or self._raw).shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _recv(self) -> bytes:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            raise _Closed("peer closed the connection")
        while self._sock.pending():
            chunk += self._sock.recv(self._sock.pending())
        return chunk

    def _take(self, count: int) -> bytes:
        while len(self._inbox) < count:
            self._inbox += self._recv()
        taken = bytes(self._inbox[:count])
        del self._inbox[:count]
        return taken

    def _take_frame(self) -> tuple[int, bytes]:
        size, doff, frame_type, _channel = struct.unpack(">IBBH", self._take(8))
        if size < 8 or size > 65536:
            raise _Closed(f"bad SASL frame size {size}")
        rest = self._take(size - 8)
        return frame_type, rest[max(doff * 4 - 8, 0):]

    def _sasl(self) -> None:
        """Offer MSSBCBS and ANONYMOUS, accept the client's choice; the token comes later over CBS."""
        assert self._sock is not None
        header = self._take(8)
        if header == SASL_HEADER:
            self._sock.sendall(SASL_HEADER + _mechanisms_frame())
            frame_type, body = self._take_frame()
            data = Data()
            data.decode(body)
            init = data.get_object()
            mechanism = str(init.value[0]) if frame_type == 1 and init.descriptor == 0x41 and init.value else ""
            if mechanism not in SASL_MECHANISMS:
                self._sock.sendall(_outcome_frame(1))
                raise _Closed(f"unsupported SASL mechanism {mechanism!r}")
            self._sock.sendall(_outcome_frame(0))
            header = self._take(8)
        if header != AMQP_HEADER:
            self._sock.sendall(AMQP_HEADER)
            raise _Closed(f"not an AMQP 1.0 header: {header!r}")
        self._push(header + bytes(self._inbox))
        self._inbox.clear()

    def _push(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            capacity = self._transport.capacity()
            if capacity <= 0:
                raise _Closed("transport closed for input")
            self._transport.push(bytes(view[:capacity]))
            view = view[capacity:]
            self._dispatch()

    def _flush(self) -> None:
        assert self._sock is not None
        while (pending := self._transport.pending()) > 0:
            self._sock.sendall(self._transport.peek(pending))
            self._transport.pop(pending)

    def _pump(self) -> None:
        assert self._sock is not None
        while True:
            if self._stopping.is_set():
                self._say_goodbye()
                return
            self._dispatch()
            self._flush()
            if self._replies:
                # Put-token replies go out only once the request's disposition is on the wire: uamqp fails a reply
                # that arrives before it ("Did not receive send confirmation for pending operation").
                self._send_replies()
                self._flush()
            if self._transport.closed:
                return
            readable, _, _ = select.select([self._sock], [], [], POLL_S)
            if readable or self._sock.pending():
                try:
                    self._push(self._recv())
                except (_Closed, ConnectionError):
                    self._transport.close_tail()
                    self._dispatch()
                    self._flush_quietly()
                    return
                except TimeoutError:
                    continue

    def _say_goodbye(self) -> None:
        """Close the AMQP connection with a reason, so the client stops at once instead of timing out."""
        if self._connection.state & Endpoint.LOCAL_ACTIVE:
            self._connection.condition = Condition("amqp:connection:forced", "The sandbox is stopping.")
            self._connection.close()
        self._dispatch()
        self._flush_quietly()

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except OSError:
            pass

    # -- AMQP events -----------------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while (event := self._collector.peek()) is not None:
            self._on_event(event)
            self._collector.pop()

    def _on_event(self, event: Event) -> None:
        kind = event.type
        if kind == Event.CONNECTION_REMOTE_OPEN:
            event.connection.open()
        elif kind == Event.SESSION_REMOTE_OPEN:
            event.session.open()
        elif kind == Event.LINK_REMOTE_OPEN:
            self._attach(event.link)
        elif kind == Event.DELIVERY:
            self._on_delivery(event.delivery)
        elif kind in (Event.LINK_REMOTE_CLOSE, Event.LINK_REMOTE_DETACH):
            self._roles.pop(event.link, None)
            if not event.link.state & Endpoint.LOCAL_ACTIVE:
                return
            if kind == Event.LINK_REMOTE_CLOSE:
                event.link.close()
            else:
                event.link.detach()
        elif kind in (Event.SESSION_REMOTE_CLOSE, Event.CONNECTION_REMOTE_CLOSE):
            endpoint = event.session if kind == Event.SESSION_REMOTE_CLOSE else event.connection
            if endpoint.state & Endpoint.LOCAL_ACTIVE:
                endpoint.close()

    def _attach(self, link: Link) -> None:
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        address = link.remote_target.address if link.is_receiver else link.remote_source.address
        if address == CBS_ADDRESS:
            role = "cbs-requests" if link.is_receiver else "cbs-replies"
        elif link.is_receiver and _address_path(address) == DEVICEBOUND_PATH:
            role = "devicebound"
        else:
            self._refuse(link, HubError(404, "ArgumentInvalid", f"No AMQP node at '{address}'. The hub's "
                                        f"service side accepts '{CBS_ADDRESS}' and '{DEVICEBOUND_PATH}'."))
            return
        if role == "devicebound":
            try:
                self._authorize_send()
            except HubError as error:
                self._refuse(link, error)
                return
        self._roles[link] = role
        link.open()
        if link.is_receiver:
            link.flow(LINK_CREDIT)
        else:
            self._send_replies()

    def _refuse(self, link: Link, error: HubError) -> None:
        link.open()
        link.condition = condition_for(error)
        link.close()

    def _authorize_send(self) -> Grant:
        if self.grant is None:
            raise HubError(401, "IotHubUnauthorizedAccess",
                           "No token on this connection: put a token on the '$cbs' node first.")
        if self.grant.expired():
            raise HubError(401, "IotHubUnauthorizedAccess", "The token on this connection has expired.")
        self._handlers.authorize_send(self.grant)
        return self.grant

    def _on_delivery(self, delivery: Delivery) -> None:
        link = delivery.link
        if not link.is_receiver:
            if delivery.updated:
                delivery.settle()
            return
        if delivery.partial or not delivery.readable:
            return
        payload = link.recv(delivery.pending)
        link.advance()
        role = self._roles.get(link)
        message = Message()
        try:
            message.decode(payload)
        except (MessageException, DataException) as error:
            self._settle(delivery, HubError(400, "IotHubFormatError", f"Could not decode the AMQP message: {error}"))
            return
        if role == "cbs-requests":
            self._settle(delivery, None)
            self._on_put_token(message)
        elif role == "devicebound":
            try:
                self._handlers.deliver(self._authorize_send(), message, len(payload))
            except HubError as error:
                self._settle(delivery, error)
            else:
                self._settle(delivery, None)
        else:
            self._settle(delivery, HubError(404, "ArgumentInvalid", "This link is not open for messages."))
        if link.credit < LINK_CREDIT // 2:
            link.flow(LINK_CREDIT - link.credit)

    @staticmethod
    def _settle(delivery: Delivery, error: HubError | None) -> None:
        if error is None:
            delivery.update(Delivery.ACCEPTED)
        else:
            delivery.local.condition = condition_for(error)
            delivery.update(Delivery.REJECTED)
        delivery.settle()

    def _on_put_token(self, request: Message) -> None:
        properties = request.properties or {}
        operation = str(properties.get("operation", ""))
        token_type = str(properties.get("type", ""))
        body = request.body
        token = body.decode("utf-8", "replace") if isinstance(body, bytes | memoryview) else str(body or "")
        if operation != "put-token":
            status, description = 400, f"Unsupported CBS operation '{operation}': only put-token is supported."
        else:
            try:
                self.grant = self._handlers.authenticate(token_type, token)
                status, description = 200, "OK"
            except HubError as error:
                status, description = error.status, error.body()["Message"]
        log.info("CBS put-token (%s): %s", token_type or "no type", status)
        self._replies.append(Message(
            correlation_id=request.id,
            properties={"status-code": int32(status), "status-description": description},
        ))

    def _send_replies(self) -> None:
        senders = [link for link, role in self._roles.items() if role == "cbs-replies"]
        if not senders:
            return
        link = senders[0]
        while self._replies and link.credit > 0:
            reply = self._replies.pop(0)
            delivery = link.delivery(uuid.uuid4().bytes)
            link.send(reply.encode())
            link.advance()
            delivery.settle()


@dataclass
class AmqpListener:
    """Accepts connections on one port and runs each in a thread; ``stop`` ends them all."""

    tls: ssl.SSLContext
    handlers: AmqpHandlers
    host: str = "127.0.0.1"
    port: int = AMQP_PORT
    _socket: socket.socket | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _connections: set[AmqpConnection] = field(default_factory=set)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Bind now (raising OSError if the port is taken), then accept in a background thread."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        sock.settimeout(POLL_S)
        self._socket = sock
        self._spawn(self._accept_loop, "amqp-listener")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                raw, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection = AmqpConnection(raw, self.tls, self.handlers, self._stopping)
            with self._lock:
                self._connections.add(connection)
            self._spawn(lambda c=connection: self._serve(c), "amqp-connection")

    def _serve(self, connection: AmqpConnection) -> None:
        try:
            connection.run()
        finally:
            with self._lock:
                self._connections.discard(connection)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, give open connections ``timeout`` seconds to end, then cut the rest."""
        self._stopping.set()
        if self._socket is not None:
            self._socket.close()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        for connection in connections:  # any still stuck in a handshake
            connection.close()


def server_tls_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS 1.2 or later with the sandbox's server certificate, so AMQP clients trust it like the HTTPS port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def hub_handlers(ctx: HubContext) -> AmqpHandlers:
    """Tokens are checked like REST ``Authorization`` values; sending needs cloudToDeviceMessages/send/action."""
    from kit.sandbox.hub.devices import c2d
    from kit.sandbox.hub.limits import throttling
    from kit.sandbox.hub.security import auth
    from kit.sandbox.hub.security.permissions import permission_for

    permission = permission_for("AMQP", DEVICEBOUND_PATH)

    def authenticate(token_type: str, token: str) -> Grant:
        if token_type == "jwt" and " " not in token.strip():
            token = "Bearer " + token.strip()
        return Grant(auth.authenticate(ctx, token), token_expiry(token))

    def authorize_send(grant: Grant) -> None:
        auth.authorize_permission(ctx, grant.principal, permission, "POST", DEVICEBOUND_PATH)

    def deliver(grant: Grant, message: Message, size: int) -> None:
        throttling.admit_blocking(ctx, throttling.C2D_SENDS)  # cloud-to-device sends are throttled like REST calls
        c2d.enqueue(ctx, message, size)

    return AmqpHandlers(authenticate, authorize_send, deliver)


def setup(ctx: HubContext) -> dict[str, Any]:
    """Listen on port 5671 (the only port uamqp dials); if another process has it, run without cloud-to-device."""
    listener = AmqpListener(
        server_tls_context(str(ctx.tls.server_cert), str(ctx.tls.server_key)), hub_handlers(ctx),
        host=ctx.bind_host, port=AMQP_PORT,
    )
    try:
        listener.start()
    except OSError as error:
        note = (
            f"Cloud-to-device messages are unavailable: port {AMQP_PORT} on {ctx.bind_host} is taken "
            f"({error.strerror or error}), most likely by another sandbox. The IoT Hub SDK always sends them to port "
            f"{AMQP_PORT}; stop the other sandbox, then restart this one."
        )
        log.warning(note)
        return {"amqp_port": None, "amqp_note": note}
    ctx.on_stop.append(listener.stop)
    return {"amqp_port": AMQP_PORT, "amqp_note": ""}
