"""Provisioning keys: installers claim devices in the field, within the key's model, village, uses and lifetime."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import ADMIN, SHANGPING_VILLAGE, YUNXI_TOWN
from tests.devices.conftest import SOIL_MODEL, FakeClock, bearer, send, staff_token
from tulou.devices.models import Device, ProvisioningKey

KEYS = "/api/v1/provisioning-keys"
CLAIM = "/api/v1/devices:claim"
MEILIN_VILLAGE = "350899200201"


async def make_key(client: Any, uses: int = 20, area: str = SHANGPING_VILLAGE, headers: dict[str, str] = ADMIN,
                   **extra: Any) -> dict[str, Any]:
    response = await client.post(KEYS, json={"model": SOIL_MODEL, "area": area, "uses": uses, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def claim(client: Any, key: str, serial: str, **extra: Any) -> Any:
    return await client.post(CLAIM, json={"serialNumber": serial, **extra}, headers=bearer(key))


async def test_an_installer_claims_twenty_sensors_with_one_key(client: Any) -> None:
    key = await make_key(client, uses=20, label="north fields")
    assert key["key"].startswith("tlp.") and key["usesLeft"] == 20
    claims = await asyncio.gather(*(claim(client, key["key"], f"SOIL-{n:03d}") for n in range(20)))
    assert [c.status_code for c in claims] == [201] * 20
    devices = [c.json() for c in claims]
    assert len({d["id"] for d in devices}) == 20 and all(d["token"].startswith("tld.") for d in devices)
    assert {d["area"] for d in devices} == {SHANGPING_VILLAGE} and devices[0]["refDeviceModel"] == SOIL_MODEL
    sent = [await send(client, d["token"], {"values": {"temperature": 4.0}}) for d in devices]
    assert [response.status_code for response in sent] == [200] * 20
    spent = await claim(client, key["key"], "SOIL-999")
    assert spent.status_code == 401
    listed = await client.get(KEYS, headers=ADMIN)
    assert listed.json()["items"][0]["usesLeft"] == 0 and "key" not in listed.json()["items"][0]
    stored = await ProvisioningKey.get(id=key["id"])
    assert key["key"] not in stored.key_hash


async def test_a_lost_answer_can_be_claimed_again_until_the_device_reports(client: Any) -> None:
    key = await make_key(client, uses=1)
    first = (await claim(client, key["key"], "SOIL-001")).json()
    again = await claim(client, key["key"], "SOIL-001")
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert (await send(client, first["token"], {"values": {"temperature": 4.0}})).status_code == 401
    assert (await send(client, again.json()["token"], {"values": {"temperature": 4.0}})).status_code == 200
    after_use = await claim(client, key["key"], "SOIL-001")
    assert after_use.status_code == 409
    assert await Device.filter(serial_number="SOIL-001").count() == 1


async def test_a_device_moved_out_of_the_keys_village_cannot_be_claimed_again(client: Any) -> None:
    """Its key belongs to the village it was claimed into: moved to another township, the device
    gets no new token from that key, and its claim stays where staff put it."""
    key = await make_key(client, uses=1)
    first = (await claim(client, key["key"], "SOIL-001")).json()
    moved = await client.patch(f"/api/v1/devices/{first['id']}", json={"area": MEILIN_VILLAGE}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    again = await claim(client, key["key"], "SOIL-001")
    assert again.status_code == 409
    assert (await send(client, first["token"], {"values": {"temperature": 4.0}})).status_code == 200


async def test_another_key_cannot_take_a_claimed_serial_number(client: Any) -> None:
    first, second = await make_key(client), await make_key(client)
    assert (await claim(client, first["key"], "SOIL-001")).status_code == 201
    taken = await claim(client, second["key"], "SOIL-001")
    assert taken.status_code == 409
    listed = await client.get(KEYS, headers=ADMIN)
    assert {k["id"]: k["usesLeft"] for k in listed.json()["items"]}[second["id"]] == 20


async def test_expired_revoked_and_unknown_keys_claim_nothing(client: Any, fake_clock: FakeClock) -> None:
    expiring = await make_key(client)
    revoked = await make_key(client)
    assert (await client.post(f"{KEYS}/{revoked['id']}/revoke", headers=ADMIN)).json()["revoked"] is True
    fake_clock.advance(days=8)
    for key in (expiring["key"], revoked["key"], "tlp.not-a-key-at-all"):
        assert (await claim(client, key, "SOIL-001")).status_code == 401
    assert (await claim(client, "tld.a-device-token", "SOIL-001")).status_code == 401
    assert (await client.post(CLAIM, json={"serialNumber": "SOIL-001"})).status_code == 401
    assert await Device.all().count() == 0


async def test_keys_are_scoped_like_devices(client: Any) -> None:
    staff = bearer(await staff_token(client, "lin", "township_staff", YUNXI_TOWN))
    theirs = await make_key(client, area=MEILIN_VILLAGE)
    ours = await make_key(client, headers=staff)
    assert (await client.post(KEYS, json={"model": SOIL_MODEL, "area": MEILIN_VILLAGE, "uses": 1},
                              headers=staff)).status_code == 404
    assert (await client.post(f"{KEYS}/{theirs['id']}/revoke", headers=staff)).status_code == 404
    listed = await client.get(KEYS, headers=staff)
    assert [k["id"] for k in listed.json()["items"]] == [ours["id"]]


async def test_a_key_lives_a_week_unless_told_otherwise_and_at_most_a_year(client: Any, fake_clock: FakeClock) -> None:
    key = await make_key(client)
    assert key["expiresAt"].startswith(fake_clock.advance(days=7).date().isoformat())
    too_long = await client.post(KEYS, json={"model": SOIL_MODEL, "area": SHANGPING_VILLAGE, "uses": 1,
                                             "expiresAt": "2999-01-01T00:00:00+08:00"}, headers=ADMIN)
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "expiresAt"
