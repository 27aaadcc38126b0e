"""Group commit: concurrent requests' readings written together, each request answered once its rows are durable.

Requests hand their rows to the one writer of the process and wait. The writer
takes everything waiting, writes it in one transaction and wakes each request when
that transaction has committed, so an acknowledged reading is on disk, and many
small requests cost one commit. A lone small group waits ``flush_linger_ms`` for
company first. The queue is bounded: past ``max_pending_rows`` a request is refused
at once with 503 and Retry-After rather than left to wait without end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tulou.devices import clock
from tulou.devices.models import DeviceEventRecord
from tulou.devices.telemetry_store import Row, TelemetryStore
from tulou.errors import Unavailable
from tulou.i18n import gettext as _
from tulou.plugins.manager import describe_error
from tulou.settings import DeviceSettings

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 1


class Overloaded(Unavailable):
    """The writer has more waiting than it may hold: try again shortly."""

    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # type: ignore[assignment]


@dataclass
class _Group:
    """Rows waiting for the next commit, and the requests waiting for them."""

    rows: list[Row] = field(default_factory=list)
    latest: dict[tuple[int, int], Row] = field(default_factory=dict)
    senders: set[int] = field(default_factory=set)
    waiting: list[asyncio.Future[None]] = field(default_factory=list)

    def add(self, rows: Sequence[Row], latest: Mapping[tuple[int, int], Row], senders: Iterable[int]) -> None:
        self.rows.extend(rows)
        self.senders.update(senders)
        held = self.latest
        for key, row in latest.items():
            if key not in held or held[key][2] <= row[2]:
                held[key] = row


class TelemetryWriter:
    """The one task per process that writes readings; :meth:`write` returns when they are committed."""

    def __init__(
        self, store: TelemetryStore, settings: DeviceSettings,
        on_events: Callable[[list[DeviceEventRecord]], Awaitable[None]] | None = None,
        on_stored: Callable[[list[Row]], Awaitable[None]] | None = None,
    ) -> None:
        """``on_events`` hears of the connection events a commit recorded, ``on_stored`` of its rows; both
        after the commit, in tasks of their own, so no request waits for them."""
        self.store = store
        self.settings = settings
        self._on_events = on_events
        self._on_stored = on_stored
        self._group = _Group()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._announcing: set[asyncio.Task[None]] = set()

    @property
    def pending_rows(self) -> int:
        return len(self._group.rows)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="tulou-telemetry-writer")

    async def stop(self) -> None:
        """Finish the write under way and write what is waiting, then stop: no acknowledged request is left hanging."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.settled()

    async def settled(self) -> None:
        """Wait until what the commits so far set going (announcements, alert rules) is done."""
        while self._announcing:
            await asyncio.gather(*self._announcing, return_exceptions=True)

    async def write(self, rows: Sequence[Row], latest: Mapping[tuple[int, int], Row],
                    senders: Iterable[int] = ()) -> None:
        """Queue ``rows`` (``latest``: the newest of each property among them) and return once they are
        committed; 503 if the queue is full or the write failed. ``senders`` are marked seen with the
        devices the rows are of: a gateway is heard from when it relays others' readings."""
        if not rows:
            return
        if self._task is None or self._stopping:
            raise Unavailable(_("Telemetry cannot be stored now"))
        if len(self._group.rows) + len(rows) > self.settings.max_pending_rows:
            raise Overloaded(_("Too many readings are waiting to be stored; retry in a moment"))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._group.add(rows, latest, senders)
        self._group.waiting.append(done)
        self._wake.set()
        await asyncio.shield(done)

    async def _run(self) -> None:
        linger = self.settings.flush_linger_ms / 1000
        while not (self._stopping and not self._group.rows):
            await self._wake.wait()
            if not self._group.rows:
                self._wake.clear()
                continue
            if linger and not self._stopping and len(self._group.rows) < self.settings.flush_rows:
                await asyncio.sleep(linger)
            await self._flush()

    async def _flush(self) -> None:
        group, self._group = self._group, _Group()
        self._wake.clear()
        try:
            latest = [group.latest[key] for key in sorted(group.latest)]
            events = await self.store.write(group.rows, latest, clock.now(), group.senders)
        except Exception as error:  # noqa: BLE001 - every waiting request is told, none is acknowledged
            log.error("telemetry write of %d rows failed: %s", len(group.rows), describe_error(error))
            failure = Unavailable(_("Telemetry cannot be stored now; retry later"))
            for waiter in group.waiting:
                if not waiter.done():
                    waiter.set_exception(failure)
            return
        for waiter in group.waiting:
            if not waiter.done():
                waiter.set_result(None)
        if events and self._on_events is not None:
            self._after_commit(self._on_events(events))
        if self._on_stored is not None:
            self._after_commit(self._on_stored(group.rows))

    def _after_commit(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)
