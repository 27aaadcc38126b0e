"""Kill -9 of a real ``tulou serve`` mid-import and mid-delivery: no acknowledged record lost, no event lost.

An import runs in one transaction: killed before it commits, it leaves nothing, and
the client's retry under the same ``Idempotency-Key`` then writes it whole. Single
creates answered 201 are kept whatever else was under way. Every change of the feed
gets its event to the subscriber, sent again after the crash if it was in flight,
always under the same event id and signature secret.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import pytest

from tests.conftest import NANYANG_VILLAGE, ON_POSTGRES, SHANGPING_VILLAGE, TEST_DATABASE
from tests.durability.conftest import assert_feed_matches_records, created, declare_dataset
from tests.exchange.receiver import Receiver, receiver_running
from tests.serverprocess import TulouServer, eventually
from tulou.exchange.bulk import CHUNK

pytestmark = pytest.mark.slow

PLOTS, WELLS = "crash.plots", "crash.wells"
EXISTING = 30  # plots there before the import, which it updates
LINES_PER_CHUNK = 500  # of the request body
SENT_BEFORE_KILL = 2 * CHUNK + LINES_PER_CHUNK  # rows sent before the body stalls: two of the writer's chunks written
IMPORTED = SENT_BEFORE_KILL + LINES_PER_CHUNK
IMPORT_KEY = "crash-import-1"
NDJSON = {"Content-Type": "application/x-ndjson"}
HELD_CHANGE = 8  # the change whose event the subscriber leaves unanswered until the server is dead
LEASE_SECONDS = 3


@pytest.fixture
def server_settings() -> dict[str, str]:
    """Events reach 127.0.0.1 quickly, and a dead server's claims lapse after seconds rather than a minute."""
    return {
        "TULOU_EXCHANGE__WEBHOOK_ALLOW": "127.0.0.1", "TULOU_EXCHANGE__POLL_SECONDS": "0.1",
        "TULOU_EXCHANGE__BATCH_SIZE": "10", "TULOU_EXCHANGE__DELIVERY_TIMEOUT_SECONDS": "2",
        "TULOU_EXCHANGE__LEASE_SECONDS": str(LEASE_SECONDS),
    }


def plot_line(n: int) -> bytes:
    return msgspec.json.encode({"id": f"plot-{n}", "area": SHANGPING_VILLAGE, "data": {"name": f"plot {n}", "n": n}}) + b"\n"


def whole_import() -> bytes:
    return b"".join(plot_line(n) for n in range(IMPORTED))


async def stalling_import(sent: asyncio.Event, killed: asyncio.Event) -> AsyncIterator[bytes]:
    """The import's body: :data:`SENT_BEFORE_KILL` rows, then the rest only once the server is dead."""
    for start in range(0, IMPORTED, LINES_PER_CHUNK):
        if start == SENT_BEFORE_KILL:
            sent.set()
            await killed.wait()
        yield b"".join(plot_line(n) for n in range(start, start + LINES_PER_CHUNK))


def record_in(key: str, n: int) -> dict[str, Any]:
    return {"id": key, "area": NANYANG_VILLAGE, "data": {"name": key, "n": n}}


async def keep_creating(http: httpx.AsyncClient, dataset: str, prefix: str, acknowledged: list[str]) -> str:
    """Create records one after another, each under its own ``Idempotency-Key``, until the server is gone.

    ``acknowledged`` gets the ids answered 201; returns the id of the request left unanswered.
    """
    for n in itertools.count():
        key = f"{prefix}{n}"
        try:
            answer = await http.post(f"/api/v1/datasets/{dataset}/records/", json=record_in(key, n),
                                     headers={"Idempotency-Key": key})
        except httpx.TransportError:
            return key
        assert answer.status_code == 201, answer.text
        acknowledged.append(key)
    raise AssertionError("unreachable")


