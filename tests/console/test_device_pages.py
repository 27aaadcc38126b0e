"""The device pages: the registry, a device, its chart's numbers, alerts, models and keys, within the caller's areas only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import ADMIN, MEILIN_TOWNSHIP, SHANGPING_VILLAGE, YUNXI_TOWN, AppClient
from tests.console.conftest import Browser, staff
from tulou.audit.models import AuditEntry
from tulou.devices import alerts, clock
from tulou.devices.alert_schemas import ThresholdRule
from tulou.devices.models import Connection, Device, ProvisioningKey

MEILIN_VILLAGE = "350899200201"
MODEL = "test.frost"
FROST = {"temperature": {"type": "number", "unit": "CEL", "minimum": -40, "maximum": 85},
         "note": {"type": "string"}}


async def frost_model(client: AppClient) -> None:
    made = await client.post("/api/v1/device-models/", headers=ADMIN, json={
        "id": MODEL, "category": "sensor", "manufacturerName": "霜冻仪器", "modelName": "Frost", "telemetry": FROST,
        "heartbeatSeconds": 600})
    assert made.status_code == 201, made.text


async def sensor(client: AppClient, village: str, serial: str, name: str) -> dict[str, Any]:
    made = await client.post("/api/v1/devices/", headers=ADMIN, json={
        "model": MODEL, "serialNumber": serial, "name": name, "area": village})
    assert made.status_code == 201, made.text
    return made.json()


async def admin_of(open_browser: Any, console: AppClient, username: str, township: str) -> Browser:
    await staff(console, username, "township_admin", township)
    browser = open_browser()
    assert (await browser.sign_in(username)).status_code == 303
    return browser


@pytest.fixture
async def county(console: AppClient, open_browser: Any) -> dict[str, Any]:
    """A frost sensor in a Yunxi village (online) and one in Meilin, and each township's administrator."""
    await frost_model(console)
    yunxi = await sensor(console, SHANGPING_VILLAGE, "F-1", "上坪霜冻")
    meilin = await sensor(console, MEILIN_VILLAGE, "F-2", "梅林霜冻")
    await Device.filter(uid=yunxi["id"]).update(connection=Connection.ONLINE)
    return {
        "yunxi": yunxi, "meilin": meilin,
        "lin": await admin_of(open_browser, console, "lin", YUNXI_TOWN),
        "mei": await admin_of(open_browser, console, "mei", MEILIN_TOWNSHIP),
    }


async def test_the_registry_lists_and_counts_the_callers_devices_only(county: dict[str, Any]) -> None:
    lin, mei = county["lin"], county["mei"]
    page = await lin.open("/console/devices")
    assert page.status_code == 200
    assert "上坪霜冻" in page.text and "梅林霜冻" not in page.text
    assert "1 台在线" in page.text and "0 台离线" in page.text
    assert MEILIN_VILLAGE not in page.text and MEILIN_TOWNSHIP not in page.text  # not even in the picker
    assert (await lin.open(f"/console/devices?area={YUNXI_TOWN}")).text.count('href="/console/devices/dev_') == 1
    theirs = await mei.open("/console/devices")
    assert "梅林霜冻" in theirs.text and "上坪霜冻" not in theirs.text and "0 台在线" in theirs.text
    offline = await lin.open("/console/devices?connection=offline")
    assert "上坪霜冻" not in offline.text
    assert (await mei.get(f"/console/devices?area={SHANGPING_VILLAGE}")).status_code == 404


async def test_a_device_page_is_not_found_in_another_township(county: dict[str, Any]) -> None:
    uid = county["yunxi"]["id"]
    page = await county["lin"].open(f"/console/devices/{uid}")
    assert page.status_code == 200 and "上坪霜冻" in page.text and 'id="chart"' in page.text
    for url in (f"/console/devices/{uid}", f"/console/devices/{uid}/chart", f"/console/devices/{uid}/readings"):
        refused = await county["mei"].get(url)
        assert refused.status_code == 404, url
        assert "上坪" not in refused.text


