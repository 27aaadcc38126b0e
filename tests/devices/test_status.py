"""Online and offline: a silent device goes offline after its heartbeat, a reading brings it back, plugins hear."""

from __future__ import annotations

from typing import Any

from tests.conftest import ADMIN, YUNXI_TOWN
from tests.devices.conftest import FakeClock, FieldPlugin, register_device, send
from tulou.devices.models import DeviceEventRecord
from tulou.devices.status import check_device_status
from tulou.jobs.core import CORE
from tulou.jobs.runner import run_job, scheduled_jobs

HEARTBEAT_MINUTES = 10  # the soil sensor's 600 s
GRACE = 1.5


async def connection_of(client: Any, uid: str) -> str:
    return (await client.get(f"/api/v1/devices/{uid}", headers=ADMIN)).json()["connectionState"]


async def test_a_silent_device_goes_offline_after_its_heartbeat_and_comes_back(
    client: Any, fake_clock: FakeClock, field_plugin: FieldPlugin,
) -> None:
    platform = client.app.state.platform
    assert (await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/fieldkit", headers=ADMIN)).status_code in (200, 201)
    chatty, unplugged, never = [await register_device(client, serial=f"SN-{n}") for n in range(3)]
    for device in (chatty, unplugged):
        assert (await send(client, device["token"], {"values": {"moisture": 30}})).status_code == 200
    assert await connection_of(client, unplugged["id"]) == "online"

    fake_clock.advance(minutes=HEARTBEAT_MINUTES * GRACE - 1)
    await send(client, chatty["token"], {"values": {"moisture": 31}})
    assert await check_device_status(platform) == 0

    fake_clock.advance(minutes=2)  # the unplugged one is now silent past heartbeat × grace
    assert await check_device_status(platform) == 1
    states = [await connection_of(client, d["id"]) for d in (chatty, unplugged, never)]
    assert states == ["online", "offline", "unknown"]
    assert await check_device_status(platform) == 0  # recorded once

    fake_clock.advance(minutes=1)
    await send(client, unplugged["token"], {"values": {"moisture": 29}})
    assert await connection_of(client, unplugged["id"]) == "online"
    events = (await client.get(f"/api/v1/devices/{unplugged['id']}/events", headers=ADMIN)).json()["items"]
    assert [e["state"] for e in events] == ["online", "offline", "online"]  # newest first
    await client.app.state.devices.writer.stop()  # the last announcement is sent after the answer: wait for it
    heard = [(e.device, e.state) for e in sorted(field_plugin.events, key=lambda e: e.id)]
    assert heard == [(chatty["id"], "online"), (unplugged["id"], "online"), (unplugged["id"], "offline"),
                     (unplugged["id"], "online")]
    assert all(e.area == chatty["area"] and e.model == chatty["refDeviceModel"] for e in field_plugin.events)


async def test_plugins_hear_only_of_devices_where_their_module_is_on(
    client: Any, fake_clock: FakeClock, field_plugin: FieldPlugin,
) -> None:
    device = await register_device(client)
    await send(client, device["token"], {"values": {"moisture": 30}})
    fake_clock.advance(hours=1)
    assert await check_device_status(client.app.state.platform) == 1
    await client.app.state.devices.writer.stop()
    assert field_plugin.events == []
    assert await DeviceEventRecord.filter(device__uid=device["id"]).count() == 2


async def test_the_status_check_is_a_core_job(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    await send(client, device["token"], {"values": {"moisture": 30}})
    fake_clock.advance(hours=1)
    platform = client.app.state.platform
    [job] = [job for owner, job in scheduled_jobs(platform) if owner == CORE and job.id == "device_status"]
    (run,) = await run_job(platform, CORE, job)
    assert run.job_id == "tulou.device_status" and run.outcome.value == "succeeded"
    assert await connection_of(client, device["id"]) == "offline"
