"""A small MQTT 5 subscriber on asyncio: the part of the protocol Tulou's telemetry ingest needs, and nothing more.

Why not aiomqtt here, as for the broker commands: on this project's 2-core machine,
paho-mqtt (under aiomqtt) read each packet with three or four ``recv`` calls, built a
properties object for every MQTT 5 message, sent each PUBACK with a ``send`` of its
own, and aiomqtt ran one event-loop turn per packet; at QoS 1 with acknowledgements
after the commit, that capped telemetry near 2,000 messages/s. This reader parses
every complete packet a read brings in one pass, hands them on as one list, and
writes a whole batch's PUBACKs at once.

It speaks MQTT 5 (OASIS, 2019) as a client that subscribes at QoS 1 at most: CONNECT
with session expiry and receive maximum, SUBSCRIBE, UNSUBSCRIBE, PUBLISH in, PUBACK
out, PINGREQ, DISCONNECT. It never publishes, nor asks for topic aliases.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable
from typing import NamedTuple

CONNACK, PUBLISH, SUBACK, UNSUBACK, PINGRESP, DISCONNECT = 2, 3, 9, 11, 13, 14
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
REFUSED = 0x80  # reason codes from here on are failures


class Publication(NamedTuple):
    """A message the broker delivered: ``packet_id`` 0 for QoS 0."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int


class MqttError(Exception):
    """The broker refused us, broke the protocol, or the connection is gone."""


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (128 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_packet(client_id: str, username: str | None, password: str | None, *, clean_start: bool,
                   keepalive: int, session_expiry: int, receive_maximum: int) -> bytes:
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0) | (0x02 if clean_start else 0)
    properties = b"\x11" + session_expiry.to_bytes(4, "big") + b"\x21" + receive_maximum.to_bytes(2, "big")
    variable = _text("MQTT") + bytes([5, flags]) + keepalive.to_bytes(2, "big") + varint(len(properties)) + properties
    payload = _text(client_id) + (_text(username) if username is not None else b"") + \
        (_text(password) if password is not None else b"")
    return _packet(0x10, variable + payload)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int) -> bytes:
    return _packet(0x82, packet_id.to_bytes(2, "big") + b"\x00" + _text(topic_filter) + bytes([qos]))


def unsubscribe_packet(packet_id: int, topic_filter: str) -> bytes:
    return _packet(0xA2, packet_id.to_bytes(2, "big") + b"\x00" + _text(topic_filter))


def pubacks(packet_ids: Iterable[int]) -> bytes:
    return b"".join(b"\x40\x02" + packet_id.to_bytes(2, "big") for packet_id in packet_ids)


def _varint_at(data: bytes | bytearray, position: int, size: int) -> tuple[int, int] | None:
    """The variable byte integer at ``position`` and the position after it; None if ``size`` bytes end first."""
    value, shift = 0, 0
    while position < size:
        byte = data[position]
        value |= (byte & 127) << shift
        position += 1
        if not byte & 128:
            return value, position
        shift += 7
        if shift > 21:
            raise MqttError("malformed variable byte integer")
    return None


def _varint(data: bytes | bytearray, position: int, end: int) -> tuple[int, int]:
    """As :func:`_varint_at`, inside a packet that ends at ``end``: a cut integer is malformed."""
    found = _varint_at(data, position, end)
    if found is None:
        raise MqttError("malformed packet: a length runs past its end")
    return found


