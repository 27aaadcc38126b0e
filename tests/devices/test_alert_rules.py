"""Alert rules: a model's defaults, checked against its telemetry, and each device's changes to them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, SHIMEN_TOWN, YUNXI_TOWN
from tests.devices.conftest import (
    FROST, SOIL_MODEL, SOIL_TELEMETRY, FakeClock, bearer, register_device, send, staff_token,
)
from tests.devices.test_alerts import alerts_of, reading
from tulou.devices.alert_rules import DeviceRule, compile_watches, parse_rules, rules_in_force
from tulou.devices.catalogue import model_fields
from tulou.devices.telemetry_schema import SchemaError, parse_properties

MOISTURE_MODEL = {
    "id": "county.moisture-1", "category": "sensor", "manufacturerName": "县农机站", "modelName": "M-1",
    "telemetry": {"moisture": {"type": "number", "unit": "P1", "minimum": 0, "maximum": 100},
                  "state": {"type": "string", "maxLength": 8}},
}
DRY = {"id": "dry", "kind": "threshold", "property": "moisture", "operator": "<", "value": 15, "clearValue": 20}


def rules_url(device: dict[str, Any], rule: str = "") -> str:
    return f"/api/v1/devices/{device['id']}/alert-rules/{rule}"


async def test_a_model_carries_default_rules_checked_against_its_telemetry(client: Any) -> None:
    made = await client.post("/api/v1/device-models/", json={**MOISTURE_MODEL, "alertRules": [DRY]}, headers=ADMIN)
    assert made.status_code == 201, made.text
    [dry] = made.json()["alertRules"]
    assert dry == {**DRY, "value": 15.0, "clearValue": 20.0, "severity": "medium", "description": "", "enabled": True}
    soil = (await client.get(f"/api/v1/device-models/{SOIL_MODEL}", headers=ADMIN)).json()
    assert [rule["id"] for rule in soil["alertRules"]] == ["frost"]

    bad_rules = [
        ([{**DRY, "property": "rain"}], 422, "alertRules"),  # no such property
        ([{**DRY, "clearValue": 10}], 422, "alertRules"),  # clears where it is raised
        ([{**DRY, "property": "state", "value": "ok"}], 422, "alertRules"),  # text does not compare with <
        ([DRY, {**DRY, "operator": ">", "value": 90, "clearValue": None}], 422, "alertRules"),  # two called dry
        ([{"id": "fast", "kind": "rate", "property": "state", "change": 1, "seconds": 60}], 422, "alertRules"),
        ([{"id": "x", "kind": "absence", "seconds": 10}], 400, "alertRules[0].seconds"),  # under a minute
    ]
    for rules, status, field in bad_rules:
        refused = await client.post("/api/v1/device-models/", json={**MOISTURE_MODEL, "id": "county.bad",
                                                                    "alertRules": rules}, headers=ADMIN)
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (status, field), refused.text

    dropping = await client.patch("/api/v1/device-models/county.moisture-1", headers=ADMIN,
                                  json={"telemetry": {"state": MOISTURE_MODEL["telemetry"]["state"]}})
    assert dropping.status_code == 422 and dropping.json()["errors"][0]["field"] == "alertRules"
    changed = await client.patch("/api/v1/device-models/county.moisture-1", headers=ADMIN,
                                 json={"alertRules": [{**DRY, "severity": "high"}]})
    assert changed.status_code == 200 and changed.json()["version"] == 2


def test_a_plugin_model_with_a_bad_rule_is_refused() -> None:
    with pytest.raises(SchemaError, match="no property 'rain'"):
        model_fields("sensor", "Yunxi", "Soil-3", SOIL_TELEMETRY, 600, alert_rules=[{**FROST, "property": "rain"}])
    with pytest.raises(SchemaError, match="value must be true or false"):
        model_fields("sensor", "Yunxi", "Soil-3", SOIL_TELEMETRY, 600,
                     alert_rules=[{"id": "unplugged", "kind": "threshold", "property": "charging", "operator": "==",
                                   "value": 1}])


def test_a_device_changes_switches_and_adds_to_its_models_rules() -> None:
    specs = parse_properties(SOIL_TELEMETRY)
    model = parse_rules([FROST, {"id": "quiet", "kind": "absence", "seconds": 3600}], specs)
    [own_frost] = parse_rules([{**FROST, "value": -2}], specs)
    [extra] = parse_rules([{"id": "flat", "kind": "threshold", "property": "battery", "operator": "<", "value": 10}],
                          specs)
    found = rules_in_force(model, [DeviceRule("quiet", None, False), DeviceRule("frost", own_frost, True),
                                   DeviceRule("flat", extra, False), DeviceRule("gone", None, False)])
    assert [(source, rule.id, rule.enabled) for source, rule in found] == [
        ("device", "frost", True), ("device", "quiet", False), ("device", "flat", False)]
    assert found[0][1].value == -2


def test_rules_judge_values_as_they_are_stored() -> None:
    """Booleans are stored as 1 and 0, text as text, integers as numbers: the rules compare them as sent."""
    specs = parse_properties(SOIL_TELEMETRY)
    rules = parse_rules([
        {"id": "unplugged", "kind": "threshold", "property": "charging", "operator": "==", "value": False},
        {"id": "fault", "kind": "threshold", "property": "status", "operator": "==", "value": "fault"},
        {"id": "flat", "kind": "threshold", "property": "battery", "operator": "<", "value": 10, "clearValue": 20},
        {"id": "swing", "kind": "rate", "property": "moisture", "change": 5, "seconds": 60, "direction": "fall"},
        {"id": "off", "kind": "absence", "seconds": 600, "enabled": False},
    ], specs)
    watches = compile_watches(rules, specs, {name: n for n, name in enumerate(specs)})
    unplugged, fault, flat = watches.thresholds
    assert (unplugged.raises(0.0), unplugged.raises(1.0), unplugged.clears(1.0), unplugged.shown(0.0)) == (
        True, False, True, False)
    assert (fault.raises("fault"), fault.raises("ok"), fault.clears("ok"), fault.property_id) == (True, False, True, 4)
    assert (flat.raises(9.0), flat.clears(15.0), flat.clears(20.0), flat.shown(9.0)) == (True, False, True, 9)
    [swing] = watches.rates
    assert (swing.raises(-6.0), swing.raises(8.0), swing.clears(-5.0), swing.clears(None)) == (True, False, True, True)
    assert watches.absences == () and watches.applies("off", "absence") is False
    assert watches.applies("flat", "threshold") and not watches.applies("flat", "rate")


async def test_staff_add_override_disable_and_drop_a_devices_rules(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    listed = await client.get(rules_url(device), headers=ADMIN)
    assert [(r["source"], r["rule"]["id"]) for r in listed.json()] == [("model", "frost")]

    colder = await client.put(rules_url(device, "frost"), json={**FROST, "value": -3, "clearValue": 0}, headers=ADMIN)
    assert colder.status_code == 200, colder.text
    assert (colder.json()["source"], colder.json()["rule"]["value"]) == ("device", -3.0)
    await reading(client, device, temperature=-1)
    assert await alerts_of(client, device) == []  # not cold enough for this device
    await reading(client, device, temperature=-4)
    [alert] = await alerts_of(client, device, state="open")

    off = await client.post(rules_url(device, "frost") + "/disable", headers=ADMIN)
    assert off.status_code == 200 and off.json()["rule"]["enabled"] is False
    [cleared] = await alerts_of(client, device)
    assert (cleared["id"], cleared["state"], cleared["detail"]) == (alert["id"], "cleared", {"reason": "rule_withdrawn"})
    await reading(client, device, temperature=-6)
    assert await alerts_of(client, device, state="open") == []  # switched off
    assert (await client.post(rules_url(device, "frost") + "/enable", headers=ADMIN)).json()["rule"]["value"] == -3.0

    assert (await client.delete(rules_url(device, "frost"), headers=ADMIN)).status_code == 204
    back = (await client.get(rules_url(device), headers=ADMIN)).json()
    assert back == [{"device": device["id"], "source": "model",
                     "rule": {**FROST, "value": 0.0, "clearValue": 2.0, "enabled": True}}]
    assert (await client.delete(rules_url(device, "frost"), headers=ADMIN)).status_code == 404

    silence = {"id": "silence", "kind": "absence", "seconds": 7200, "severity": "low"}
    assert (await client.put(rules_url(device, "silence"), json=silence, headers=ADMIN)).status_code == 200
    assert [r["rule"]["id"] for r in (await client.get(rules_url(device), headers=ADMIN)).json()] == ["frost", "silence"]
    assert (await client.post(rules_url(device, "nothing") + "/disable", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(("rule", "field"), [
    ({**FROST, "id": "other"}, "id"),
    ({**FROST, "property": "rain"}, "property"),
    ({**FROST, "property": "status", "value": "fault"}, "operator"),
    ({**FROST, "clearValue": -1}, "clearValue"),
])
async def test_a_bad_device_rule_is_refused_naming_the_member(client: Any, rule: dict[str, Any], field: str) -> None:
    device = await register_device(client)
    refused = await client.put(rules_url(device, "frost"), json=rule, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == field


async def test_only_staff_of_the_devices_area_see_and_change_its_rules(client: Any) -> None:
    device = await register_device(client)
    shimen = bearer(await staff_token(client, "shimen-staff", "township_staff", SHIMEN_TOWN))
    committee = bearer(await staff_token(client, "committee", "village_committee", YUNXI_TOWN))
    assert (await client.get(rules_url(device), headers=shimen)).status_code == 404
    assert (await client.put(rules_url(device, "frost"), json=FROST, headers=shimen)).status_code == 404
    assert (await client.get(rules_url(device), headers=committee)).status_code == 200
    assert (await client.post(rules_url(device, "frost") + "/disable", headers=committee)).status_code == 403
    changed = await client.post(rules_url(device, "frost") + "/disable", headers=ADMIN)
    assert changed.status_code == 200
    audit = (await client.get("/api/v1/audit/", params={"action": "device.alert_rule_disabled"}, headers=ADMIN)).json()
    assert [(e["target_id"], e["detail"]["rule"]) for e in audit["items"]] == [(device["id"], "frost")]


async def test_a_rule_change_reaches_the_next_reading_at_once(client: Any, fake_clock: FakeClock) -> None:
    device = await register_device(client)
    await reading(client, device, temperature=1)  # the rule book now knows the device
    await client.put(rules_url(device, "frost"), json={**FROST, "value": 1.5, "clearValue": 3}, headers=ADMIN)
    assert (await send(client, device["token"], {"values": {"temperature": 1}})).status_code == 200
    await client.app.state.devices.writer.settled()
    assert len(await alerts_of(client, device, state="open")) == 1
