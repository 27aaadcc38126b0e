"""Devices as Smart Data Models Device entities (NGSI-LD key-values) with their latest values, and models as
DeviceModel entities."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.conftest import ADMIN, NANYANG_VILLAGE, SHANGPING_VILLAGE, SHIMEN_TOWN
from tests.devices.conftest import register_device, send, staff_token

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=timezone.utc)
AS_NGSI = {"format": "ngsi-ld"}


async def entity_of(client: Any, uid: str, headers: dict[str, str] = ADMIN) -> Any:
    return await client.get(f"/api/v1/devices/{uid}", params=AS_NGSI, headers=headers)


async def test_a_device_is_a_smart_data_models_device_with_its_latest_values(client: Any) -> None:
    device = await register_device(client, location={"type": "Point", "coordinates": [118.2, 26.6]},
                                   dateInstalled="2025-04-01", firmwareVersion="1.4.2")
    await send(client, device["token"], {"t": T0.isoformat(), "values": {"temperature": 18.5, "charging": True}})
    later = {"t": (T0 + timedelta(minutes=10)).isoformat(), "values": {"battery": 87, "status": "ok;dry"}}
    await send(client, device["token"], later)

    response = await entity_of(client, device["id"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    body = response.json()
    assert body["id"] == f"urn:ngsi-ld:Device:{device['id']}" and body["type"] == "Device"
    assert body["category"] == ["sensor"] and body["refDeviceModel"] == "urn:ngsi-ld:DeviceModel:yunxi_soil3"
    assert body["controlledProperty"] == ["battery", "charging", "moisture", "status", "temperature"]
    assert (body["serialNumber"], body["name"], body["deviceState"]) == ("SN-0001", "Soil SN-0001", "active")
    assert (body["firmwareVersion"], body["dateInstalled"]) == ("1.4.2", "2025-04-01T00:00:00Z")
    assert body["location"] == {"type": "Point", "coordinates": [118.2, 26.6]}
    assert body["dateLastValueReported"] == "2025-06-01T08:10:00Z"
    assert (body["temperature"], body["charging"], body["battery"], body["status"]) == (18.5, True, 87, "ok;dry")
    pairs = dict(pair.split("=") for pair in unquote(body["value"]).split(";"))
    assert {name: unquote(text) for name, text in pairs.items()} == {
        "battery": "87", "charging": "true", "status": "ok;dry", "temperature": "18.5"}
    assert body["areaServed"] == SHANGPING_VILLAGE and body["address"]["addressCountry"] == "CN"
    assert body["@context"][0] == "https://smartdatamodels.org/context.jsonld"
    assert None not in body.values() and "moisture" not in body  # never reported
    plain = await client.get(f"/api/v1/devices/{device['id']}", headers=ADMIN)
    assert plain.headers["content-type"].startswith("application/json") and plain.json()["type"] == "Device"


async def test_properties_named_like_device_attributes_stay_in_value(client: Any) -> None:
    model = {"id": "vendor.tracker", "category": "beacon", "manufacturerName": "Vendor", "modelName": "Tracker",
             "telemetry": {"batteryLevel": {"type": "number", "unit": "P1"}, "speed": {"type": "number"}}}
    assert (await client.post("/api/v1/device-models/", json=model, headers=ADMIN)).status_code == 201
    device = await register_device(client, model="vendor.tracker")
    await send(client, device["token"], {"t": T0.isoformat(), "values": {"batteryLevel": 64, "speed": 3.5}})
    body = (await entity_of(client, device["id"])).json()
    assert "batteryLevel" not in body and body["speed"] == 3.5  # Device's batteryLevel is 0 to 1, not percent
    assert unquote(body["value"]) == "batteryLevel=64.0;speed=3.5"


async def test_a_silent_device_has_no_values_and_no_empty_attributes(client: Any) -> None:
    device = await register_device(client)
    body = (await entity_of(client, device["id"])).json()
    assert not {"value", "dateLastValueReported", "location", "firmwareVersion", "dateInstalled", "owner"} & set(body)


async def test_the_entity_needs_telemetry_read_in_the_device_village(client: Any) -> None:
    device = await register_device(client)
    role = {"name": "device_clerk", "title": "设备登记员", "permissions": ["device:read"]}
    assert (await client.post("/api/v1/roles/", json=role, headers=ADMIN)).status_code == 201
    clerk = {"Authorization": f"Bearer {await staff_token(client, 'clerk', 'device_clerk', SHANGPING_VILLAGE)}"}
    assert (await client.get(f"/api/v1/devices/{device['id']}", headers=clerk)).status_code == 200
    assert (await entity_of(client, device["id"], clerk)).status_code == 403
    elsewhere = await staff_token(client, "far", "township_staff", SHIMEN_TOWN)
    missing = await entity_of(client, device["id"], {"Authorization": f"Bearer {elsewhere}"})
    assert missing.status_code == 404


def next_page(response: Any) -> dict[str, list[str]] | None:
    """The query of the ``Link: <...>; rel="next"`` header, or None on the last page."""
    link = response.headers.get("link")
    if link is None:
        return None
    target, relation = link.split(";")
    assert relation.strip() == 'rel="next"' and urlsplit(target.strip()[1:-1]).path.rstrip("/") == "/api/v1/devices"
    return parse_qs(urlsplit(target.strip()[1:-1]).query)


async def test_the_device_list_is_an_array_of_entities_paged_by_link(client: Any) -> None:
    first = await register_device(client, serial="SN-1")
    await send(client, first["token"], {"t": T0.isoformat(), "values": {"temperature": 18.5}})
    uids = [first["id"], *[(await register_device(client, serial=f"SN-{n}"))["id"] for n in (2, 3)]]
    await register_device(client, serial="SN-9", area=NANYANG_VILLAGE)
    query = {**AS_NGSI, "area": SHANGPING_VILLAGE, "limit": "2"}
    page = await client.get("/api/v1/devices/", params=query, headers=ADMIN)
    assert page.status_code == 200 and page.headers["content-type"].startswith("application/ld+json")
    assert [e["id"] for e in page.json()] == [f"urn:ngsi-ld:Device:{uid}" for uid in uids[:2]]
    assert page.json()[0]["temperature"] == 18.5 and "value" not in page.json()[1]
    assert page.json()[0] == (await entity_of(client, uids[0])).json()  # the same entity as read alone
    following = next_page(page)
    assert following == {"format": ["ngsi-ld"], "area": [SHANGPING_VILLAGE], "limit": ["2"], "offset": ["2"]}
    last = await client.get("/api/v1/devices/", params={k: v[0] for k, v in following.items()}, headers=ADMIN)
    assert [e["id"] for e in last.json()] == [f"urn:ngsi-ld:Device:{uids[2]}"] and next_page(last) is None
    plain = await client.get("/api/v1/devices/", params={"limit": "2"}, headers=ADMIN)
    assert plain.json()["total"] == 4 and "link" not in plain.headers


async def test_the_device_list_needs_telemetry_read_and_keeps_to_its_areas(client: Any) -> None:
    await register_device(client, serial="SN-1")
    far = await register_device(client, serial="SN-2", area=NANYANG_VILLAGE)
    role = {"name": "device_clerk", "title": "设备登记员", "permissions": ["device:read"]}
    assert (await client.post("/api/v1/roles/", json=role, headers=ADMIN)).status_code == 201
    clerk = {"Authorization": f"Bearer {await staff_token(client, 'clerk', 'device_clerk', SHANGPING_VILLAGE)}"}
    assert (await client.get("/api/v1/devices/", headers=clerk)).status_code == 200
    assert (await client.get("/api/v1/devices/", params=AS_NGSI, headers=clerk)).status_code == 403
    staff = {"Authorization": f"Bearer {await staff_token(client, 'far', 'township_staff', SHIMEN_TOWN)}"}
    listed = await client.get("/api/v1/devices/", params=AS_NGSI, headers=staff)
    assert [e["id"] for e in listed.json()] == [f"urn:ngsi-ld:Device:{far['id']}"]


async def test_device_models_are_smart_data_models_device_models(client: Any) -> None:
    device = await register_device(client)
    body = (await entity_of(client, device["id"])).json()
    listed = await client.get("/api/v1/device-models/", params=AS_NGSI, headers=ADMIN)
    assert listed.status_code == 200 and listed.headers["content-type"].startswith("application/ld+json")
    by_id = {e["id"]: e for e in listed.json()}
    soil = by_id[body["refDeviceModel"]]  # a device's refDeviceModel names an entity of the list
    assert soil["type"] == "DeviceModel" and soil["category"] == ["sensor"]
    assert soil["controlledProperty"] == body["controlledProperty"]
    assert {"manufacturerName", "modelName", "dateCreated", "dateModified", "@context"} <= set(soil)
    assert not {"telemetry", "alertRules", "heartbeatSeconds"} & set(soil) and None not in soil.values()
    alone = await client.get("/api/v1/device-models/yunxi_soil3", params=AS_NGSI, headers=ADMIN)
    assert alone.headers["content-type"].startswith("application/ld+json") and alone.json() == soil
