"""Kill -9 of a real ``tulou serve`` during sustained MQTT ingest: every reading the broker acknowledged is stored.

Several meters publish one reading per message at QoS 1 through the tests' Mosquitto,
each as fast as the broker acknowledges. The device's PUBACK comes from the broker, not
from Tulou: the broker then holds the message for Tulou's persistent session, and Tulou
acknowledges it to the broker only once its reading is committed. So when the server is
killed mid-stream, what it had not stored yet stays with the broker, which also goes on
queueing what the meters send while the server is down, and hands both to the server
restarted in its place. The server has two workers, so two sessions share the messages,
and each restarted worker must resume one of them (its slot). After the restart every
reading a meter was acknowledged is read back through the API, as it was sent; a reading
may be there twice (redelivered after its commit, before its acknowledgement), never
missing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

import aiomqtt
import httpx
import pytest

from tests.durability.conftest import register_meters
from tests.mqtt_broker import Broker
from tests.serverprocess import TulouServer, eventually
from tulou.devices.broker import telemetry_topic

pytestmark = pytest.mark.slow

METERS = 4
ACKNOWLEDGED_BEFORE_KILL = 1500  # readings, all meters together
STORED_BEFORE_KILL = 100  # readings of the first meter: the server is ingesting when it is killed
ACKNOWLEDGED_WHILE_DOWN = 500
ACKNOWLEDGED_AFTER_RESTART = 500
STORED_WITHIN_SECONDS = 30


@pytest.fixture
def server_settings(broker: Broker, session_prefix: str) -> dict[str, str]:
    """Two workers read the tests' broker, under the run's session name (taking over any session left behind)."""
    return {**broker.server_environment(session_prefix), "TULOU_WEB__WORKERS": "2"}


def moment(start: datetime, number: int) -> datetime:
    """Reading ``number``'s time: a millisecond after the one before."""
    return start + timedelta(milliseconds=number)


def message(start: datetime, number: int) -> bytes:
    """Reading ``number`` alone in a message, its level its number."""
    return json.dumps({"t": moment(start, number).isoformat(), "values": {"level": number}}).encode()


async def connected_meter(connections: AsyncExitStack, broker: Broker, meter: dict[str, Any]) -> aiomqtt.Client:
    """The meter's connection with its own account, once the server has made that account on the broker;
    closed with ``connections``."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        link = aiomqtt.Client(broker.host, broker.port, username=meter["id"], password=meter["mqttPassword"],
                              identifier=meter["id"], protocol=aiomqtt.ProtocolVersion.V5, timeout=10)
        try:
            return await connections.enter_async_context(link)
        except aiomqtt.MqttError:
            assert asyncio.get_running_loop().time() < deadline, f"{meter['id']} cannot connect to the broker"
            await asyncio.sleep(0.1)


async def keep_publishing(link: aiomqtt.Client, uid: str, start: datetime, acknowledged: list[int],
                          enough: asyncio.Event) -> int:
    """Publish readings one after the other until ``enough``; ``acknowledged`` gets each one's number once the
    broker acknowledged it. Returns how many were sent."""
    for number in itertools.count():
        if enough.is_set():
            return number
        await link.publish(telemetry_topic(uid), message(start, number), qos=1)
        acknowledged.append(number)
    raise AssertionError("unreachable")


async def stored_readings(server: TulouServer, admin: dict[str, str], uid: str, start: datetime,
                          limit: int = 100_000) -> list[tuple[datetime, int]]:
    """The time and level of each of the meter's stored readings since ``start``, read back through the API."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        found = await http.get(f"/api/v1/devices/{uid}/telemetry", headers=admin, params={
            "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(), "property": "level",
            "limit": limit,
        })
    assert found.status_code == 200, found.text
    return [(datetime.fromisoformat(point["t"]), int(point["value"]))
            for series in found.json()["series"] for point in series["points"]]


async def reading_mqtt(server: TulouServer) -> bool:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        return (await http.get("/readyz")).json()["checks"].get("mqtt") == "ok"


async def publish_through_a_crash(server: TulouServer, admin: dict[str, str], broker: Broker,
                                  meters: list[dict[str, Any]], start: datetime) -> tuple[list[list[int]], list[int]]:
    """The meters publish while the server ingests, is killed, is down, and is back; each meter's readings
    the broker acknowledged, and how many each sent."""
    acknowledged: list[list[int]] = [[] for _meter in meters]
    enough = asyncio.Event()

    def total() -> int:
        return sum(map(len, acknowledged))

    async def ingesting() -> bool:
        stored = await stored_readings(server, admin, meters[0]["id"], start, limit=STORED_BEFORE_KILL)
        return len(stored) >= STORED_BEFORE_KILL and total() >= ACKNOWLEDGED_BEFORE_KILL

    async with AsyncExitStack() as connections:
        links = [await connected_meter(connections, broker, meter) for meter in meters]
        publishers = [asyncio.create_task(keep_publishing(link, meter["id"], start, numbers, enough))
                      for link, meter, numbers in zip(links, meters, acknowledged)]
        try:
            await eventually(ingesting, 20, "readings stored while the meters publish")
            server.kill()
            down_at = total()
            await eventually(lambda: total() >= down_at + ACKNOWLEDGED_WHILE_DOWN, 10, "acknowledged while down")
            await asyncio.to_thread(server.start)
            up_at = total()
            await eventually(lambda: total() >= up_at + ACKNOWLEDGED_AFTER_RESTART, 10, "acknowledged after")
        finally:
            enough.set()
            sent = await asyncio.gather(*publishers)
    return acknowledged, sent


async def wait_until_stored(server: TulouServer, admin: dict[str, str], meters: list[dict[str, Any]],
                            acknowledged: list[list[int]], start: datetime) -> None:
    """Every acknowledged reading of every meter is stored within :data:`STORED_WITHIN_SECONDS`; failing
    that, how many of each meter's are not."""
    missing: dict[str, int] = {}

    async def all_stored() -> bool:
        for meter, numbers in zip(meters, acknowledged):
            levels = {level for _t, level in await stored_readings(server, admin, meter["id"], start)}
            missing[meter["id"]] = len(set(numbers) - levels)
        return not any(missing.values())

    try:
        await eventually(all_stored, STORED_WITHIN_SECONDS, "every acknowledged reading stored")
    except pytest.fail.Exception:
        pytest.fail(f"acknowledged readings never stored, by meter: {missing} of {list(map(len, acknowledged))}")


async def test_every_reading_the_broker_acknowledged_survives_a_kill_during_sustained_mqtt_ingest(
    server: TulouServer, admin: dict[str, str], broker: Broker,
) -> None:
    meters = register_meters(server, admin, METERS)
    await eventually(lambda: reading_mqtt(server), 10, "the server subscribed on the broker")
    start = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=0)
    acknowledged, sent = await publish_through_a_crash(server, admin, broker, meters, start)
    await wait_until_stored(server, admin, meters, acknowledged, start)
    for meter, count in zip(meters, sent):
        stored = await stored_readings(server, admin, meter["id"], start)
        assert all(at == moment(start, level) and 0 <= level < count for at, level in stored)  # each as it was sent
