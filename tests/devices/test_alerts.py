"""Alerts raised once and cleared once by threshold, rate and absence rules, driven by a controllable clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import ADMIN, SHIMEN_TOWN, YUNXI_TOWN
from tests.devices.conftest import FakeClock, FieldPlugin, bearer, register_device, send, staff_token
from tulou.devices.alert_models import Alert
from tulou.devices.alert_watch import check_device_alerts
from tulou.jobs.core import CORE
from tulou.jobs.runner import run_job, scheduled_jobs

ALERTS = "/api/v1/alerts/"


async def settled(client: Any) -> None:
    """Wait until the readings sent so far are judged: that happens after each answer, off the request's path."""
    await client.app.state.devices.writer.settled()


async def reading(client: Any, device: dict[str, Any], **values: Any) -> None:
    answer = await send(client, device["token"], {"values": values})
    assert answer.status_code == 200, answer.text
    await settled(client)


async def alerts_of(client: Any, device: dict[str, Any], headers: dict[str, str] = ADMIN, **query: Any) -> list[dict]:
    listed = await client.get(ALERTS, params={"device": device["id"], **query}, headers=headers)
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_a_frost_alert_is_raised_once_and_cleared_once_past_its_clear_value(
    client: Any, fake_clock: FakeClock, field_plugin: FieldPlugin,
) -> None:
    assert (await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/fieldkit", headers=ADMIN)).status_code in (200, 201)
    device = await register_device(client)
    await reading(client, device, temperature=4.0)
    assert await alerts_of(client, device) == []

    frosty = fake_clock.advance(minutes=5)
    for temperature in (-1.5, -3.0, 0.0, 1.9):  # still frost, or not yet back at 2 °C
        await reading(client, device, temperature=temperature)
        fake_clock.advance(minutes=5)
    [alert] = await alerts_of(client, device, state="open")
    assert (alert["rule"], alert["kind"], alert["property"], alert["severity"]) == ("frost", "threshold", "temperature", "high")
    assert alert["value"] == -1.5 and alert["raisedAt"] == at(frosty) and alert["clearedAt"] is None
    assert alert["area"] == device["area"] and alert["refDeviceModel"] == device["refDeviceModel"]

    thawed = fake_clock.advance(minutes=5)
    await reading(client, device, temperature=2.0)
    await reading(client, device, temperature=-0.5)  # a new frost: a new alert
    [again, cleared] = await alerts_of(client, device)
    assert (cleared["id"], cleared["state"], cleared["clearedAt"]) == (alert["id"], "cleared", at(thawed))
    assert cleared["detail"] == {"clearedValue": 2.0} and again["state"] == "open" and again["id"] != alert["id"]

    events = (await client.get(f"/api/v1/devices/{device['id']}/events", headers=ADMIN)).json()["items"]
    assert [(e["kind"], e["state"]) for e in events if e["kind"] == "alert"] == [
        ("alert", "raised"), ("alert", "cleared"), ("alert", "raised")]
    heard = [(e.state, e.detail["alert"]) for e in field_plugin.events if e.kind == "alert"]
    assert heard == [("raised", alert["id"]), ("cleared", alert["id"]), ("raised", again["id"])]


async def test_a_batch_is_judged_in_the_order_of_its_readings_times(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    night = fake_clock.moment - timedelta(hours=6)
    batch = [{"t": at(night + timedelta(hours=h)), "values": {"temperature": temperature}}
             for h, temperature in ((3, 5.0), (1, -2.0), (2, -4.0), (0, 3.0))]  # sent out of order
    assert (await send(client, device["token"], {"readings": batch})).status_code == 200
    await settled(client)
    [alert] = await alerts_of(client, device)
    assert (alert["raisedAt"], alert["value"], alert["clearedAt"]) == (at(night + timedelta(hours=1)), -2.0,
                                                                        at(night + timedelta(hours=3)))

    late = [{"t": at(night + timedelta(minutes=30)), "values": {"temperature": -6.0}}]
    await send(client, device["token"], {"readings": late})
    await reading(client, device, temperature=3.0)
    assert len(await alerts_of(client, device)) == 2  # a late frost is still a frost: raised, then cleared by now

    await reading(client, device, temperature=-1.0)
    warm_before = [{"t": at(fake_clock.moment - timedelta(minutes=1)), "values": {"temperature": 9.0}}]
    await send(client, device["token"], {"readings": warm_before})
    await settled(client)
    assert len(await alerts_of(client, device, state="open")) == 1  # older than the frost: it clears nothing


async def test_a_rate_of_change_rule_watches_the_change_over_its_window(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    rule = {"id": "flooded", "kind": "rate", "property": "moisture", "change": 20, "seconds": 600, "direction": "rise"}
    put = await client.put(f"/api/v1/devices/{device['id']}/alert-rules/flooded", json=rule, headers=ADMIN)
    assert put.status_code == 200, put.text
    for minutes, moisture in ((0, 30), (5, 35), (1, 20)):  # down by 15: a fall is not watched
        fake_clock.advance(minutes=minutes)
        await reading(client, device, moisture=moisture)
    assert await alerts_of(client, device) == []
    fake_clock.advance(minutes=2)
    await reading(client, device, moisture=52.5)  # up 22.5 since the oldest reading of the last 10 minutes (30)
    [alert] = await alerts_of(client, device, state="open")
    assert (alert["rule"], alert["kind"], alert["value"]) == ("flooded", "rate", 22.5)
    fake_clock.advance(minutes=4)
    await reading(client, device, moisture=56)  # up 36 since 20, six minutes ago... still a flood
    assert len(await alerts_of(client, device, state="open")) == 1
    fake_clock.advance(minutes=9)
    await reading(client, device, moisture=57)  # up 1 since 56, nine minutes ago
    [cleared] = await alerts_of(client, device)
    assert cleared["state"] == "cleared" and cleared["detail"] == {"clearedValue": 1.0}


async def test_an_absence_alert_is_raised_by_the_job_and_cleared_by_the_next_reading(
    client: Any, fake_clock: FakeClock, field_plugin: FieldPlugin,
) -> None:
    assert (await client.put(f"/api/v1/areas/{YUNXI_TOWN}/modules/fieldkit", headers=ADMIN)).status_code in (200, 201)
    platform = client.app.state.platform
    device, never = await register_device(client), await register_device(client, serial="SN-silent")
    rule = {"id": "dry-data", "kind": "absence", "property": "moisture", "seconds": 1800, "severity": "low"}
    for each in (device, never):
        assert (await client.put(f"/api/v1/devices/{each['id']}/alert-rules/dry-data", json=rule,
                                 headers=ADMIN)).status_code == 200
    await reading(client, device, moisture=30)
    last = fake_clock.moment
    fake_clock.advance(minutes=20)
    await reading(client, device, temperature=12)  # a reading, but not of moisture
    assert await check_device_alerts(platform) == 0
    fake_clock.advance(minutes=11)
    assert await check_device_alerts(platform) == 1  # a device never heard from has nothing to fall silent
    assert await check_device_alerts(platform) == 0  # raised once
    [alert] = await alerts_of(client, device, state="open")
    assert (alert["kind"], alert["value"], alert["detail"]) == ("absence", None, {"lastValueAt": at(last)})

    fake_clock.advance(minutes=3)
    await reading(client, device, moisture=28)
    [cleared] = await alerts_of(client, device)
    assert cleared["state"] == "cleared" and cleared["clearedAt"] == at(fake_clock.moment)
    assert [e.state for e in field_plugin.events if e.kind == "alert"] == ["raised", "cleared"]


async def test_alerts_of_rules_withdrawn_or_of_retired_devices_are_cleared_by_the_job(
    client: Any, fake_clock: FakeClock,
) -> None:
    kept, retired = await register_device(client), await register_device(client, serial="SN-retired")
    for device in (kept, retired):
        await reading(client, device, temperature=-2)
    rule = {"id": "frost", "kind": "absence", "seconds": 3600}  # the device's own frost is of another kind
    assert (await client.put(f"/api/v1/devices/{kept['id']}/alert-rules/frost", json=rule,
                             headers=ADMIN)).status_code == 200
    assert (await alerts_of(client, kept))[0]["detail"] == {"reason": "rule_withdrawn"}
    await client.post(f"/api/v1/devices/{retired['id']}/decommission", headers=ADMIN)
    assert len(await alerts_of(client, retired, state="open")) == 1
    assert await check_device_alerts(client.app.state.platform) == 1
    assert (await alerts_of(client, retired))[0]["detail"] == {"reason": "device_inactive"}


async def test_the_township_sees_its_alerts_and_no_other_townships(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    await reading(client, device, temperature=-1)
    [alert] = await alerts_of(client, device)
    yunxi = bearer(await staff_token(client, "yunxi-staff", "township_staff", YUNXI_TOWN))
    shimen = bearer(await staff_token(client, "shimen-staff", "township_staff", SHIMEN_TOWN))
    seen = await client.get(ALERTS, params={"area": YUNXI_TOWN, "state": "open"}, headers=yunxi)
    assert [a["id"] for a in seen.json()["items"]] == [alert["id"]]
    assert (await client.get(ALERTS, headers=shimen)).json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert (await client.get(ALERTS, params={"area": YUNXI_TOWN}, headers=shimen)).status_code == 404
    assert (await client.get(f"{ALERTS}{alert['id']}", headers=shimen)).status_code == 404
    assert (await client.post(f"{ALERTS}{alert['id']}/acknowledge", headers=shimen)).status_code == 404
    assert (await client.get(f"{ALERTS}{alert['id']}", headers=yunxi)).json()["state"] == "open"


async def test_staff_acknowledge_an_alert_once_and_it_stays_open(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    await reading(client, device, temperature=-1)
    [alert] = await alerts_of(client, device)
    committee = bearer(await staff_token(client, "committee", "village_committee", device["area"]))
    assert (await client.post(f"{ALERTS}{alert['id']}/acknowledge", headers=committee)).status_code == 403
    fake_clock.advance(minutes=1)
    seen = await client.post(f"{ALERTS}{alert['id']}/acknowledge", headers=ADMIN)
    assert seen.status_code == 200, seen.text
    assert (seen.json()["state"], seen.json()["acknowledgedAt"]) == ("open", at(fake_clock.moment))
    assert seen.json()["acknowledgedBy"] == client.admin_actor
    fake_clock.advance(minutes=1)
    again = await client.post(f"{ALERTS}{alert['id']}/acknowledge", headers=ADMIN)
    assert again.json()["acknowledgedAt"] == seen.json()["acknowledgedAt"]
    events = (await client.get(f"/api/v1/devices/{device['id']}/events", headers=ADMIN)).json()["items"]
    assert [e["state"] for e in events if e["kind"] == "alert"] == ["acknowledged", "raised"]
    audit = (await client.get("/api/v1/audit/", params={"action": "alert.acknowledged"}, headers=ADMIN)).json()
    assert [entry["target_id"] for entry in audit["items"]] == [str(alert["id"])]


async def test_the_alert_check_is_a_core_job(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    rule = {"id": "quiet", "kind": "absence", "seconds": 600}
    await client.put(f"/api/v1/devices/{device['id']}/alert-rules/quiet", json=rule, headers=ADMIN)
    await reading(client, device, moisture=30)
    fake_clock.advance(hours=1)
    platform = client.app.state.platform
    [job] = [job for owner, job in scheduled_jobs(platform) if owner == CORE and job.id == "device_alerts"]
    (run,) = await run_job(platform, CORE, job)
    assert run.job_id == "tulou.device_alerts" and run.outcome.value == "succeeded"
    assert await Alert.filter(rule="quiet", cleared_at=None).count() == 1
