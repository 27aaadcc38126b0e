"""``devices.alerts``: each raise, clear and acknowledgement becomes a record version, a change and an event."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import ADMIN, DEMO_COUNTY, YUNXI_TOWN
from tests.devices.conftest import FakeClock, FieldPlugin, register_device
from tests.devices.test_alerts import alerts_of, reading
from tulou.devices import alerts as alert_service
from tulou.devices.alert_models import Alert
from tulou.devices.models import DeviceEventRecord
from tulou.exchange.models import Change, Delivery, Record

DATASET = "/api/v1/datasets/devices.alerts"


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return {**settings, "exchange": {"webhook_allow": "127.0.0.1"}}


async def publish(client: Any) -> int:
    """The county's big-data office keeps the alerts, county-wide."""
    made = await client.post("/api/v1/organisations/", json={"name": "县大数据中心", "kind": "department",
                                                              "area": DEMO_COUNTY}, headers=ADMIN)
    office = made.json()["id"]
    published = await client.put(DATASET, json={"owner": office, "manager": office, "area": DEMO_COUNTY},
                                 headers=ADMIN)
    assert published.status_code == 200, published.text
    return office


async def test_the_core_declares_the_alerts_dataset_as_a_draft(client: Any, fake_clock: FakeClock) -> None:
    declared = (await client.get(DATASET, headers=ADMIN)).json()
    assert (declared["plugin"], declared["status"], declared["versions"]) == ("tulou", "draft", ["1.0"])
    assert declared["smart_data_model"] == "Alert" and declared["field_map"]["device"]["attribute"] == "alertSource"
    device = await register_device(client)
    await reading(client, device, temperature=-1)
    assert len(await alerts_of(client, device)) == 1
    assert await Record.filter(dataset_id="devices.alerts").count() == 0  # nobody may write a draft


async def test_raise_clear_and_acknowledge_feed_the_dataset_and_its_subscribers(
    client: Any, fake_clock: FakeClock,
) -> None:
    await publish(client)
    subscribed = await client.post(f"{DATASET}/subscriptions/", json={"url": "http://127.0.0.1:9/alerts"},
                                   headers=ADMIN)
    assert subscribed.status_code == 201, subscribed.text
    device = await register_device(client)
    await reading(client, device, temperature=-1.5)
    [alert] = await alerts_of(client, device)
    record = (await client.get(f"{DATASET}/records/{alert['id']}", headers=ADMIN)).json()
    assert record["area"] == device["area"] and record["data"] == {
        "device": device["id"], "refDeviceModel": device["refDeviceModel"], "rule": "frost", "kind": "threshold",
        "property": "temperature", "severity": "high", "description": "土壤霜冻", "state": "open",
        "raisedAt": alert["raisedAt"], "value": -1.5,
    }
    fake_clock.advance(minutes=10)
    await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=ADMIN)
    fake_clock.advance(minutes=10)
    await reading(client, device, temperature=3)

    feed = (await client.get(f"{DATASET}/changes", headers=ADMIN)).json()["changes"]
    assert [(c["op"], c["id"], c["version"], c["data"]["state"]) for c in feed] == [
        ("create", str(alert["id"]), 1, "open"), ("update", str(alert["id"]), 2, "open"),
        ("update", str(alert["id"]), 3, "cleared")]
    assert "acknowledgedAt" in feed[1]["data"] and feed[2]["data"]["clearedAt"] is not None
    assert await Delivery.filter(subscription_id=subscribed.json()["id"]).count() == 3

    [alert_entity] = (await client.get(f"{DATASET}/records/", params={"format": "ngsi-ld"}, headers=ADMIN)).json()
    assert alert_entity["type"] == "Alert" and alert_entity["alertSource"] == f"urn:ngsi-ld:Device:{device['id']}"
    assert (alert_entity["severity"], alert_entity["validFrom"]) == ("high", alert["raisedAt"])


async def test_an_alert_that_cannot_be_written_to_the_dataset_is_not_raised_either(
    client: Any, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    await publish(client)
    device = await register_device(client)

    async def broken(*_args: Any) -> bool:
        await Record.filter(dataset_id="devices.alerts").count()
        raise ConnectionError("the disk is full")

    monkeypatch.setattr(alert_service, "put_alert_record", broken)
    with caplog.at_level(logging.ERROR):
        await reading(client, device, temperature=-2)
    assert "the disk is full" in caplog.text
    assert await Alert.all().count() == 0 and await DeviceEventRecord.filter(kind="alert").count() == 0
    assert await Change.filter(dataset_id="devices.alerts").count() == 0

    monkeypatch.undo()
    await reading(client, device, temperature=-2)  # the next reading raises it, once
    assert len(await alerts_of(client, device, state="open")) == 1
    assert await Record.filter(dataset_id="devices.alerts").count() == 1


async def test_alerts_outside_the_published_area_stay_out_of_the_dataset(
    client: Any, fake_clock: FakeClock, field_plugin: FieldPlugin,
) -> None:
    made = await client.post("/api/v1/organisations/", json={"name": "云溪镇人民政府", "kind": "township_government",
                                                              "area": YUNXI_TOWN}, headers=ADMIN)
    town = made.json()["id"]
    assert (await client.put(DATASET, json={"owner": town, "manager": town, "area": YUNXI_TOWN},
                             headers=ADMIN)).status_code == 200
    inside = await register_device(client)
    outside = await register_device(client, serial="SN-far", area="350899200201")
    for device in (inside, outside):
        await reading(client, device, temperature=-1)
    records = await Record.filter(dataset_id="devices.alerts").values_list("area_id", flat=True)
    assert records == [inside["area"]]
    assert await Alert.all().count() == 2
