"""Gateways: one batch carries the readings of the devices behind a gateway, and of no other device."""

from __future__ import annotations

from typing import Any

import msgspec

from tests.conftest import ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE
from tests.devices.conftest import register_device, send
from tests.devices.test_ingest import raw_rows, reasons
from tulou.devices.broker import telemetry_topic
from tulou.devices.models import Device
from tulou.devices.mqtt_readings import MessageChecker, Senders
from tulou.devices.mqtt_wire import Publication

GATEWAY_MODEL = {
    "id": "yunxi_lora_gw", "category": "gateway", "manufacturerName": "Yunxi Instruments", "modelName": "LoRa-GW1",
    "telemetry": {"signal": {"type": "number", "unit": "DBM", "minimum": -140, "maximum": 0}},
    "heartbeatSeconds": 300,
}
#: Another village of Shangping's township, for a gateway that covers two villages.
YUNXI_SECOND_VILLAGE = "350899100202"


async def register_gateway(client: Any, serial: str = "GW-1", area: str = SHANGPING_VILLAGE) -> dict[str, Any]:
    if (await client.get(f"/api/v1/device-models/{GATEWAY_MODEL['id']}", headers=ADMIN)).status_code == 404:
        created = await client.post("/api/v1/device-models/", json=GATEWAY_MODEL, headers=ADMIN)
        assert created.status_code == 201, created.text
    body = {"model": GATEWAY_MODEL["id"], "serialNumber": serial, "name": f"Gateway {serial}", "area": area}
    response = await client.post("/api/v1/devices/", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_gateway_sends_for_the_devices_behind_it_and_no_other(client: Any) -> None:
    gateway = await register_gateway(client)
    probe = await register_device(client, serial="SN-1", gateway=gateway["id"])
    assert probe["gateway"] == gateway["id"]
    stranger = await register_device(client, serial="SN-2")
    batch = {"readings": [
        {"values": {"signal": -90}},
        {"device": probe["id"], "t": "2025-06-01T08:00:00Z", "values": {"temperature": 12.5, "moisture": 30}},
        {"device": probe["id"], "values": {"temperature": 99}},
        {"device": stranger["id"], "values": {"temperature": 10}},
    ]}
    response = await send(client, gateway["token"], batch)
    assert response.status_code == 422, response.text
    assert reasons(response) == [(2, "temperature", "above_maximum"), (3, None, "device_not_allowed")]
    assert response.json()["accepted"] == 2
    assert (await raw_rows(gateway["id"]), await raw_rows(probe["id"]), await raw_rows(stranger["id"])) == (1, 2, 0)
    latest = await client.get(f"/api/v1/devices/{probe['id']}/telemetry/latest", headers=ADMIN)
    assert latest.json()["values"]["temperature"]["value"] == 12.5


async def test_a_gateway_relaying_only_others_readings_is_seen_online(client: Any) -> None:
    gateway = await register_gateway(client)
    probe = await register_device(client, serial="SN-1", gateway=gateway["id"])
    response = await send(client, gateway["token"], {"device": probe["id"], "values": {"temperature": 5}})
    assert response.json() == {"accepted": 1}
    for device in (gateway, probe):
        found = (await client.get(f"/api/v1/devices/{device['id']}", headers=ADMIN)).json()
        assert (found["connectionState"], found["lastSeen"] is not None) == ("online", True)


async def test_taking_a_device_from_its_gateway_stops_the_relay_at_once(client: Any) -> None:
    gateway = await register_gateway(client)
    probe = await register_device(client, serial="SN-1", gateway=gateway["id"])
    reading = {"device": probe["id"], "values": {"temperature": 5}}
    assert (await send(client, gateway["token"], reading)).status_code == 200  # and now remembered
    moved = await client.patch(f"/api/v1/devices/{probe['id']}", json={"gateway": None}, headers=ADMIN)
    assert moved.status_code == 200 and moved.json()["gateway"] is None
    refused = await send(client, gateway["token"], reading)
    assert reasons(refused) == [(0, None, "device_not_allowed")]
    assert (await send(client, probe["token"], {"values": {"temperature": 6}})).status_code == 200


async def test_a_disabled_device_behind_a_gateway_is_not_relayed(client: Any) -> None:
    gateway = await register_gateway(client)
    probe = await register_device(client, serial="SN-1", gateway=gateway["id"])
    reading = {"device": probe["id"], "values": {"temperature": 5}}
    assert (await send(client, gateway["token"], reading)).status_code == 200
    disabled = await client.post(f"/api/v1/devices/{probe['id']}/disable", headers=ADMIN)
    assert disabled.status_code == 200, disabled.text
    assert reasons(await send(client, gateway["token"], reading)) == [(0, None, "device_not_allowed")]


async def test_only_a_gateway_of_the_same_township_may_be_named(client: Any) -> None:
    gateway = await register_gateway(client)
    sensor = await register_device(client, serial="SN-1")
    elsewhere = await register_gateway(client, serial="GW-2", area=NANYANG_VILLAGE)
    body = {"model": "yunxi_soil3", "serialNumber": "SN-9", "name": "Soil", "area": SHANGPING_VILLAGE}
    for named, fault in ((sensor["id"], "is not a gateway"), (elsewhere["id"], "another township"),
                         ("dev_aaaaaaaaaaaa", "does not exist")):
        response = await client.post("/api/v1/devices/", json={**body, "gateway": named},
                                     headers={**ADMIN, "Accept-Language": "en"})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "gateway" and fault in response.text
    nested = {"model": GATEWAY_MODEL["id"], "serialNumber": "GW-3", "name": "Gateway", "area": SHANGPING_VILLAGE,
              "gateway": gateway["id"]}
    assert (await client.post("/api/v1/devices/", json=nested, headers=ADMIN)).status_code == 422
    second_village = await register_device(client, serial="SN-3", area=YUNXI_SECOND_VILLAGE, gateway=gateway["id"])
    assert second_village["gateway"] == gateway["id"]
    moved = await client.patch(f"/api/v1/devices/{second_village['id']}", json={"area": NANYANG_VILLAGE},
                               headers=ADMIN)
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "gateway"


async def test_over_mqtt_a_gateway_publishes_its_probes_readings_on_its_own_topic(client: Any) -> None:
    """The broker lets a device publish on its own topic only; what the gateway publishes there is checked like a
    request: the probe's reading is stored as the probe's, a stranger's is refused and kept in the gateway's errors."""
    gateway = await register_gateway(client)
    probe = await register_device(client, serial="SN-1", gateway=gateway["id"])
    stranger = await register_device(client, serial="SN-2")
    devices = client.app.state.devices
    checker = MessageChecker(Senders(client.app.state.platform.principal_cache.signal), devices.gateways,
                             devices.models, devices.settings, devices.store.encode_time)
    payload = {"readings": [{"device": probe["id"], "values": {"temperature": 7.5}},
                            {"device": stranger["id"], "values": {"temperature": 8}}]}
    outcome = await checker.check([Publication(telemetry_topic(gateway["id"]), msgspec.json.encode(payload), 1, 1)])
    assert outcome.accepted == 1 and [row[0] for row in outcome.rows] == [(await Device.get(uid=probe["id"])).id]
    assert [(r.reason, r.problems[0]["index"]) for r in outcome.refusals] == [("device_not_allowed", 1)]
    assert outcome.senders == {(await Device.get(uid=gateway["id"])).id}
