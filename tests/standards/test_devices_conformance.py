"""Conformance of the device registry standard (``standards/devices/``), over HTTP.

Every answer validates against its JSON Schema, the examples are real requests the
reference implementation accepts, and the committed schemas are what the code generates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import ADMIN, DEMO_COUNTY, AppClient, running_app
from tests.standards.schema_check import errors
from tests.standards.standard import Standard

DEVICES = Standard("devices")
STANDARD, SCHEMAS, EXAMPLES = DEVICES.root, DEVICES.schemas, DEVICES.examples
schema, conforms, load_generator = DEVICES.schema, DEVICES.conforms, DEVICES.generator
HAND_WRITTEN = {"rejected-readings.schema.json", "device-ngsi-ld.schema.json", "device-model-ngsi-ld.schema.json"}


def example(name: str) -> dict[str, Any]:
    return DEVICES.example(f"{name}.json")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AppClient]:
    async with running_app(make_app()) as test_client:
        yield test_client


def test_committed_schemas_are_what_the_code_generates() -> None:
    generator = load_generator()
    generated = {name: generator.render(body) for name, body in generator.generated().items()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.schema.json") if p.name not in HAND_WRITTEN}
    assert committed == generated, "run standards/devices/generate_schemas.py and commit its output"


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.json")))
def test_every_example_validates_against_its_schema(name: str) -> None:
    """``<schema>.<label>.json`` is an example of ``schemas/<schema>.schema.json``."""
    assert errors(example(name), schema(name.split(".")[0])) == []


def test_the_schemas_reject_what_the_spec_forbids() -> None:
    reading = example("telemetry-in.single")
    assert errors({**reading, "device_id": "dev_x"}, schema("telemetry-in")) != []
    device = example("device-in.register")
    assert errors({**device, "location": {"type": "Point", "coordinates": [200, 24]}}, schema("device-in")) != []
    assert errors({**device, "serialNumber": ""}, schema("device-in")) != []
    frost = example("alert-rule.frost")
    assert errors({**frost, "kind": "forecast"}, schema("alert-rule")) != []
    assert errors({**frost, "severity": "urgent"}, schema("alert-rule")) != []
    assert errors({**example("alert-rule.waterlogged"), "change": 0}, schema("alert-rule")) != []
    assert errors({**example("alert-record.frost"), "state": "gone"}, schema("alert-record")) != []


async def test_the_lifecycle_of_a_device_conforms(client: AppClient) -> None:
    """The examples, sent in order: a model, a device, its readings, then reading them back."""
    model = conforms(await client.post("/api/v1/device-models/", json=example("device-model-in.soil-sensor"),
                                       headers=ADMIN), "device-model-out", 201)
    assert model["source"] == "county"
    conforms(await client.get("/api/v1/device-models/", headers=ADMIN), "device-model-list", 200)
    device = conforms(await client.post("/api/v1/devices/", json=example("device-in.register"), headers=ADMIN),
                      "device-token-out", 201)
    token = bearer(device["token"])
    conforms(await client.post("/api/v1/telemetry", json=example("telemetry-in.single"), headers=token),
             "telemetry-ack", 200)
    conforms(await client.post("/api/v1/telemetry", json=example("telemetry-in.batch"), headers=token),
             "telemetry-ack", 200)
    linked = await client.get(f"/api/v1/devices/{device['id']}", params={"format": "ngsi-ld"}, headers=ADMIN)
    assert linked.headers["content-type"].startswith("application/ld+json")
    unstamped = [{k: v for k, v in entity.items() if k not in ("id", "dateCreated")}
                 for entity in (conforms(linked, "device-ngsi-ld", 200), example("device-ngsi-ld.soil-sensor"))]
    assert unstamped[0] == unstamped[1]
    bad = {"readings": [{"values": {"soilMoisture": 30}}, {"values": {"soilMoisture": 131.5}},
                        {"values": {"humidity": 80, "batteryLevel": "full"}}]}
    refused = conforms(await client.post("/api/v1/telemetry", json=bad, headers=token), "rejected-readings", 422)
    assert (refused["accepted"], refused["refused"]) == (1, 2)
    uid = device["id"]
    conforms(await client.get(f"/api/v1/devices/{uid}/telemetry/latest", headers=ADMIN), "latest-out", 200)
    window = {"from": "2025-06-01T00:00:00Z", "to": "2025-06-01T03:00:00Z"}
    hourly = conforms(await client.get(f"/api/v1/devices/{uid}/telemetry", headers=ADMIN,
                                       params={**window, "agg": "avg", "interval": "1h", "property": "soilTemperature"}),
                      "telemetry-out", 200)
    points = hourly["series"][0]["points"]
    assert [p["value"] for p in points] == [pytest.approx((18.4 + 17.9 + 18.1 + 18.4) / 4)]  # the single one is 00:00Z
    conforms(await client.get(f"/api/v1/devices/{uid}/telemetry", headers=ADMIN, params=window), "telemetry-out", 200)
    conforms(await client.get("/api/v1/devices/", headers=ADMIN), "device-page", 200)
    conforms(await client.get(f"/api/v1/devices/{uid}/events", headers=ADMIN), "device-event-page", 200)
    errors_out = conforms(await client.get(f"/api/v1/devices/{uid}/errors", headers=ADMIN), "device-errors-out", 200)
    assert errors_out["refusedCount"] == 2 and [entry["transport"] for entry in errors_out["recent"]] == ["http"] * 2
    changed = await client.patch(f"/api/v1/devices/{uid}", json={"firmwareVersion": "1.5.0"}, headers=ADMIN)
    assert conforms(changed, "device-out", 200)["firmwareVersion"] == "1.5.0"
    conforms(await client.post(f"/api/v1/devices/{uid}/token", headers=ADMIN), "device-token-out", 200)


def linked_data(response: Any) -> Any:
    """The body of an ``application/ld+json`` answer."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    return response.json()


