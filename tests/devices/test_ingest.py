"""Telemetry in over HTTP: the token decides the device, every reading is checked, every acknowledged one is stored."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from tests.conftest import ADMIN
from tests.devices.conftest import FakeClock, register_device, send
from tulou.devices.device_errors import KEPT
from tulou.devices.models import Device, DeviceErrorRecord


async def raw_rows(device_uid: str | None = None) -> int:
    """Readings in the raw table, of one device or all."""
    sql, values = "SELECT count(*) AS n FROM core_telemetry", []
    if device_uid is not None:
        device = await Device.get(uid=device_uid)
        sql += f" WHERE device_id = {int(device.id)}"
    _count, rows = await connections.get("default").execute_query(sql, values)
    return rows[0]["n"]


def reasons(response: Any) -> list[tuple[int, str | None, str]]:
    return [(e["index"], e["property"], e["reason"]) for e in response.json()["errors"]]


async def test_one_reading_or_a_batch_is_stored_and_acknowledged(client: Any) -> None:
    device = await register_device(client)
    one = await send(client, device["token"], {"t": "2025-06-01T08:00:00+08:00", "values": {"temperature": 21.5,
                                                                                         "moisture": 40}})
    assert (one.status_code, one.json()) == (200, {"accepted": 1})
    batch = {"readings": [{"t": f"2025-06-01T0{n}:00:00Z", "values": {"battery": 90 - n, "charging": False}}
                          for n in range(5)]}
    assert (await send(client, device["token"], batch)).json() == {"accepted": 5}
    assert await raw_rows(device["id"]) == 2 + 10


async def test_the_token_decides_the_device(client: Any) -> None:
    """Device A's token naming device B in a reading gets that reading refused, and nothing is stored for B."""
    a, b = await register_device(client, serial="SN-A"), await register_device(client, serial="SN-B")
    forged = {"readings": [{"device": b["id"], "values": {"temperature": -30}},
                           {"device": a["id"], "values": {"temperature": 20}},
                           {"values": {"temperature": 21}}]}
    response = await send(client, a["token"], forged)
    assert response.status_code == 422
    assert reasons(response) == [(0, None, "device_not_allowed")] and response.json()["accepted"] == 2
    assert (await raw_rows(a["id"]), await raw_rows(b["id"])) == (2, 0)
    single = await send(client, a["token"], {"device": b["id"], "values": {"temperature": -30}})
    assert single.status_code == 422 and await raw_rows(b["id"]) == 0
    latest_b = await client.get(f"/api/v1/devices/{b['id']}/telemetry/latest", headers=ADMIN)
    assert latest_b.json()["values"] == {}


async def test_each_refused_reading_is_listed_with_its_reasons_and_the_rest_are_stored(client: Any) -> None:
    device = await register_device(client)
    batch = {"readings": [
        {"values": {"temperature": 20.0}},
        {"values": {"temperature": 99.0}},  # above its maximum
        {"values": {"moisture": -1}},  # below its minimum
        {"values": {"humidity": 50}},  # no such property on the model
        {"values": {"temperature": "warm"}},  # a string for a number
        {"values": {"temperature": True}},  # a boolean is not a number
        {"values": {"battery": 50.5}},  # an integer property
        {"values": {"charging": 1}},  # a boolean property
        {"values": {"status": "x" * 17}},  # longer than maxLength
        {"values": {}},
        {"values": {"temperature": 1.0, "moisture": 500, "battery": "full"}},  # every bad value is named
        {"values": {"battery": 50.0, "charging": True, "status": "ok"}},
    ]}
    response = await send(client, device["token"], batch)
    assert response.status_code == 422
    body = response.json()
    assert (body["accepted"], body["refused"]) == (2, 10)
    assert reasons(response) == [
        (1, "temperature", "above_maximum"), (2, "moisture", "below_minimum"), (3, "humidity", "unknown_property"),
        (4, "temperature", "wrong_type"), (5, "temperature", "wrong_type"), (6, "battery", "wrong_type"),
        (7, "charging", "wrong_type"), (8, "status", "too_long"), (9, None, "no_values"),
        (10, "moisture", "above_maximum"), (10, "battery", "wrong_type"),
    ]
    assert body["errors"][0]["field"] == "readings[1].values.temperature"
    assert body["errors"][0]["message"] == "99.0 is above the maximum 85"
    assert await raw_rows(device["id"]) == 1 + 3


