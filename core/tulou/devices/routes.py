"""``/api/v1/devices``, ``/api/v1/provisioning-keys`` and ``/api/v1/telemetry``: thin controllers over the services.

Staff routes take the usual staff tokens and check areas in the services (404
outside the caller's). The telemetry route takes only device tokens and the claim
route only provisioning keys, both as bearer tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from tulou.devices import device_ngsi, provisioning, readings, registry
from tulou.devices.credentials import device_token, sender
from tulou.devices.device_errors import device_errors
from tulou.devices.models import Device, DeviceEventRecord, DeviceStatus
from tulou.devices.provisioning import KEY_PREFIX
from tulou.devices.schemas import (
    ClaimIn, DeviceErrorsOut, DeviceEventOut, DeviceIn, DeviceOut, DevicePatch, DeviceTokenOut, ProvisioningKeyIn,
    ProvisioningKeyOut, ProvisioningKeySecretOut,
)
from tulou.devices.telemetry_schemas import LatestOut, TelemetryAck, TelemetryIn, TelemetryOut
from tulou.errors import Unauthorized
from tulou.exchange.ngsi import MEDIA_TYPE as LINKED_DATA
from tulou.exchange.ngsi import next_link
from tulou.i18n import gettext as _
from tulou.identity.routes import caller
from tulou.identity.schemas import Page
from tulou.identity.scope import clamp
from tulou.security.authenticators import bearer_token
from tulou.security.guards import requires

Limit = Annotated[int, QueryParameter(ge=1)]
Offset = Annotated[int, QueryParameter(ge=0)]
AreaFilter = Annotated[str | None, QueryParameter(description="only this area's subtree")]
SHOWN_ONCE = CacheControlHeader(no_store=True)
Format = Annotated[Literal["json", "ngsi-ld"], QueryParameter(
    name="format", description="`ngsi-ld`: Smart Data Models Device entities (keyValues) with their latest values")]


async def _page_of_devices(found: list[Device], total: int, limit: int, offset: int) -> Page:
    last = await registry.last_values_at(found)
    return Page(items=[registry.device_out(d, last.get(d.id)) for d in found], total=total, limit=limit, offset=offset)


async def _device_out(device: Device) -> DeviceOut:
    return registry.device_out(device, (await registry.last_values_at([device])).get(device.id))


async def _status_set(request: Request, device_id: str, status: DeviceStatus) -> DeviceOut:
    """Disable, enable or decommission, and let the device's broker account follow."""
    device = await registry.set_status(await caller(request), device_id, status)
    await request.app.state.devices.account_changed(device)
    return await _device_out(device)


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ["devices"]

    @post("/", guards=[requires("device:write")], cache_control=SHOWN_ONCE,
          summary="Register a device in a village; its token is shown only here")
    async def create(self, request: Request, data: JSONBody[DeviceIn]) -> DeviceTokenOut:
        device, token = await registry.create_device(await caller(request), data)
        await request.app.state.devices.account_changed(device, token)
        return request.app.state.devices.token_out(device, token)

    @get("/", guards=[requires("device:read")],
         summary="Devices within the caller's areas; with format=ngsi-ld, Smart Data Models Device entities")
    async def list_devices(
        self,
        request: Request,
        area: AreaFilter = None,
        model: Annotated[str | None, QueryParameter(description="only this model's", max_length=64)] = None,
        status: Annotated[DeviceStatus | None, QueryParameter(name="state", description="deviceState")] = None,
        connection: Annotated[str | None, QueryParameter(description="online, offline or unknown", max_length=16)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        representation: Format = "json",
    ) -> Response[Page | list[dict[str, Any]]]:
        principal, limit = await caller(request), clamp(limit)
        if representation == "ngsi-ld":
            principal = device_ngsi.telemetry_reader(principal)
        found, total = await registry.list_devices(principal, area, model, status, connection, limit, offset)
        if representation == "json":
            return Response(await _page_of_devices(found, total, limit, offset))
        headers = {"Link": next_link(request, "offset", offset + limit)} if offset + limit < total else {}
        return Response(await device_ngsi.entities(found), media_type=LINKED_DATA, headers=headers)

    @get("/{device_id:str}", guards=[requires("device:read")],
         summary="One device; with format=ngsi-ld, a Smart Data Models Device entity with its latest values")
    async def read(
        self, request: Request, device_id: FromPath[str], representation: Format = "json",
    ) -> Response[DeviceOut | dict[str, Any]]:
        principal = await caller(request)
        if representation == "ngsi-ld":
            return Response(await device_ngsi.device_entity(principal, device_id), media_type=LINKED_DATA)
        return Response(await _device_out(await registry.get_device(principal, device_id)))

    @patch("/{device_id:str}", guards=[requires("device:write")], summary="Change a device's name, place or details")
    async def update(self, request: Request, device_id: FromPath[str], data: JSONBody[DevicePatch]) -> DeviceOut:
        return await _device_out(await registry.update_device(await caller(request), device_id, data))

    @post("/{device_id:str}/token", status_code=200, guards=[requires("device:write")], cache_control=SHOWN_ONCE,
          summary="Give the device a new token, shown only here; the old one stops working at once")
    async def rotate_token(self, request: Request, device_id: FromPath[str]) -> DeviceTokenOut:
        devices = request.app.state.devices
        device, token = await registry.rotate_token(await caller(request), device_id, devices.rekeyed)
        await devices.account_changed(device)  # again after the commit, should a reconcile have run in between
        return devices.token_out(device, token)

    @post("/{device_id:str}/disable", status_code=200, guards=[requires("device:write")],
          summary="Refuse the device's readings until it is enabled again")
    async def disable(self, request: Request, device_id: FromPath[str]) -> DeviceOut:
        return await _status_set(request, device_id, DeviceStatus.DISABLED)

    @post("/{device_id:str}/enable", status_code=200, guards=[requires("device:write")],
          summary="Accept a disabled device's readings again")
    async def enable(self, request: Request, device_id: FromPath[str]) -> DeviceOut:
        return await _status_set(request, device_id, DeviceStatus.ACTIVE)

    @post("/{device_id:str}/decommission", status_code=200, guards=[requires("device:write")],
          summary="Retire the device for good; its readings stay")
    async def decommission(self, request: Request, device_id: FromPath[str]) -> DeviceOut:
        return await _status_set(request, device_id, DeviceStatus.DECOMMISSIONED)

    @get("/{device_id:str}/events", guards=[requires("device:read")], summary="The device's connection events, newest first")
    async def events(self, request: Request, device_id: FromPath[str], limit: Limit = 50, offset: Offset = 0) -> Page:
        device, limit = await registry.get_device(await caller(request), device_id), clamp(limit)
        query = DeviceEventRecord.filter(device_id=device.id)
        found = await query.order_by("-id").offset(offset).limit(limit)
        items = [DeviceEventOut(e.id, device.uid, e.kind, e.state, e.at, e.detail) for e in found]
        return Page(items=items, total=await query.count(), limit=limit, offset=offset)

    @get("/{device_id:str}/errors", guards=[requires("device:read")],
         summary="How much the device sent was refused, over HTTP or MQTT, and the newest refusals with their reasons")
    async def errors(self, request: Request, device_id: FromPath[str]) -> DeviceErrorsOut:
        return await device_errors(await caller(request), device_id)

    @get("/{device_id:str}/telemetry/latest", guards=[requires("telemetry:read")],
         summary="The newest value of each of the device's properties")
    async def latest(self, request: Request, device_id: FromPath[str]) -> LatestOut:
        return await readings.latest_values(await caller(request), device_id)

    @get("/{device_id:str}/telemetry", guards=[requires("telemetry:read")],
         summary="The device's readings in a time window, raw or downsampled (agg and interval)")
    async def telemetry(
        self,
        request: Request,
        device_id: FromPath[str],
        start: Annotated[datetime | None, QueryParameter(name="from", description="RFC 3339; a day before to")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to", description="RFC 3339; now by default")] = None,
        prop: Annotated[str | None, QueryParameter(name="property", max_length=64)] = None,
        agg: Annotated[str | None, QueryParameter(description="avg, min, max or count", max_length=8)] = None,
        interval: Annotated[str | None, QueryParameter(description="such as 15m, 1h, 1d", max_length=8)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100_000, description="raw readings at most")] = 10_000,
    ) -> TelemetryOut:
        store = request.app.state.devices.store
        return await readings.series(await caller(request), store, device_id, start, end, prop, agg, interval, limit)


async def provisioning_key(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """A guard admitting requests that present a provisioning key; the claim checks the key itself."""
    token = bearer_token(connection)
    if token is None or not token.startswith(KEY_PREFIX):
        raise Unauthorized(_("Send the provisioning key as a bearer token"))


class ProvisioningController(Controller):
    path = "/api/v1"
    tags = ["devices"]

    @post("/provisioning-keys", guards=[requires("device:write")], cache_control=SHOWN_ONCE,
          summary="Make a key installers claim devices with; it is shown only here")
    async def create_key(self, request: Request, data: JSONBody[ProvisioningKeyIn]) -> ProvisioningKeySecretOut:
        key, secret = await provisioning.create_key(await caller(request), data)
        return ProvisioningKeySecretOut(**msgspec.structs.asdict(provisioning.key_out(key)), key=secret)

    @get("/provisioning-keys", guards=[requires("device:read")], summary="Provisioning keys within the caller's areas")
    async def list_keys(self, request: Request, area: AreaFilter = None, limit: Limit = 50, offset: Offset = 0) -> Page:
        limit = clamp(limit)
        found, total = await provisioning.list_keys(await caller(request), area, limit, offset)
        return Page(items=[provisioning.key_out(k) for k in found], total=total, limit=limit, offset=offset)

    @post("/provisioning-keys/{key_id:int}/revoke", status_code=200, guards=[requires("device:write")],
          summary="Stop claims with this key")
    async def revoke_key(self, request: Request, key_id: FromPath[int]) -> ProvisioningKeyOut:
        return provisioning.key_out(await provisioning.revoke_key(await caller(request), key_id))

    @post("/devices:claim", guards=[provisioning_key], cache_control=SHOWN_ONCE,
          summary="Claim a device with a provisioning key (bearer); the device's token is shown only here")
    async def claim(self, request: Request, data: JSONBody[ClaimIn]) -> DeviceTokenOut:
        devices = request.app.state.devices
        device, token = await provisioning.claim(bearer_token(request), data, devices.rekeyed)
        await devices.account_changed(device, token)
        return devices.token_out(device, token)

    @post("/telemetry", status_code=200, guards=[device_token],
          summary="Send one reading or a batch with the device's token; answered once stored")
    async def ingest(self, request: Request, data: JSONBody[TelemetryIn]) -> TelemetryAck:
        return await request.app.state.devices.ingest(sender(request), data)
