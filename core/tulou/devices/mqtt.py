"""Telemetry over MQTT: each server process reads its share of the devices' messages and stores them durably.

Acknowledgement: Tulou subscribes at QoS 1 and sends each PUBACK only after the
message's readings are committed (and its refusals recorded), in the order the
messages came (MQTT asks for that). A process that dies leaves its unacknowledged
messages with the broker, which sends them again when the session is resumed.
Duplicates after a crash are possible; losses are not.

Sessions: the broker keeps a session (its queue included) per client id for
``session_expiry_seconds``, and goes on routing a share of the messages to a
session whose process died. So each process takes the lowest free *slot* of its
host (a file lock in the data directory, released by the kernel when the process
dies) and uses ``<prefix>-<slot>`` as client id: a process restarted in its place
resumes the dead one's session. A process stopping cleanly unsubscribes first and
acknowledges what it holds, leaving an empty session behind.

Flow: at most about ``receive_maximum`` messages are held unacknowledged. The broker
is asked for that limit, and as Mosquitto 2.0.11 overshoots it once acknowledgements
flow (its issue 2301), the ingest also stops reading the socket past it, leaving the
rest to TCP and the broker's queue. Held messages are checked and written in batches
of up to ``max_batch``, a few batches at once, so the writer's group commit gathers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import asyncpg
from tortoise.exceptions import BaseORMException

from tulou.devices.broker import SHARED_TELEMETRY, broker_address, session_prefix
from tulou.devices.device_errors import record_refusals
from tulou.devices.mqtt_readings import MessageChecker, Outcome
from tulou.devices.mqtt_wire import MqttError, Publication, Subscriber
from tulou.devices.writer import TelemetryWriter
from tulou.errors import Unavailable
from tulou.i18n import current_locale
from tulou.plugins.manager import describe_error
from tulou.settings import MqttSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SLOTS = 256
BATCHES_AT_ONCE = 4
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DRAIN_SECONDS = 10.0


class ConnectionGone(Exception):
    """The connection a batch came on is closed: acknowledging it is no longer possible."""


#: What a later try may mend: the database or the network away for a while. Any other error in
#: checking a batch is a fault of a message (or of ours) that no retry mends.
TRANSIENT: tuple[type[BaseException], ...] = (
    BaseORMException, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError, Unavailable,
)
TRANSIENT_OR_GONE = (*TRANSIENT, ConnectionGone)


class SessionSlot:
    """The lowest slot of this host no live process holds, held until :meth:`release` or the process's death."""

    def __init__(self, directory: Path, prefix: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for number in range(MAX_SLOTS):
            handle = open(directory / f"slot-{number}.lock", "a")  # noqa: SIM115 - held for the process's life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._handle: IO[str] | None = handle
            self.client_id = f"{prefix}-{number}"
            return
        raise RuntimeError(f"all {MAX_SLOTS} MQTT session slots in {directory} are taken")

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class AckWindow:
    """PUBACKs sent in the order the messages came, each batch's once it is stored (MQTT 5, section 4.6)."""

    def __init__(self, send: Callable[[list[int]], Any]) -> None:
        self._send = send
        self._batches: deque[tuple[list[Publication], list[bool]]] = deque()
        self.closed = False

    def __len__(self) -> int:
        return len(self._batches)

    def hold(self, batch: list[Publication]) -> list[bool]:
        """Take a batch in arrival order; hand the ticket back to :meth:`release` once it is stored."""
        ticket = [False]
        self._batches.append((batch, ticket))
        return ticket

    def release(self, ticket: list[bool]) -> None:
        ticket[0] = True
        packet_ids: list[int] = []
        while self._batches and self._batches[0][1][0]:
            batch, _ticket = self._batches.popleft()
            packet_ids += [message.packet_id for message in batch if message.qos]
        if packet_ids and not self.closed:
            self._send(packet_ids)

    def close(self) -> None:
        """The connection is gone: what it held unacknowledged will come again."""
        self.closed = True


class MqttIngest:
    """One process's subscriber: connects, reconnects, and hands batches of messages to the writer."""

    def __init__(self, settings: MqttSettings, checker: MessageChecker, writer: TelemetryWriter,
                 data_dir: Path, locale: str) -> None:
        self.settings = settings
        self.locale = locale
        self.checker = checker
        self.writer = writer
        self.slot_dir = data_dir / "mqtt-sessions"
        self.connected = asyncio.Event()
        self._waiting: list[Publication] = []
        self._held = 0
        self._subscriber: Subscriber | None = None
        self._arrived = asyncio.Event()
        self._handling: set[asyncio.Task[None]] = set()
        self._room = asyncio.Semaphore(BATCHES_AT_ONCE)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slot: SessionSlot | None = None

    @property
    def client_id(self) -> str | None:
        return self._slot.client_id if self._slot else None

    def start(self) -> None:
        self._slot = SessionSlot(self.slot_dir, session_prefix(self.settings))
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="tulou-mqtt-ingest")

    async def stop(self) -> None:
        """Unsubscribe, store and acknowledge what is held, then disconnect, leaving the session empty."""
        if self._task is None:
            return
        self._stop.set()
        if not self.connected.is_set():  # connecting, or waiting to: nothing is held
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        for task in list(self._handling):  # still unstored after the drain: the broker keeps them
            task.cancel()
        await asyncio.gather(*self._handling, return_exceptions=True)
        if self._slot is not None:
            self._slot.release()

    async def _run(self) -> None:
        current_locale.set(self.locale)  # refusals are kept in the server's language: no one asked in another
        failures = 0
        while not self._stop.is_set():
            try:
                await self._session()
                failures = 0
            except MqttError as error:
                log.warning("MQTT connection to %s lost: %s", self.settings.url, describe_error(error))
            except Exception:  # noqa: BLE001 - a fault of ours must not end the ingest: log it, connect again
                log.exception("MQTT ingest failed; connecting again")
            if not self._stop.is_set():
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)

    async def _session(self) -> None:
        """One connection: subscribe, take batches until it drops or the ingest stops."""
        host, port, tls = broker_address(self.settings)
        password = self.settings.password.get_secret_value() if self.settings.password is not None else None
        subscriber = await Subscriber.connect(
            host, port, self._received, client_id=self.client_id or "", username=self.settings.username,
            password=password, tls=tls, clean_start=False, session_expiry=self.settings.session_expiry_seconds,
            receive_maximum=self.settings.receive_maximum)
        window = AckWindow(subscriber.acknowledge)
        self._subscriber, self._held = subscriber, 0
        try:
            await subscriber.subscribe(SHARED_TELEMETRY, qos=1)
            self.connected.set()
            await self._until_dropped_or_stopped(subscriber, window)
            if self._stop.is_set():
                await subscriber.unsubscribe(SHARED_TELEMETRY)
                await self._drain(window)
        finally:
            self.connected.clear()
            window.close()
            self._waiting.clear()  # unacknowledged: the broker sends them again
            self._subscriber = None
            await subscriber.disconnect()

    async def _until_dropped_or_stopped(self, subscriber: Subscriber, window: AckWindow) -> None:
        dropped = asyncio.ensure_future(subscriber.closed())
        stopped = asyncio.ensure_future(self._stop.wait())
        batches = asyncio.ensure_future(self._take_batches(window))
        try:
            await asyncio.wait({dropped, stopped, batches}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (dropped, stopped, batches):
                task.cancel()
            for task in (dropped, stopped, batches):
                with contextlib.suppress(asyncio.CancelledError, MqttError):
                    await task
        if dropped.done() and not dropped.cancelled() and dropped.exception() is not None:
            raise MqttError(str(dropped.exception()))

    async def _drain(self, window: AckWindow) -> None:
        """After unsubscribing: take what still arrives for a moment, and wait for every batch to be stored."""
        deadline = asyncio.get_running_loop().time() + DRAIN_SECONDS
        await asyncio.sleep(0.1)
        while (self._waiting or self._handling) and asyncio.get_running_loop().time() < deadline:
            if self._waiting:
                await self._start_batch(window)
            else:
                await asyncio.wait(set(self._handling), timeout=max(0.0, deadline - asyncio.get_running_loop().time()))

    def _received(self, publications: list[Publication]) -> None:
        self._waiting += publications
        self._held += len(publications)
        self._arrived.set()
        if self._held >= self.settings.receive_maximum and self._subscriber is not None:
            self._subscriber.protocol.pause(True)

    def _let_go(self, count: int) -> None:
        """``count`` held messages are acknowledged, or will come again: read more if there is room."""
        self._held -= count
        if self._held < self.settings.receive_maximum and self._subscriber is not None:
            self._subscriber.protocol.pause(False)

    async def _take_batches(self, window: AckWindow) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting:
                await self._start_batch(window)

    async def _start_batch(self, window: AckWindow) -> None:
        await self._room.acquire()
        if not self._waiting:
            self._room.release()
            return
        size = self.settings.max_batch
        batch, self._waiting = self._waiting[:size], self._waiting[size:]
        task = asyncio.create_task(self._store(batch, window.hold(batch), window))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _store(self, batch: list[Publication], ticket: list[bool], window: AckWindow) -> None:
        """Check, write and record a batch, retrying while the database is down; acknowledge it once stored."""
        try:
            for outcome in await self._checked(batch, window):
                if outcome.unknown:
                    log.warning("MQTT messages of devices the registry does not have, dropped: %s",
                                dict(outcome.unknown))
                await self._retrying(lambda: self.writer.write(outcome.rows, outcome.latest, outcome.senders), window)
                if outcome.refusals:
                    await self._retrying(lambda: record_refusals(outcome.refusals), window)
            window.release(ticket)
        except ConnectionGone:
            pass  # unacknowledged: the broker sends the batch again
        finally:
            self._room.release()
            if not window.closed:
                self._let_go(len(batch))

    async def _checked(self, batch: list[Publication], window: AckWindow) -> list[Outcome]:
        """The batch's outcome. Should checking fail for another reason than the database, which no
        retry mends, the messages are checked one by one and those that fail are logged and left out,
        rather than holding back every message after them."""
        try:
            return [await self._retrying(lambda: self.checker.check(batch), window, TRANSIENT)]
        except TRANSIENT_OR_GONE:
            raise
        except Exception:  # noqa: BLE001 - found below, message by message
            log.exception("an MQTT batch could not be checked; checking its messages one by one")
        outcomes = []
        for message in batch:
            try:
                outcomes.append(await self._retrying(lambda: self.checker.check([message]), window, TRANSIENT))
            except TRANSIENT_OR_GONE:
                raise
            except Exception:  # noqa: BLE001 - logged with the message's topic, then acknowledged
                log.exception("MQTT message on %s could not be checked and is dropped", message.topic)
        return outcomes

    async def _retrying(self, step: Callable[[], Awaitable[T]], window: AckWindow,
                        transient: tuple[type[BaseException], ...] = (Exception,)) -> T:
        """``step``'s result once it succeeds, trying again after ``transient`` errors;
        :class:`ConnectionGone` if the connection goes first."""
        attempt = 0
        while not window.closed:
            try:
                return await step()
            except transient as error:
                log.warning("MQTT batch not stored yet (attempt %d): %s", attempt + 1, describe_error(error))
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1
        raise ConnectionGone