async def test_times_need_an_offset_and_may_not_run_ahead(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    ahead = (fake_clock.now() + timedelta(minutes=10)).isoformat()
    almost = (fake_clock.now() + timedelta(minutes=4)).isoformat()
    batch = {"readings": [{"t": "2025-06-01T08:00:00", "values": {"temperature": 1.0}},
                          {"t": ahead, "values": {"temperature": 1.0}},
                          {"t": almost, "values": {"temperature": 1.0}}]}
    response = await send(client, device["token"], batch)
    assert reasons(response) == [(0, None, "timestamp_without_offset"), (1, None, "timestamp_in_future")]
    untimed = await send(client, device["token"], {"values": {"moisture": 30}})
    assert untimed.status_code == 200
    latest = await client.get(f"/api/v1/devices/{device['id']}/telemetry/latest", headers=ADMIN)
    assert datetime.fromisoformat(latest.json()["values"]["moisture"]["t"]) == fake_clock.now()


@pytest.mark.parametrize("body, status", [
    ({"values": {"temperature": 1.0}, "readings": []}, 422),  # both forms
    ({}, 422),  # neither
    ({"t": "2025-06-01T08:00:00Z", "readings": [{"values": {"temperature": 1.0}}]}, 422),
    ({"readings": [{"values": {"temperature": 1.0}, "extra": 1}]}, 400),  # unknown member
    ({"values": {"temperature": 1.0}, "t": "yesterday"}, 400),
    ({"values": [1, 2]}, 400),
])
async def test_malformed_bodies_are_refused_whole(client: Any, body: dict[str, Any], status: int) -> None:
    device = await register_device(client)
    assert (await send(client, device["token"], body)).status_code == status
    assert await raw_rows() == 0


async def test_a_batch_too_large_is_refused(serve: Any) -> None:
    async with serve(devices={"max_readings_per_request": 3}) as client:
        device = await register_device(client)
        readings = [{"values": {"temperature": 1.0}}] * 4
        response = await send(client, device["token"], {"readings": readings})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "readings"


async def test_concurrent_requests_are_all_durable_when_acknowledged(client: Any) -> None:
    devices = [await register_device(client, serial=f"SN-{n}") for n in range(4)]
    batches = [
        {"readings": [{"t": f"2025-06-01T00:{minute:02d}:{request:02d}Z", "values": {"temperature": 10.0, "moisture": 20}}
                      for minute in range(50)]}
        for request in range(10)
    ]
    sent = await asyncio.gather(*(send(client, d["token"], batch) for d in devices for batch in batches))
    assert {response.status_code for response in sent} == {200}
    acknowledged = sum(response.json()["accepted"] for response in sent) * 2
    assert acknowledged == 4 * 10 * 50 * 2 and await raw_rows() == acknowledged


async def test_a_full_queue_answers_503_with_retry_after(serve: Any) -> None:
    async with serve(devices={"max_pending_rows": 1000}) as client:
        device = await register_device(client)
        store = client.app.state.devices.store
        release, entered = asyncio.Event(), asyncio.Event()
        original = store.write

        async def held_write(rows: Any, latest: Any, seen_at: Any, senders: Any = ()) -> Any:
            entered.set()
            await release.wait()
            return await original(rows, latest, seen_at, senders)

        store.write = held_write
        first = asyncio.create_task(send(client, device["token"], {"readings": [{"values": {"moisture": 1}}] * 600}))
        await entered.wait()  # the writer holds the first group; the next one waits in the queue
        second = asyncio.create_task(send(client, device["token"], {"readings": [{"values": {"moisture": 2}}] * 600}))
        writer = client.app.state.devices.writer
        while writer.pending_rows < 600:  # the second request is waiting in the queue
            await asyncio.sleep(0.001)
        third = await send(client, device["token"], {"readings": [{"values": {"moisture": 3}}] * 600})
        assert third.status_code == 503 and third.headers["retry-after"] == "1"
        release.set()
        assert ((await first).status_code, (await second).status_code) == (200, 200)
        assert await raw_rows() == 1200


async def test_stopping_finishes_the_write_under_way_and_refuses_new_ones(client: Any) -> None:
    device = await register_device(client)
    devices = client.app.state.devices
    release, entered = asyncio.Event(), asyncio.Event()
    original = devices.store.write

    async def held_write(rows: Any, latest: Any, seen_at: Any, senders: Any = ()) -> Any:
        entered.set()
        await release.wait()
        return await original(rows, latest, seen_at, senders)

    devices.store.write = held_write
    under_way = asyncio.create_task(send(client, device["token"], {"values": {"moisture": 1}}))
    await entered.wait()
    stopping = asyncio.create_task(devices.writer.stop())
    while not devices.writer.stopping:
        await asyncio.sleep(0.001)
    refused = await send(client, device["token"], {"values": {"moisture": 2}})
    assert refused.status_code == 503
    release.set()
    await stopping
    assert (await under_way).status_code == 200 and await raw_rows() == 1


async def test_refused_readings_go_to_the_devices_recent_errors_too(client: Any, fake_clock: FakeClock) -> None:
    """Staff find every refusal of a device in one list: one entry per refused reading, answered or not."""
    device = await register_device(client)
    errors_of = f"/api/v1/devices/{device['id']}/errors"
    assert (await send(client, device["token"], {"values": {"temperature": 20.0}})).status_code == 200
    assert (await client.get(errors_of, headers=ADMIN)).json()["refusedCount"] == 0  # nothing refused, nothing kept
    batch = {"readings": [{"values": {"temperature": 20.0}},
                          {"values": {"temperature": 99.0, "battery": "full"}},
                          {"values": {"humidity": 50}}]}
    refused = await send(client, device["token"], batch)
    assert (refused.status_code, refused.json()["refused"]) == (422, 2)
    listed = (await client.get(errors_of, headers=ADMIN)).json()
    assert listed["refusedCount"] == 2
    by_index = {entry["problems"][0]["index"]: entry for entry in listed["recent"]}
    assert set(by_index) == {1, 2} and {entry["transport"] for entry in listed["recent"]} == {"http"}
    both = by_index[1]
    assert both["reason"] == "above_maximum" and [p["reason"] for p in both["problems"]] == ["above_maximum",
                                                                                            "wrong_type"]
    assert both["message"] == "; ".join(p["message"] for p in both["problems"])
    assert both["problems"] == [p for p in refused.json()["errors"] if p["index"] == 1]
    assert by_index[2]["reason"] == "unknown_property" and by_index[2]["at"] == fake_clock.now().isoformat().replace(
        "+00:00", "Z")
    whole = await send(client, device["token"], {"values": {"temperature": 1.0}, "readings": []})
    assert whole.status_code in (400, 422)  # a body refused whole is no reading's refusal
    assert (await client.get(errors_of, headers=ADMIN)).json()["refusedCount"] == 2


async def test_a_large_refused_batch_is_counted_whole_and_keeps_its_newest(client: Any) -> None:
    device = await register_device(client)
    batch = {"readings": [{"values": {"temperature": 100.0 + n}} for n in range(KEPT + 5)]}
    refused = await send(client, device["token"], batch)
    assert (refused.status_code, refused.json()["refused"]) == (422, KEPT + 5)
    listed = (await client.get(f"/api/v1/devices/{device['id']}/errors", headers=ADMIN)).json()
    assert listed["refusedCount"] == KEPT + 5 and len(listed["recent"]) == KEPT
    indexes = [entry["problems"][0]["index"] for entry in listed["recent"]]
    assert indexes == list(range(KEPT + 4, 4, -1))  # newest first: the batch's last readings
    assert await DeviceErrorRecord.filter(device__uid=device["id"]).count() == KEPT
