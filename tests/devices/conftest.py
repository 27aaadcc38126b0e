"""Fixtures for the device registry: an app whose plugin registers a soil sensor, and helpers to use it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from litestar import Litestar

from tests.conftest import ADMIN, SHANGPING_VILLAGE, AppClient, cheap_passwords, running_app
from tulou.api import DeviceEvent, DeviceModelSpec, PluginManifest, hookimpl
from tulou.devices.clock import using_clock

SOIL_MODEL = "yunxi_soil3"
SOIL_TELEMETRY = {
    "temperature": {"type": "number", "unit": "CEL", "minimum": -40, "maximum": 85},
    "moisture": {"type": "number", "unit": "P1", "minimum": 0, "maximum": 100},
    "battery": {"type": "integer", "unit": "P1", "minimum": 0, "maximum": 100},
    "charging": {"type": "boolean"},
    "status": {"type": "string", "maxLength": 16},
}
#: The soil sensor's default rule: frost at 0 °C or below, over once the soil is back at 2 °C.
FROST = {"id": "frost", "kind": "threshold", "property": "temperature", "operator": "<=", "value": 0,
         "clearValue": 2, "severity": "high", "description": "土壤霜冻"}
PASSWORD = "plum blossom in the rain"


@dataclass
class FieldPlugin:
    """A plugin selling one soil sensor model, which remembers the device events it heard."""

    events: list[DeviceEvent] = field(default_factory=list)

    @hookimpl
    def plugin_manifest(self) -> PluginManifest:
        return PluginManifest(name="fieldkit", version="1.0.0", title="Field kit")

    @hookimpl
    def register_device_models(self, register: Any) -> None:
        register(DeviceModelSpec(
            id=SOIL_MODEL, category="sensor", manufacturer="Yunxi Instruments", model="Soil-3",
            telemetry=SOIL_TELEMETRY, heartbeat_seconds=600, brand="Yunxi", protocols=("http", "mqtt"),
            alert_rules=(FROST,),
        ))

    @hookimpl
    async def device_event(self, event: DeviceEvent) -> None:
        self.events.append(event)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(timezone.utc).replace(microsecond=0)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **amount: float) -> datetime:
        self.moment += timedelta(**amount)
        return self.moment


@pytest.fixture
def field_plugin() -> FieldPlugin:
    return FieldPlugin()


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    with using_clock(FakeClock()) as clock:
        yield clock  # type: ignore[misc]


@pytest.fixture
def serve(
    make_app: Callable[..., Litestar], field_plugin: FieldPlugin, monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Any]:
    """``async with serve() as client:`` runs an app with the field plugin and the demo county."""
    cheap_passwords(monkeypatch)

    @asynccontextmanager
    async def running(**overrides: Any) -> AsyncIterator[AppClient]:
        async with running_app(make_app(plugins=[field_plugin], **overrides)) as client:
            yield client

    return running


@pytest.fixture
async def client(serve: Callable[..., Any]) -> AsyncIterator[AppClient]:
    async with serve() as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_device(
    client: AppClient, serial: str = "SN-0001", area: str = SHANGPING_VILLAGE, headers: dict[str, str] = ADMIN,
    **extra: Any,
) -> dict[str, Any]:
    """A pre-registered soil sensor: the answer, token included."""
    body = {"model": SOIL_MODEL, "serialNumber": serial, "name": f"Soil {serial}", "area": area, **extra}
    response = await client.post("/api/v1/devices/", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def send(client: AppClient, token: str, body: dict[str, Any]) -> Any:
    """Post readings as the device; reasons come back in English, which the tests compare."""
    return await client.post("/api/v1/telemetry", json=body, headers={**bearer(token), "Accept-Language": "en"})


async def staff_token(client: AppClient, username: str, role: str, area: str) -> str:
    """An account holding ``role`` in ``area``, signed in."""
    account = await client.post("/api/v1/accounts/", json={"username": username, "password": PASSWORD, "area": area},
                                headers=ADMIN)
    assert account.status_code == 201, account.text
    bound = await client.post("/api/v1/role-bindings/", json={"account": account.json()["id"], "role": role, "area": area},
                              headers=ADMIN)
    assert bound.status_code == 201, bound.text
    signed = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return signed.json()["access_token"]