async def until_set(event: asyncio.Event, request: asyncio.Task[Any]) -> None:
    """Wait for ``event``; fail with the request's answer if it ends first."""
    waiting = asyncio.create_task(event.wait())
    await asyncio.wait([waiting, request], return_when=asyncio.FIRST_COMPLETED)
    if not event.is_set():
        waiting.cancel()
        pytest.fail(f"the request ended early: {request.result()!r}")


class OpenImport:
    """Whether the import's transaction is open with rows written and not committed, seen from outside the server.

    PostgreSQL shows its session idle inside a long transaction that wrote, its last
    statement the outbox's look-up of subscriptions that ends each written chunk. On
    SQLite the import holds the write lock, and the server, all its threads asleep,
    has read and written all it was sent.
    """

    SESSION = ("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction' "
               "AND backend_xid IS NOT NULL AND query LIKE '%core_subscription%' "
               "AND xact_start < now() - interval '500 milliseconds'")  # not a single create's

    def __init__(self, server: TulouServer) -> None:
        self.server = server
        self.database = urlsplit(server.env["TULOU_DATABASE__URL"])
        self.probe: asyncpg.Connection | None = None

    async def __aenter__(self) -> OpenImport:
        if ON_POSTGRES:
            self.probe = await asyncpg.connect(urlsplit(TEST_DATABASE)._replace(scheme="postgresql").geturl())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.probe is not None:
            await self.probe.close()

    async def __call__(self) -> bool:
        if self.probe is not None:
            return await self.probe.fetchval(self.SESSION, self.database.path.lstrip("/")) > 0
        return self.server.asleep() and self._sqlite_write_locked()

    def _sqlite_write_locked(self) -> bool:
        connection = sqlite3.connect(self.database.netloc + self.database.path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # database is locked
            return True
        else:
            connection.execute("ROLLBACK")
            return False
        finally:
            connection.close()


async def test_an_import_killed_midway_writes_nothing_and_every_acknowledged_create_survives(
    server: TulouServer, admin: dict[str, str],
) -> None:
    for dataset in (PLOTS, WELLS):
        declare_dataset(server, admin, dataset)
    for n in range(EXISTING):
        created(server.post(f"/api/v1/datasets/{PLOTS}/records/", headers=admin,
                            json={"id": f"plot-{n}", "area": SHANGPING_VILLAGE, "data": {"name": f"plot {n}"}}))
    acknowledged: list[str] = []
    sent, killed = asyncio.Event(), asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, headers=admin, timeout=60) as http, OpenImport(server) as open_import:
        creators = [asyncio.create_task(keep_creating(http, WELLS, f"well-{c}-", acknowledged)) for c in range(2)]
        await eventually(lambda: len(acknowledged) >= 5, 10, "wells created")
        importing = asyncio.create_task(http.post(f"/api/v1/datasets/{PLOTS}/records:import", content=stalling_import(sent, killed),
                                                  headers={**NDJSON, "Idempotency-Key": IMPORT_KEY}))
        await until_set(sent, importing)
        await eventually(open_import, 20, "the import's chunks written and not committed", steady=5)
        server.kill()
        killed.set()
        outcomes = await asyncio.gather(importing, *creators, return_exceptions=True)
    assert isinstance(outcomes[0], httpx.TransportError), outcomes[0]
    unanswered = outcomes[1:]

    server.start()
    plots = assert_feed_matches_records(server, admin, PLOTS)
    assert sorted(plots) == sorted(f"plot-{n}" for n in range(EXISTING))  # nothing of the import ...
    assert {record["version"] for record in plots.values()} == {1}  # ... not even its updates
    assert set(acknowledged) <= set(assert_feed_matches_records(server, admin, WELLS))

    for key in unanswered:  # sent again under its key: written once, whether or not it was before the kill
        n = int(key.rsplit("-", 1)[1])
        created(server.post(f"/api/v1/datasets/{WELLS}/records/", json=record_in(key, n),
                            headers={**admin, "Idempotency-Key": key}))
    wells = assert_feed_matches_records(server, admin, WELLS)
    assert set(wells) == {*acknowledged, *unanswered}
    assert {record["version"] for record in wells.values()} == {1}

    again = server.post(f"/api/v1/datasets/{PLOTS}/records:import", content=whole_import(), timeout=120,
                        headers={**admin, **NDJSON, "Idempotency-Key": IMPORT_KEY})
    assert again.status_code == 200, again.text
    assert again.json() == {"created": IMPORTED - EXISTING, "updated": EXISTING, "invalid": 0, "bad_rows": []}
    plots = assert_feed_matches_records(server, admin, PLOTS)
    assert len(plots) == IMPORTED
    assert all(record["data"]["n"] == int(key.removeprefix("plot-")) for key, record in plots.items())