async def test_registering_reports_field_errors_and_writes_nothing(county: dict[str, Any], console: AppClient) -> None:
    lin = county["lin"]
    form = await lin.open("/console/devices/new")
    assert SHANGPING_VILLAGE in form.text and MEILIN_VILLAGE not in form.text
    before = await Device.all().count()
    empty = await lin.submit("/console/devices/new", {"model": MODEL, "serialNumber": " ", "name": "", "area": ""})
    assert empty.status_code == 422
    assert 'id="serialNumber-error"' in empty.text and 'id="name-error"' in empty.text and 'id="area-error"' in empty.text
    assert 'id="model-error"' not in empty.text
    elsewhere = await lin.submit("/console/devices/new", {"model": MODEL, "serialNumber": "F-9", "name": "外村",
                                                          "area": MEILIN_VILLAGE})
    assert elsewhere.status_code == 404 and 'id="area-error"' in elsewhere.text
    taken = await lin.submit("/console/devices/new", {"model": MODEL, "serialNumber": "F-1", "name": "重号",
                                                      "area": SHANGPING_VILLAGE})
    assert taken.status_code == 409 and 'id="serialNumber-error"' in taken.text
    assert await Device.all().count() == before


async def test_registering_shows_the_token_once_and_it_works(county: dict[str, Any], console: AppClient) -> None:
    lin = county["lin"]
    await lin.open("/console/devices/new")
    made = await lin.submit("/console/devices/new", {"model": MODEL, "serialNumber": "F-3", "name": "新霜冻",
                                                     "area": SHANGPING_VILLAGE, "firmwareVersion": "1.2"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    token = made.text.split('id="device-token">')[1].split("<")[0]
    uid = made.text.split('id="device-id">')[1].split("<")[0]
    sent = await console.post("/api/v1/telemetry", headers={"Authorization": f"Bearer {token}"},
                              json={"values": {"temperature": 1.5}})
    assert sent.status_code == 200, sent.text
    page = await lin.open(f"/console/devices/{uid}")
    assert token not in page.text and "1.5" in page.text
    assert await AuditEntry.filter(action="device.created", target_id=uid).count() == 1


async def test_a_new_token_replaces_the_old_one(county: dict[str, Any], console: AppClient) -> None:
    lin, uid = county["lin"], county["yunxi"]["id"]
    await lin.open(f"/console/devices/{uid}")
    rotated = await lin.submit(f"/console/devices/{uid}/token")
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.text.split('id="device-token">')[1].split("<")[0]
    old = county["yunxi"]["token"]
    assert new != old
    for token, status in ((old, 401), (new, 200)):
        sent = await console.post("/api/v1/telemetry", headers={"Authorization": f"Bearer {token}"},
                                  json={"values": {"temperature": 2}})
        assert sent.status_code == status
    assert await AuditEntry.filter(action="device.token_rotated", target_id=uid).count() == 1


async def test_the_chart_reads_hourly_averages_as_json(county: dict[str, Any], console: AppClient) -> None:
    lin, device = county["lin"], county["yunxi"]
    now = clock.now() - timedelta(seconds=5)
    earlier = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    readings = [{"t": (earlier + timedelta(minutes=m)).isoformat(), "values": {"temperature": v}}
                for m, v in ((0, 1.0), (10, 3.0))] + [{"t": now.isoformat(), "values": {"temperature": -2.0}}]
    sent = await console.post("/api/v1/telemetry", headers={"Authorization": f"Bearer {device['token']}"},
                              json={"readings": readings})
    assert sent.status_code == 200, sent.text
    chart = await lin.get(f"/console/devices/{device['id']}/chart?prop=temperature&span=24h")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("application/json")
    data = chart.json()
    assert data["property"] == "temperature" and data["unit"] == "CEL" and data["interval"] == "1h"
    assert data["v"] == [2.0, -2.0]
    hours = [earlier, now.replace(minute=0, second=0, microsecond=0)]
    assert data["t"] == [int(hour.timestamp()) for hour in hours]
    table = await lin.get(f"/console/devices/{device['id']}/readings?prop=temperature&span=24h")
    assert table.status_code == 200 and "<html" not in table.text and "2.0" in table.text
    assert "-2.0" in table.text
    unknown = (await lin.get(f"/console/devices/{device['id']}/chart?prop=nothing&span=forever")).json()
    assert unknown["property"] == "temperature" and unknown["interval"] == "1h"


async def test_open_alerts_are_listed_in_scope_and_acknowledged(county: dict[str, Any]) -> None:
    lin, mei = county["lin"], county["mei"]
    rule = ThresholdRule(id="frost", property="temperature", operator="<", value=0.0, severity="high",
                         description="霜冻预警")
    ids = {}
    for name in ("yunxi", "meilin"):
        device = await Device.get(uid=county[name]["id"])
        raised = await alerts.raise_alert(device.id, rule, clock.now(), -3.0)
        assert raised is not None
        ids[name] = raised[0].id
    page = await lin.open("/console/alerts")
    assert page.status_code == 200 and "上坪霜冻" in page.text and "梅林霜冻" not in page.text
    assert f"/console/alerts/{ids['meilin']}/acknowledge" not in page.text
    device_page = await lin.open(f"/console/devices/{county['yunxi']['id']}")
    assert "霜冻预警" in device_page.text and f"/console/alerts/{ids['yunxi']}/acknowledge" in device_page.text
    refused = await lin.submit(f"/console/alerts/{ids['meilin']}/acknowledge")
    assert refused.status_code == 404
    done = await lin.submit(f"/console/alerts/{ids['yunxi']}/acknowledge", {"next": "/console/alerts"})
    assert done.status_code == 303 and done.headers["location"] == "/console/alerts"
    assert await AuditEntry.filter(action="alert.acknowledged", target_id=str(ids["yunxi"])).count() == 1
    assert await AuditEntry.filter(action="alert.acknowledged", target_id=str(ids["meilin"])).count() == 0
    overview = await mei.open("/console/")
    assert "1 个未解除告警" in overview.text or "1 open alert" in overview.text


async def test_models_are_listed_with_their_properties(county: dict[str, Any]) -> None:
    page = await county["mei"].open("/console/device-models")
    assert page.status_code == 200 and "Frost" in page.text and "CEL" in page.text and "-40" in page.text
    model = await county["mei"].open(f"/console/device-models/{MODEL}")
    assert model.status_code == 200 and "temperature" in model.text
    assert (await county["mei"].get("/console/device-models/no.such")).status_code == 404


async def test_a_provisioning_key_is_shown_once_and_revoked_in_scope(county: dict[str, Any], console: AppClient) -> None:
    lin, mei = county["lin"], county["mei"]
    url = f"/console/device-models/{MODEL}"
    await lin.open(url)
    wrong = await lin.submit(f"{url}/keys", {"area": "", "uses": "0", "days": "400", "label": ""})
    assert wrong.status_code == 422
    assert all(f'id="{name}-error"' in wrong.text for name in ("area", "uses", "days"))
    assert await ProvisioningKey.all().count() == 0
    made = await lin.submit(f"{url}/keys", {"area": SHANGPING_VILLAGE, "uses": "5", "days": "3", "label": "批次一"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = made.text.split('id="provisioning-key">')[1].split("<")[0]
    assert secret.startswith("tlp.")
    again = await lin.open(url)
    assert "批次一" in again.text and secret not in again.text
    assert "批次一" not in (await mei.open(url)).text
    key = await ProvisioningKey.get()
    assert (await mei.submit(f"{url}/keys/{key.id}/revoke")).status_code == 404
    revoked = await lin.submit(f"{url}/keys/{key.id}/revoke")
    assert revoked.status_code == 303
    assert (await ProvisioningKey.get()).revoked
    claimed = await console.post("/api/v1/devices:claim", headers={"Authorization": f"Bearer {secret}"},
                                 json={"serialNumber": "F-7"})
    assert claimed.status_code == 401


async def test_the_overview_counts_devices_and_alerts_per_township(county: dict[str, Any]) -> None:
    page = await county["lin"].open("/console/")
    assert "1 台在线" in page.text
    assert "0 个未解除告警" in page.text or "0 open alerts" in page.text
