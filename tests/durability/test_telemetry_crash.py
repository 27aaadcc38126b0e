"""Kill -9 of a real ``tulou serve`` during sustained HTTP ingest: every reading answered 200 is stored.

Several meters post batches side by side, each as fast as the server answers, and the
server is killed mid-stream. After the restart each meter's readings are read back
through the API: every acknowledged batch is there, and any batch is there whole or
not at all (a request's readings commit together).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.durability.conftest import register_meters
from tests.serverprocess import TulouServer, eventually

pytestmark = pytest.mark.slow

METERS = 4
BATCH = 50
ACKNOWLEDGED_BEFORE_KILL = 40  # batches, all meters together


def batch_of(start: datetime, number: int) -> dict[str, Any]:
    """Readings ``number * BATCH`` onwards, a millisecond apart from ``start``; each one's level is its number."""
    first = number * BATCH
    return {"readings": [
        {"t": (start + timedelta(milliseconds=n)).isoformat(), "values": {"level": n}} for n in range(first, first + BATCH)
    ]}


async def keep_sending(http: httpx.AsyncClient, token: str, start: datetime, acknowledged: list[int]) -> int:
    """Post batches until the server is gone; ``acknowledged`` gets the numbers of the batches answered 200.

    Returns how many batches were sent, the last of them unanswered.
    """
    for number in itertools.count():
        try:
            answer = await http.post("/api/v1/telemetry", json=batch_of(start, number),
                                     headers={"Authorization": f"Bearer {token}"})
        except httpx.TransportError:
            return number + 1
        assert answer.status_code == 200 and answer.json() == {"accepted": BATCH}, answer.text
        acknowledged.append(number)
    raise AssertionError("unreachable")


def stored_levels(server: TulouServer, admin: dict[str, str], device: str, start: datetime) -> list[int]:
    """The levels of the device's stored readings since ``start``, read back through the API."""
    found = server.get(f"/api/v1/devices/{device}/telemetry", headers=admin, params={
        "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(), "property": "level",
        "limit": 100_000,
    })
    assert found.status_code == 200, found.text
    return [int(point["value"]) for series in found.json()["series"] for point in series["points"]]


async def test_every_acknowledged_reading_survives_a_kill_during_sustained_ingest(
    server: TulouServer, admin: dict[str, str],
) -> None:
    meters = register_meters(server, admin, METERS)
    start = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)
    acknowledged: list[list[int]] = [[] for _meter in meters]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        senders = [asyncio.create_task(keep_sending(http, meter["token"], start, batches))
                   for meter, batches in zip(meters, acknowledged)]
        await eventually(lambda: sum(map(len, acknowledged)) >= ACKNOWLEDGED_BEFORE_KILL, 30, "batches acknowledged")
        server.kill()
        sent = await asyncio.gather(*senders)

    server.start()
    for meter, batches, count in zip(meters, acknowledged, sent):
        levels = stored_levels(server, admin, meter["id"], start)
        assert len(levels) == len(set(levels))  # nothing stored twice
        stored = {level // BATCH for level in levels}
        assert set(levels) == {n for number in stored for n in range(number * BATCH, (number + 1) * BATCH)}
        assert set(batches) <= stored <= set(range(count))