class HoldingReceiver(Receiver):
    """A subscriber that leaves the first delivery of change :data:`HELD_CHANGE` unanswered until told to answer."""

    def __init__(self) -> None:
        super().__init__()
        self.held_event = ""
        self.holding = threading.Event()
        self.release = threading.Event()

    def take(self, event_id: str, signature: str, body: bytes) -> int:
        status = super().take(event_id, signature, body)
        if json.loads(body)["change"]["seq"] == HELD_CHANGE and not self.holding.is_set():
            self.held_event = event_id
            self.holding.set()
            self.release.wait(timeout=60)
        return status


async def test_events_in_flight_when_the_server_is_killed_are_all_delivered_after_the_restart(
    server: TulouServer, admin: dict[str, str],
) -> None:
    declare_dataset(server, admin, PLOTS)
    with receiver_running(HoldingReceiver()) as receiver:
        assert isinstance(receiver, HoldingReceiver)
        subscription = created(server.post(f"/api/v1/datasets/{PLOTS}/subscriptions/", headers=admin,
                                           json={"url": receiver.url}))
        acknowledged: list[str] = []
        try:
            async with httpx.AsyncClient(base_url=server.url, headers=admin, timeout=30) as http:
                writers = [asyncio.create_task(keep_creating(http, PLOTS, f"plot-{w}-", acknowledged)) for w in range(2)]
                await eventually(receiver.holding.is_set, 20, "an event in flight to the subscriber")
                await eventually(lambda: len(acknowledged) >= 2 * HELD_CHANGE, 10, "writes going on")
                server.kill()
                await asyncio.gather(*writers)
        finally:
            receiver.release.set()

        server.start()
        records = assert_feed_matches_records(server, admin, PLOTS)
        assert set(acknowledged) <= set(records)
        feed = {(key, record["version"]) for key, record in records.items()}
        await eventually(lambda: delivered_changes(receiver) >= feed, LEASE_SECONDS + 20, "every change delivered")
        await eventually(lambda: nothing_pending(server, admin, subscription["id"]), 10, "the outbox emptied")

    assert delivered_changes(receiver) == feed
    assert receiver.counts()[receiver.held_event] >= 2  # the event in flight was sent again ...
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in receiver.requests:
        bodies[request.event_id].add(request.body)
    assert all(len(sent) == 1 for sent in bodies.values())  # ... and every repeat is the same event
    ids_of_change: dict[tuple[str, int], set[str]] = defaultdict(set)
    for request in receiver.requests:
        ids_of_change[change_of(request.event)].add(request.event_id)
    assert all(len(ids) == 1 for ids in ids_of_change.values())  # no change under two event ids
    assert all(request.signed_with(subscription["secret"]) for request in receiver.requests)


def change_of(event: dict[str, Any]) -> tuple[str, int]:
    return event["change"]["id"], event["change"]["version"]


def delivered_changes(receiver: Receiver) -> set[tuple[str, int]]:
    """The changes the subscriber has answered 2xx for, by record id and version."""
    return {change_of(request.event) for request in receiver.delivered}


def nothing_pending(server: TulouServer, admin: dict[str, str], subscription: int) -> bool:
    listed = server.get(f"/api/v1/datasets/{PLOTS}/subscriptions/{subscription}/deliveries", headers=admin,
                        params={"status": "pending"})
    assert listed.status_code == 200, listed.text
    return listed.json() == []
