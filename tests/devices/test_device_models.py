"""Device models: plugins register them, the county adds and changes its own, readings follow the current version."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, YUNXI_TOWN
from tests.devices.conftest import SOIL_MODEL, SOIL_TELEMETRY, FieldPlugin, bearer, register_device, send, staff_token
from tulou.api import DeviceModelSpec, PluginManifest, hookimpl
from tulou.devices.models import DeviceModel
from tulou.plugins.manager import PluginStatus

MODELS = "/api/v1/device-models/"
WATER_METER = {
    "id": "county.meter-w1", "category": "meter", "manufacturerName": "Minjiang Meters", "modelName": "W-1",
    "telemetry": {"flow": {"type": "number", "unit": "MQH", "minimum": 0}}, "heartbeatSeconds": 3600,
}


async def test_a_plugins_model_is_stored_at_start_up_and_readable(client: Any) -> None:
    response = await client.get(f"{MODELS}{SOIL_MODEL}", headers=ADMIN)
    assert response.status_code == 200, response.text
    model = response.json()
    assert model["source"] == "plugin:fieldkit" and model["type"] == "DeviceModel"
    assert model["controlledProperty"] == sorted(SOIL_TELEMETRY)
    assert model["telemetry"]["temperature"] == SOIL_TELEMETRY["temperature"]
    assert (model["manufacturerName"], model["brandName"], model["heartbeatSeconds"]) == ("Yunxi Instruments", "Yunxi", 600)
    assert model["supportedProtocol"] == ["http", "mqtt"]


async def test_a_changed_plugin_model_gets_a_new_version_at_the_next_start(serve: Any, make_app: Any) -> None:
    async with serve():
        first = await DeviceModel.get(key=SOIL_MODEL)

    class Upgraded(FieldPlugin):
        @hookimpl
        def register_device_models(self, register: Any) -> None:
            register(DeviceModelSpec(id=SOIL_MODEL, category="sensor", manufacturer="Yunxi Instruments", model="Soil-3",
                                     telemetry={**SOIL_TELEMETRY, "salinity": {"type": "number"}}, heartbeat_seconds=600))

    from tests.conftest import running_app

    async with running_app(make_app(plugins=[Upgraded()])):
        second = await DeviceModel.get(key=SOIL_MODEL)
    assert second.version == first.version + 1 and "salinity" in second.properties


@pytest.mark.parametrize("telemetry, heartbeat, category, fault", [
    ({"t": {"type": "float"}}, 60, "sensor", "type must be one of"),
    ({"t": {"type": "number", "minimum": 5, "maximum": 1}}, 60, "sensor", "minimum is above maximum"),
    ({"t": {"type": "boolean", "maximum": 1}}, 60, "sensor", "only numbers have a range"),
    ({"t": {"type": "number", "format": "x"}}, 60, "sensor", "unknown keys format"),
    ({"9t": {"type": "number"}}, 60, "sensor", "property name"),
    ({"t": {"type": "number"}}, 1, "sensor", "heartbeat"),
    ({"t": {"type": "number"}}, 60, "toaster", "category must be one of"),
])
def test_a_plugin_registering_a_bad_model_fails_with_the_reason(
    make_app: Any, telemetry: dict[str, Any], heartbeat: int, category: str, fault: str,
) -> None:
    class Broken:
        @hookimpl
        def plugin_manifest(self) -> PluginManifest:
            return PluginManifest(name="broken", version="1.0.0", title="Broken")

        @hookimpl
        def register_device_models(self, register: Any) -> None:
            register(DeviceModelSpec(id="broken_one", category=category, manufacturer="M", model="X",
                                     telemetry=telemetry, heartbeat_seconds=heartbeat))

    record = make_app(plugins=[Broken()]).state.platform.plugins.get("broken")
    assert record.status is PluginStatus.FAILED and fault in record.reason


def test_two_plugins_cannot_register_one_model_id(make_app: Any) -> None:
    class Copycat(FieldPlugin):
        @hookimpl
        def plugin_manifest(self) -> PluginManifest:
            return PluginManifest(name="copycat", version="1.0.0", title="Copycat")

    platform = make_app(plugins=[FieldPlugin(), Copycat()]).state.platform
    assert platform.plugins.get("fieldkit").usable
    copycat = platform.plugins.get("copycat")
    assert copycat.status is PluginStatus.FAILED and "already registered by fieldkit" in copycat.reason


async def test_only_the_county_adds_models(client: Any) -> None:
    township_admin = await staff_token(client, "lin", "township_admin", YUNXI_TOWN)
    refused = await client.post(MODELS, json=WATER_METER, headers=bearer(township_admin))
    assert refused.status_code == 403
    created = await client.post(MODELS, json=WATER_METER, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "county" and created.json()["version"] == 1
    again = await client.post(MODELS, json=WATER_METER, headers=ADMIN)
    assert again.status_code == 409
    listed = await client.get(MODELS, headers=bearer(township_admin))
    assert {m["id"] for m in listed.json()} == {SOIL_MODEL, WATER_METER["id"]}


async def test_a_bad_county_model_is_refused_naming_the_fault(client: Any) -> None:
    body = {**WATER_METER, "telemetry": {"flow": {"type": "number", "minimum": "zero"}}}
    response = await client.post(MODELS, json=body, headers=ADMIN)
    assert response.status_code == 422
    assert "minimum must be a finite number" in response.json()["detail"]


async def test_a_changed_county_model_checks_the_next_reading_by_its_new_version(client: Any) -> None:
    await client.post(MODELS, json=WATER_METER, headers=ADMIN)
    device = await register_device(client, model=WATER_METER["id"])
    assert (await send(client, device["token"], {"values": {"flow": 2.5}})).status_code == 200
    assert (await send(client, device["token"], {"values": {"pressure": 3.1}})).status_code == 422
    telemetry = {**WATER_METER["telemetry"], "pressure": {"type": "number", "unit": "BAR", "maximum": 10}}
    changed = await client.patch(f"{MODELS}{WATER_METER['id']}", json={"telemetry": telemetry}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert (await send(client, device["token"], {"values": {"pressure": 3.1}})).status_code == 200
    assert (await send(client, device["token"], {"values": {"pressure": 11}})).status_code == 422


async def test_a_plugins_model_cannot_be_changed_through_the_api(client: Any) -> None:
    response = await client.patch(f"{MODELS}{SOIL_MODEL}", json={"heartbeatSeconds": 60}, headers=ADMIN)
    assert response.status_code == 409
