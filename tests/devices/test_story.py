"""The device issue's "done when", end to end through the doors people and devices use: the HTTP API and a real
Mosquitto with the dynamic-security plugin.

A field installer claims twenty soil sensors with a provisioning key; they publish over
MQTT; the township sees them online, their hourly averages and a raised frost alert; one
sensor unplugged goes offline after its heartbeat interval; a forged reading for another
device is refused. Device time comes from the controllable clock, so the heartbeat is
crossed without waiting; every wait polls for state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.devices.conftest import SOIL_MODEL, FakeClock, bearer, staff_token
from tests.devices.test_ingest import raw_rows
from tests.devices.test_mqtt import (  # noqa: F401 - the app reading the broker is a fixture of those tests
    DEVICES, device_link, eventually, mqtt_client, mqtt_serve, publish, refused_count_reaches, rows_reach,
)
from tests.devices.test_provisioning import CLAIM, KEYS
from tests.mqtt_broker import Broker
from tulou.jobs.core import CORE
from tulou.jobs.runner import run_job, scheduled_jobs

SENSORS = 20
START = datetime(2025, 6, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
EVERY = timedelta(minutes=15)  # four readings an hour: averages of halves over four are exact in binary
READINGS = 8  # two hours
FROSTY, UNPLUGGED, FORGER, VICTIM = 7, 12, 3, 4  # indices among the twenty
FROST_NIGHT = [3.5, 2.5, 1.0, 0.5, -0.5, -1.5, -1.0, -2.0]  # frost from the fifth reading on, never back at 2 °C
REPORTED = START + READINGS * EVERY  # when the sensors first report, just after their last reading's time
HEARTBEAT = timedelta(seconds=600 * 1.5)  # the soil sensor's heartbeat × the default offline grace


def temperature(sensor: int, n: int) -> float:
    """Mild soil for every sensor but the frosty one: 4 °C and up, in halves."""
    return FROST_NIGHT[n] if sensor == FROSTY else 4.0 + sensor / 2 + ((n * 3) % 5) / 2


def moisture(sensor: int, n: int) -> int:
    return 20 + (sensor * 7 + n * 11) % 50


def reading(sensor: int, n: int) -> dict[str, Any]:
    values = {"temperature": temperature(sensor, n), "moisture": moisture(sensor, n)}
    return {"t": at(START + n * EVERY), "values": values}


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def hourly_averages(sensor: int, value: Callable[[int, int], float]) -> list[tuple[str, float]]:
    """What the township should read back, from what the sensor sent."""
    per_hour = HOUR // EVERY
    hours = [range(h * per_hour, (h + 1) * per_hour) for h in range(READINGS // per_hour)]
    return [(at(START + h * HOUR), sum(value(sensor, n) for n in ns) / len(ns)) for h, ns in enumerate(hours)]


async def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def claim_twenty(client: AppClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    """The township admin makes a key for the village; the installer claims twenty sensors with it."""
    key = await ok(await client.post(KEYS, headers=admin, json={
        "model": SOIL_MODEL, "area": SHANGPING_VILLAGE, "uses": SENSORS, "label": "north fields"}), 201)
    installer = bearer(key["key"])
    claims = await asyncio.gather(*(client.post(CLAIM, json={"serialNumber": f"SOIL-{n:03d}"}, headers=installer)
                                    for n in range(SENSORS)))
    sensors = [await ok(answer, 201) for answer in claims]
    assert len({s["id"] for s in sensors}) == SENSORS and all(s["mqttPassword"] and s["token"] for s in sensors)
    assert {s["area"] for s in sensors} == {SHANGPING_VILLAGE}
    return sensors


async def stored(client: AppClient, sensors: list[dict[str, Any]], rows: int) -> None:
    """Wait until each sensor has ``rows`` raw values stored and the alert rules have judged them."""
    for s in sensors:
        await rows_reach(s["id"], rows)
    await client.app.state.devices.writer.settled()


async def all_online(client: AppClient, staff: dict[str, str]) -> bool:
    page = await ok(await client.get(DEVICES, params={"area": SHANGPING_VILLAGE}, headers=staff))
    return page["total"] == SENSORS and {d["connectionState"] for d in page["items"]} == {"online"}


async def hourly_averages_read(client: AppClient, staff: dict[str, str], uid: str) -> dict[str, list[Any]]:
    series = await ok(await client.get(f"{DEVICES}{uid}/telemetry", headers=staff, params={
        "from": at(START), "to": at(START + 2 * HOUR), "agg": "avg", "interval": "1h"}))
    return {found["property"]: [(p["t"], p["value"]) for p in found["points"]] for found in series["series"]}


async def open_alerts(client: AppClient, staff: dict[str, str], **query: str) -> list[dict[str, Any]]:
    return (await ok(await client.get("/api/v1/alerts/", params=query, headers=staff)))["items"]


async def run_status_job(client: AppClient) -> None:
    platform = client.app.state.platform
    [job] = [job for owner, job in scheduled_jobs(platform) if owner == CORE and job.id == "device_status"]
    (run,) = await run_job(platform, CORE, job)
    assert run.outcome.value == "succeeded"


async def test_twenty_soil_sensors_from_claim_to_frost_alert_offline_and_a_refused_forgery(
    mqtt_client: AppClient, broker: Broker, fake_clock: FakeClock,
) -> None:
    client = mqtt_client
    fake_clock.moment = REPORTED
    admin = bearer(await staff_token(client, "yunxi_admin", "township_admin", YUNXI_TOWN))
    staff = {**bearer(await staff_token(client, "yunxi_staff", "township_staff", YUNXI_TOWN)), "Accept-Language": "en"}
    sensors = await claim_twenty(client, admin)
    forger, victim, unplugged = sensors[FORGER], sensors[VICTIM], sensors[UNPLUGGED]

    async with AsyncExitStack() as stack:
        links = [await stack.enter_async_context(device_link(broker, s)) for s in sensors]

        async def report(sensor: int) -> None:  # two hours of readings, each its own message
            for n in range(READINGS):
                await publish(links[sensor], sensors[sensor]["id"], reading(sensor, n))

        await asyncio.gather(*(report(i) for i in range(SENSORS)))
        await stored(client, sensors, READINGS * 2)

        await eventually(lambda: all_online(client, staff))
        for sensor in (FROSTY, 0):
            averages = await hourly_averages_read(client, staff, sensors[sensor]["id"])
            assert averages["temperature"] == hourly_averages(sensor, temperature)
            assert averages["moisture"] == hourly_averages(sensor, moisture)
        [frost] = await open_alerts(client, staff, state="open")
        first_frost = next(n for n, value in enumerate(FROST_NIGHT) if value <= 0)
        assert (frost["device"], frost["rule"], frost["severity"]) == (sensors[FROSTY]["id"], "frost", "high")
        assert (frost["value"], frost["raisedAt"]) == (FROST_NIGHT[first_frost], at(START + first_frost * EVERY))

        # Fourteen minutes on, every sensor but the unplugged one reports again; one forges readings for another.
        fake_clock.advance(minutes=14)
        await publish(links[FORGER], victim["id"], {"values": {"temperature": -30.0}})  # the broker refuses it
        await publish(links[FORGER], forger["id"], {"device": victim["id"], "values": {"temperature": -31.0}})
        reporting = [i for i in range(SENSORS) if i != UNPLUGGED]
        for i in reporting:
            await publish(links[i], sensors[i]["id"], {"values": {"moisture": 33}})
        await stored(client, [sensors[i] for i in reporting], READINGS * 2 + 1)

    # Two minutes more the unplugged sensor has been silent past its heartbeat, the others not.
    fake_clock.advance(minutes=2)
    assert fake_clock.moment - REPORTED > HEARTBEAT > timedelta(minutes=2)
    await run_status_job(client)
    offline = await ok(await client.get(DEVICES, params={"connection": "offline"}, headers=staff))
    online = await ok(await client.get(DEVICES, params={"connection": "online"}, headers=staff))
    assert [d["id"] for d in offline["items"]] == [unplugged["id"]] and online["total"] == SENSORS - 1
    events = (await ok(await client.get(f"{DEVICES}{unplugged['id']}/events", headers=staff)))["items"]
    assert [(e["state"], e["at"]) for e in events] == [("offline", at(fake_clock.moment)), ("online", at(REPORTED))]

    # The forgery: nothing stored for the victim nor as the sender's, no alert, the refusal listed with the sender.
    await refused_count_reaches(client, forger["id"], 1)
    assert await raw_rows(victim["id"]) == await raw_rows(forger["id"]) == READINGS * 2 + 1
    raw = await ok(await client.get(f"{DEVICES}{victim['id']}/telemetry", headers=staff, params={
        "from": at(START), "to": at(fake_clock.moment), "property": "temperature"}))
    [victim_temperatures] = raw["series"]
    assert [p["value"] for p in victim_temperatures["points"]] == [temperature(VICTIM, n) for n in range(READINGS)]
    assert await open_alerts(client, staff, device=victim["id"]) == []
    refused = await ok(await client.get(f"{DEVICES}{forger['id']}/errors", headers=staff))
    assert refused["refusedCount"] == 1
    assert [(e["transport"], e["reason"]) for e in refused["recent"]] == [("mqtt", "device_not_allowed")]
    assert (await ok(await client.get(f"{DEVICES}{victim['id']}/errors", headers=staff)))["refusedCount"] == 0