async def test_the_ngsi_ld_lists_conform(client: AppClient) -> None:
    """Devices and models as arrays of entities, each as the single read gives it; devices paged by ``Link``."""
    as_ngsi = {"format": "ngsi-ld"}
    conforms(await client.post("/api/v1/device-models/", json=example("device-model-in.soil-sensor"), headers=ADMIN),
             "device-model-out", 201)
    models = linked_data(await client.get("/api/v1/device-models/", params=as_ngsi, headers=ADMIN))
    assert models and all(errors(model, schema("device-model-ngsi-ld")) == [] for model in models)
    soil = linked_data(await client.get("/api/v1/device-models/minjiang.soil-3", params=as_ngsi, headers=ADMIN))
    assert soil in models
    unstamped = [{k: v for k, v in entity.items() if not k.startswith("date")}
                 for entity in (soil, example("device-model-ngsi-ld.soil-sensor"))]
    assert unstamped[0] == unstamped[1]
    for serial in ("MJ-S3-0001", "MJ-S3-0002"):
        registered = await client.post("/api/v1/devices/", json={**example("device-in.register"), "serialNumber": serial},
                                       headers=ADMIN)
        assert registered.status_code == 201, registered.text
    first = await client.get("/api/v1/devices/", params={**as_ngsi, "limit": 1}, headers=ADMIN)
    [device] = linked_data(first)
    assert errors(device, schema("device-ngsi-ld")) == [] and device["refDeviceModel"] == soil["id"]
    assert first.headers["link"].endswith('offset=1>; rel="next"')
    second = await client.get("/api/v1/devices/", params={**as_ngsi, "limit": 1, "offset": 1}, headers=ADMIN)
    assert len(linked_data(second)) == 1 and "link" not in second.headers


