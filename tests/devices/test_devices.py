"""Devices: registered in villages, seen only within the caller's areas, re-keyed and retired at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN
from tests.devices.conftest import SOIL_MODEL, bearer, register_device, send, staff_token
from tulou.audit.models import AuditEntry
from tulou.devices.models import Device

MEILIN_VILLAGE = "350899200201"
DEVICES = "/api/v1/devices/"
READING = {"values": {"temperature": 18.5}}


async def test_a_registered_device_shows_its_token_once_and_keeps_only_a_digest(client: Any) -> None:
    device = await register_device(client, location={"type": "Point", "coordinates": [117.1, 24.9]},
                                   dateInstalled="2025-04-01", firmwareVersion="1.2.0")
    assert device["id"].startswith("dev_") and len(device["id"]) == 16
    assert device["token"].startswith("tld.") and device["deviceState"] == "active"
    assert device["connectionState"] == "unknown" and device["location"]["coordinates"] == [117.1, 24.9]
    stored = await Device.get(uid=device["id"])
    assert device["token"] not in stored.token_hash and len(stored.token_hash) == 64
    read = await client.get(f"{DEVICES}{device['id']}", headers=ADMIN)
    assert read.status_code == 200 and "token" not in read.json()
    assert read.json()["dateInstalled"] == "2025-04-01" and read.json()["firmwareVersion"] == "1.2.0"
    assert await AuditEntry.filter(action="device.created", target_id=device["id"]).count() == 1


async def test_one_model_never_has_two_devices_with_one_serial_number(client: Any) -> None:
    await register_device(client, serial="SN-7")
    again = await client.post(DEVICES, json={"model": SOIL_MODEL, "serialNumber": "SN-7", "name": "x",
                                             "area": SHANGPING_VILLAGE}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "serialNumber"


@pytest.mark.parametrize("body, field", [
    ({"area": YUNXI_TOWN}, "area"),  # a township is not a village
    ({"model": "no_such_model"}, "model"),
    ({"owner": 999_999}, "owner"),
])
async def test_registration_names_the_faulty_field(client: Any, body: dict[str, Any], field: str) -> None:
    full = {"model": SOIL_MODEL, "serialNumber": "SN-1", "name": "Soil", "area": SHANGPING_VILLAGE, **body}
    response = await client.post(DEVICES, json=full, headers=ADMIN)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_staff_of_one_township_get_404_for_another_townships_devices(client: Any) -> None:
    theirs = await register_device(client, serial="SN-B", area=MEILIN_VILLAGE)
    ours = await register_device(client, serial="SN-A")
    staff = bearer(await staff_token(client, "lin", "township_staff", YUNXI_TOWN))
    uid = theirs["id"]
    calls = [
        ("GET", f"{DEVICES}{uid}", None), ("PATCH", f"{DEVICES}{uid}", {"name": "mine now"}),
        ("POST", f"{DEVICES}{uid}/token", None), ("POST", f"{DEVICES}{uid}/disable", None),
        ("POST", f"{DEVICES}{uid}/decommission", None), ("GET", f"{DEVICES}{uid}/events", None),
        ("GET", f"{DEVICES}{uid}/telemetry", None), ("GET", f"{DEVICES}{uid}/telemetry/latest", None),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=staff)
        assert response.status_code == 404, f"{method} {url}: {response.status_code}"
    listed = await client.get(DEVICES, headers=staff)
    assert [d["id"] for d in listed.json()["items"]] == [ours["id"]]
    assert (await client.get(DEVICES, params={"area": MEILIN_TOWNSHIP}, headers=staff)).status_code == 404
    moved = await client.patch(f"{DEVICES}{ours['id']}", json={"area": MEILIN_VILLAGE}, headers=staff)
    assert moved.status_code == 404
    placed = await client.post(DEVICES, json={"model": SOIL_MODEL, "serialNumber": "SN-C", "name": "x",
                                              "area": MEILIN_VILLAGE}, headers=staff)
    assert placed.status_code == 404
    assert (await Device.get(uid=uid)).name == "Soil SN-B"


async def test_the_village_committee_reads_devices_but_does_not_change_them(client: Any) -> None:
    device = await register_device(client)
    committee = bearer(await staff_token(client, "wu", "village_committee", SHANGPING_VILLAGE))
    assert (await client.get(f"{DEVICES}{device['id']}", headers=committee)).status_code == 200
    assert (await client.get(f"{DEVICES}{device['id']}/telemetry/latest", headers=committee)).status_code == 200
    assert (await client.post(f"{DEVICES}{device['id']}/token", headers=committee)).status_code == 403
    assert (await client.patch(f"{DEVICES}{device['id']}", json={"name": "x"}, headers=committee)).status_code == 403


async def test_updates_change_only_what_is_sent(client: Any) -> None:
    device = await register_device(client, location={"type": "Point", "coordinates": [117.1, 24.9]})
    response = await client.patch(f"{DEVICES}{device['id']}", json={"name": "North field", "location": None},
                                  headers=ADMIN)
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["location"]) == ("North field", None)
    assert response.json()["serialNumber"] == device["serialNumber"]


async def test_a_rotated_token_stops_at_once_and_the_new_one_works(client: Any) -> None:
    device = await register_device(client)
    old = device["token"]
    assert (await send(client, old, READING)).status_code == 200  # now remembered by the process
    rotated = await client.post(f"{DEVICES}{device['id']}/token", headers=ADMIN)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    refused = await send(client, old, READING)
    assert refused.status_code == 401 and "invalid_token" in refused.headers["www-authenticate"]
    assert (await send(client, rotated.json()["token"], READING)).status_code == 200


async def test_disabling_stops_the_token_at_once_and_enabling_restores_it(client: Any) -> None:
    device = await register_device(client)
    assert (await send(client, device["token"], READING)).status_code == 200
    disabled = await client.post(f"{DEVICES}{device['id']}/disable", headers=ADMIN)
    assert disabled.json()["deviceState"] == "disabled"
    assert (await send(client, device["token"], READING)).status_code == 401
    await client.post(f"{DEVICES}{device['id']}/enable", headers=ADMIN)
    assert (await send(client, device["token"], READING)).status_code == 200


async def test_a_decommissioned_device_stays_retired(client: Any) -> None:
    device = await register_device(client)
    assert (await send(client, device["token"], READING)).status_code == 200
    retired = await client.post(f"{DEVICES}{device['id']}/decommission", headers=ADMIN)
    assert retired.json()["deviceState"] == "decommissioned"
    assert (await send(client, device["token"], READING)).status_code == 401
    assert (await client.post(f"{DEVICES}{device['id']}/enable", headers=ADMIN)).status_code == 409
    assert (await client.post(f"{DEVICES}{device['id']}/token", headers=ADMIN)).status_code == 409
    readings = await client.get(f"{DEVICES}{device['id']}/telemetry/latest", headers=ADMIN)
    assert readings.json()["values"]["temperature"]["value"] == 18.5


async def test_a_device_token_opens_no_staff_route_and_a_staff_token_sends_no_telemetry(client: Any) -> None:
    device = await register_device(client)
    for url in ("/api/v1/me/", DEVICES, f"{DEVICES}{device['id']}"):
        assert (await client.get(url, headers=bearer(device["token"]))).status_code == 401, url
    staff = await staff_token(client, "lin", "township_admin", YUNXI_TOWN)
    assert (await send(client, staff, READING)).status_code == 401
    assert (await client.post("/api/v1/telemetry", json=READING)).status_code == 401


async def test_lists_filter_by_area_model_and_state(client: Any) -> None:
    first = await register_device(client, serial="SN-1")
    await register_device(client, serial="SN-2", area=MEILIN_VILLAGE)
    await client.post(f"{DEVICES}{first['id']}/disable", headers=ADMIN)
    by_area = await client.get(DEVICES, params={"area": MEILIN_TOWNSHIP}, headers=ADMIN)
    assert [d["serialNumber"] for d in by_area.json()["items"]] == ["SN-2"]
    by_state = await client.get(DEVICES, params={"state": "disabled", "model": SOIL_MODEL}, headers=ADMIN)
    assert [d["serialNumber"] for d in by_state.json()["items"]] == ["SN-1"]