class SubscriberProtocol(asyncio.Protocol):
    """Splits the byte stream into packets; publications go to ``on_publications``, one list per read."""

    def __init__(self, on_publications: Callable[[list[Publication]], None]) -> None:
        self._on_publications = on_publications
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.connack: asyncio.Future[bytes] = loop.create_future()
        self.answers: dict[int, asyncio.Future[bytes]] = {}
        self.heard = loop.time()
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, error: Exception | None) -> None:
        self._fail(MqttError(f"connection lost: {error}" if error else "connection closed"))

    def _fail(self, error: MqttError) -> None:
        for future in (self.closed, self.connack, *self.answers.values()):
            if not future.done():
                future.set_exception(error)
        self.closed.exception()  # retrieved: closing is reported by whoever awaits it
        if self._transport is not None:
            self._transport.close()

    def pause(self, paused: bool) -> None:
        """Stop reading (TCP then holds the broker back) or read again."""
        if self._transport is not None and not self._transport.is_closing() and paused != self.paused:
            self.paused = paused
            (self._transport.pause_reading if paused else self._transport.resume_reading)()
            self.heard = asyncio.get_running_loop().time()

    def send(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise MqttError("not connected")
        self._transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.heard = asyncio.get_running_loop().time()
        buffer = self._buffer
        buffer += data
        publications: list[Publication] = []
        position, size = 0, len(buffer)
        try:
            while size - position >= 2:
                first = buffer[position]
                if buffer[position + 1] < 128:  # the usual one-byte length
                    length, start = buffer[position + 1], position + 2
                else:
                    found = _varint_at(buffer, position + 1, size)
                    if found is None:
                        break  # the length itself is not complete yet
                    length, start = found
                end = start + length
                if end > size:
                    break
                if first >> 4 == PUBLISH:
                    publications.append(self._publication(first, buffer, start, end))
                else:
                    self._control(first >> 4, bytes(buffer[start:end]))
                position = end
        except (MqttError, IndexError, UnicodeDecodeError) as error:
            self._fail(error if isinstance(error, MqttError) else MqttError(f"malformed packet: {error}"))
            return
        del buffer[:position]
        if publications:
            self._on_publications(publications)

    @staticmethod
    def _publication(first: int, buffer: bytearray, start: int, end: int) -> Publication:
        qos = (first >> 1) & 3
        if qos > 1:
            raise MqttError("QoS 2 delivered to a QoS 1 subscription")
        topic_end = start + 2 + int.from_bytes(buffer[start:start + 2], "big")
        topic = buffer[start + 2:topic_end].decode()
        packet_id = 0
        if qos:
            packet_id = int.from_bytes(buffer[topic_end:topic_end + 2], "big")
            topic_end += 2
        skip, body = _varint(buffer, topic_end, end)
        return Publication(topic, bytes(buffer[body + skip:end]), qos, packet_id)

    def _control(self, kind: int, body: bytes) -> None:
        if kind == CONNACK:
            if not self.connack.done():
                self.connack.set_result(body)
        elif kind in (SUBACK, UNSUBACK):
            waiting = self.answers.pop(int.from_bytes(body[:2], "big"), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(body[2:])
        elif kind == DISCONNECT:
            reason = body[0] if body else 0
            self._fail(MqttError(f"the broker disconnected us (reason 0x{reason:02x})"))
        elif kind != PINGRESP:
            self._fail(MqttError(f"unexpected packet type {kind}"))


def _reason_codes(answer: bytes) -> bytes:
    """The reason codes of a SUBACK or UNSUBACK after its packet id: past the properties."""
    length, start = _varint(answer, 0, len(answer))
    return answer[start + length:]


class Subscriber:
    """One connection to the broker, subscribing and acknowledging; :meth:`closed` ends with the connection."""

    def __init__(self, protocol: SubscriberProtocol, keepalive: int) -> None:
        self.protocol = protocol
        self._next_id = 0
        self._pinger = asyncio.create_task(self._ping(keepalive))

    @classmethod
    async def connect(cls, host: str, port: int, on_publications: Callable[[list[Publication]], None], *,
                      client_id: str, username: str | None, password: str | None, tls: ssl.SSLContext | None,
                      clean_start: bool, session_expiry: int, receive_maximum: int, keepalive: int = 30,
                      timeout: float = 10.0) -> Subscriber:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _transport, protocol = await loop.create_connection(
                    lambda: SubscriberProtocol(on_publications), host, port, ssl=tls)
                protocol.send(connect_packet(client_id, username, password, clean_start=clean_start,
                                             keepalive=keepalive, session_expiry=session_expiry,
                                             receive_maximum=receive_maximum))
                answer = await protocol.connack
        except (OSError, TimeoutError) as error:
            raise MqttError(f"cannot connect to {host}:{port}: {error}") from None
        if len(answer) < 2 or answer[1] >= REFUSED:
            protocol._fail(MqttError("refused"))
            raise MqttError(f"the broker refused the connection (reason 0x{answer[1] if len(answer) > 1 else 0:02x})")
        return cls(protocol, keepalive)

    async def _ping(self, keepalive: int) -> None:
        """PINGREQ when quiet; a connection silent for a whole keep-alive is taken as dead."""
        loop = asyncio.get_running_loop()
        while not self.protocol.closed.done():
            await asyncio.sleep(keepalive / 2)
            if not self.protocol.paused and loop.time() - self.protocol.heard > keepalive * 1.5:
                self.protocol._fail(MqttError("the broker stopped answering"))
                return
            with contextlib.suppress(MqttError):
                self.protocol.send(PINGREQ_PACKET)

    async def _request(self, make: Callable[[int], bytes], timeout: float = 10.0) -> bytes:
        self._next_id = self._next_id % 65535 + 1
        answer = asyncio.get_running_loop().create_future()
        self.protocol.answers[self._next_id] = answer
        self.protocol.send(make(self._next_id))
        try:
            async with asyncio.timeout(timeout):
                return _reason_codes(await answer)
        except TimeoutError:
            raise MqttError("the broker did not answer") from None

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        codes = await self._request(lambda packet_id: subscribe_packet(packet_id, topic_filter, qos))
        if not codes or codes[0] >= REFUSED:
            raise MqttError(f"subscription to {topic_filter} refused (reason 0x{codes[0] if codes else 0:02x})")

    async def unsubscribe(self, topic_filter: str) -> None:
        await self._request(lambda packet_id: unsubscribe_packet(packet_id, topic_filter))

    def acknowledge(self, packet_ids: list[int]) -> None:
        """PUBACK each packet, in one write; nothing if the connection is gone (the broker sends them again)."""
        with contextlib.suppress(MqttError):
            self.protocol.send(pubacks(packet_ids))

    async def closed(self) -> None:
        """Returns (raising :class:`MqttError`) when the connection ends."""
        await asyncio.shield(self.protocol.closed)

    async def disconnect(self) -> None:
        """A normal DISCONNECT: the broker keeps the session for its expiry interval."""
        self._pinger.cancel()
        with contextlib.suppress(MqttError):
            self.protocol.send(DISCONNECT_PACKET)
        self.protocol._fail(MqttError("disconnected"))
        with contextlib.suppress(asyncio.CancelledError):
            await self._pinger