async def test_claiming_with_a_provisioning_key_conforms(client: AppClient) -> None:
    await client.post("/api/v1/device-models/", json=example("device-model-in.soil-sensor"), headers=ADMIN)
    asked = {**example("provisioning-key-in.tea-gardens"), "expiresAt": None}
    key = conforms(await client.post("/api/v1/provisioning-keys", json=asked, headers=ADMIN),
                   "provisioning-key-secret-out", 201)
    claimed = conforms(await client.post("/api/v1/devices:claim", json=example("claim-in.field"),
                                         headers=bearer(key["key"])), "device-token-out", 201)
    assert claimed["area"] == asked["area"] and claimed["refDeviceModel"] == asked["model"]
    listed = conforms(await client.get("/api/v1/provisioning-keys", headers=ADMIN), "provisioning-key-page", 200)
    assert listed["items"][0]["usesLeft"] == asked["uses"] - 1


async def open_alerts_of(client: AppClient, uid: str) -> dict[str, Any]:
    """The device's open alerts, once its readings are judged: that may follow the answer to the readings."""
    for _ in range(500):
        page = conforms(await client.get("/api/v1/alerts/", params={"device": uid, "state": "open"}, headers=ADMIN),
                        "alert-page", 200)
        if page["items"]:
            return page
        await asyncio.sleep(0.01)
    raise AssertionError("no alert was raised")


async def test_alert_rules_and_alerts_conform(client: AppClient) -> None:
    """A model with default rules, a device changing them, a frost alert, and its record in ``devices.alerts``."""
    office = (await client.post("/api/v1/organisations/", json={"name": "县大数据中心", "kind": "department",
                                                                "area": DEMO_COUNTY}, headers=ADMIN)).json()["id"]
    published = await client.put("/api/v1/datasets/devices.alerts", headers=ADMIN,
                                 json={"owner": office, "manager": office, "area": DEMO_COUNTY})
    assert published.status_code == 200, published.text
    model = conforms(await client.post("/api/v1/device-models/", json=example("device-model-in.soil-sensor"),
                                       headers=ADMIN), "device-model-out", 201)
    assert [rule["id"] for rule in model["alertRules"]] == ["frost", "silent"]
    uid = conforms(await client.post("/api/v1/devices/", json=example("device-in.register"), headers=ADMIN),
                   "device-token-out", 201)["id"]
    token = bearer((await client.post(f"/api/v1/devices/{uid}/token", headers=ADMIN)).json()["token"])
    rules = f"/api/v1/devices/{uid}/alert-rules"
    conforms(await client.get(rules, headers=ADMIN), "device-alert-rule-list", 200)

    conforms(await client.post("/api/v1/telemetry", json=example("telemetry-in.frost"), headers=token),
             "telemetry-ack", 200)
    [alert] = (await open_alerts_of(client, uid))["items"]
    assert (alert["rule"], alert["value"], alert["raisedAt"]) == ("frost", -1.2, "2025-12-19T22:10:00Z")
    conforms(await client.get(f"/api/v1/alerts/{alert['id']}", headers=ADMIN), "alert-out", 200)
    conforms(await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=ADMIN), "alert-out", 200)
    record = (await client.get(f"/api/v1/datasets/devices.alerts/records/{alert['id']}", headers=ADMIN)).json()
    assert errors(record["data"], schema("alert-record")) == []

    for name in ("alert-rule.frost", "alert-rule.waterlogged", "alert-rule.no-moisture"):
        rule = example(name)
        changed = conforms(await client.put(f"{rules}/{rule['id']}", json=rule, headers=ADMIN),
                           "device-alert-rule-out", 200)
        assert changed["source"] == "device" and changed["rule"]["enabled"] == rule.get("enabled", True)
    conforms(await client.post(f"{rules}/silent/disable", headers=ADMIN), "device-alert-rule-out", 200)
    listed = conforms(await client.get(rules, headers=ADMIN), "device-alert-rule-list", 200)
    assert [(r["source"], r["rule"]["id"], r["rule"]["enabled"]) for r in listed] == [
        ("device", "frost", True), ("device", "silent", False), ("device", "waterlogged", True),
        ("device", "no-moisture", False)]
    assert (await client.delete(f"{rules}/waterlogged", headers=ADMIN)).status_code == 204
    bad = await client.put(f"{rules}/frost", json={**example("alert-rule.frost"), "property": "rain"}, headers=ADMIN)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "property")
