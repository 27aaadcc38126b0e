"""Devices: registered by staff in their villages, read within their areas, re-keyed, disabled and retired.

A device lives in a village and is seen only by staff whose areas cover it:
outside them it is 404, as everything in identity is. Its token is shown when it
is made and when it is re-keyed, never stored in clear, and dies at once when the
device is re-keyed, disabled or decommissioned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

import msgspec
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Max
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from tulou.areas.codes import township_code
from tulou.audit.service import record_audit
from tulou.devices.catalogue import get_model
from tulou.devices.credentials import new_device_token, new_device_uid
from tulou.devices.models import Device, DeviceModel, DeviceStatus, TelemetryLatest
from tulou.devices.schemas import DeviceIn, DeviceOut, DevicePatch, DeviceTokenOut, Point
from tulou.errors import Conflict, Invalid, NotFound
from tulou.i18n import gettext as _
from tulou.identity.auth import token_hash
from tulou.identity.models import Organisation
from tulou.identity.scope import area_in_scope, in_area, within
from tulou.security.principal import Principal
from tulou.security.principal_cache import principals_changed


def visible_devices(principal: Principal) -> QuerySet[Device]:
    """The devices in the caller's area subtrees."""
    return Device.filter(within(principal, "area_id"))


async def get_device(principal: Principal, uid: str) -> Device:
    """One device with its model, or 404 when absent or outside the caller's areas."""
    device = await visible_devices(principal).get_or_none(uid=uid).select_related("model", "gateway")
    if device is None:
        raise NotFound(_("Device not found"), field="device_id")
    return device


async def owner_in_scope(principal: Principal, organisation_id: int | None) -> int | None:
    """The owner organisation if the caller can see it; 422 otherwise, as for any unknown reference."""
    if organisation_id is None:
        return None
    if not await Organisation.filter(within(principal, "area_id"), id=organisation_id).exists():
        raise Invalid(_("Organisation %(id)s does not exist") % {"id": organisation_id}, field="owner")
    return organisation_id


async def gateway_for(principal: Principal, uid: str | None, village: str, device: Device | None = None) -> Device | None:
    """The gateway ``uid`` names for a device in ``village``, if the caller can see it and it may relay for it;
    422 otherwise. A gateway relays for devices of its own township, and is not itself behind another."""
    if uid is None:
        return None
    gateway = await visible_devices(principal).get_or_none(uid=uid).select_related("model")
    if gateway is None:
        raise Invalid(_("Device %(id)s does not exist") % {"id": uid}, field="gateway")
    if gateway.model.category != "gateway":
        raise Invalid(_("Device %(id)s is not a gateway") % {"id": uid}, field="gateway")
    if device is not None and (device.id == gateway.id or device.model.category == "gateway"):
        raise Invalid(_("A gateway cannot send through another gateway"), field="gateway")
    if gateway.status is DeviceStatus.DECOMMISSIONED:
        raise Invalid(_("Device %(id)s is decommissioned") % {"id": uid}, field="gateway")
    if township_code(gateway.area_id) != township_code(village):
        raise Invalid(_("The gateway is in another township"), field="gateway")
    return gateway


def coordinates(location: Point | None) -> dict[str, float | None]:
    if location is None:
        return {"longitude": None, "latitude": None}
    longitude, latitude = location.coordinates
    return {"longitude": longitude, "latitude": latitude}


async def _audit(principal: Principal | str, action: str, device: Device, detail: dict[str, Any] | None = None) -> None:
    actor = principal if isinstance(principal, str) else principal.id
    await record_audit(actor, action, area_code=device.area_id, target_type="device", target_id=device.uid,
                       detail=detail)


async def insert_device(actor: Principal | str, model: DeviceModel, fields: dict[str, Any]) -> tuple[Device, str]:
    """Store a new active device with a fresh token, audited; 409 if its model already has this serial number."""
    token = new_device_token()
    try:
        async with in_transaction():
            device = await Device.create(
                uid=new_device_uid(), model=model, token_hash=token_hash(token),
                created_by=actor if isinstance(actor, str) else actor.id, **fields,
            )
            await _audit(actor, "device.created", device, {"model": model.key, "serial_number": device.serial_number})
    except IntegrityError:
        raise Conflict(_("A device of this model with this serial number is registered"), field="serialNumber") from None
    device.model = model
    return device, token


async def create_device(principal: Principal, data: DeviceIn) -> tuple[Device, str]:
    """A device pre-registered by staff in a village they cover, and its token, shown this once."""
    village = await area_in_scope(principal, data.area, "area", village=True)
    model = await _model_for(data.model)
    owner = await owner_in_scope(principal, data.owner)
    if data.gateway is not None and model.category == "gateway":
        raise Invalid(_("A gateway cannot send through another gateway"), field="gateway")
    gateway = await gateway_for(principal, data.gateway, village.code)
    device, token = await insert_device(principal, model, {
        "serial_number": data.serial_number.strip(), "name": data.name.strip(), "area": village,
        "organisation_id": owner, "install_date": data.date_installed, "firmware_version": data.firmware_version,
        "gateway": gateway, **coordinates(data.location),
    })
    device.gateway = gateway  # type: ignore[assignment]
    return device, token


async def _model_for(key: str) -> DeviceModel:
    try:
        return await get_model(key)
    except NotFound:
        raise Invalid(_("Unknown device model %(model)s") % {"model": key}, field="model") from None


async def list_devices(
    principal: Principal, area: str | None = None, model: str | None = None, state: DeviceStatus | None = None,
    connection: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Device], int]:
    """One page of the caller's devices, by area subtree, model, life state and connection."""
    query = visible_devices(principal)
    if area is not None:
        query = query.filter(await in_area(principal, area, "area_id"))
    if model is not None:
        query = query.filter(model__key=model)
    if state is not None:
        query = query.filter(status=state)
    if connection is not None:
        query = query.filter(connection=connection)
    found = await query.select_related("model", "gateway").order_by("id").offset(offset).limit(limit)
    return found, await query.count()


async def _changes(principal: Principal, device: Device, patch: DevicePatch) -> dict[str, Any]:
    given = {name: value for name, value in msgspec.structs.asdict(patch).items() if value is not msgspec.UNSET}
    changes: dict[str, Any] = {}
    if "name" in given:
        changes["name"] = given["name"].strip()
    if "area" in given:
        changes["area_id"] = (await area_in_scope(principal, given["area"], "area", village=True)).code
    if "owner" in given:
        changes["organisation_id"] = await owner_in_scope(principal, given["owner"])
    if "location" in given:
        changes.update(coordinates(given["location"]))
    if "date_installed" in given:
        changes["install_date"] = given["date_installed"]
    if "firmware_version" in given:
        changes["firmware_version"] = given["firmware_version"]
    if "gateway" in given or "area_id" in changes:
        gateway_uid = given["gateway"] if "gateway" in given else (device.gateway.uid if device.gateway_id else None)
        gateway = await gateway_for(principal, gateway_uid, changes.get("area_id", device.area_id), device)
        changes["gateway_id"] = gateway.id if gateway is not None else None
    return {name: value for name, value in changes.items() if getattr(device, name) != value}


async def update_device(principal: Principal, uid: str, patch: DevicePatch) -> Device:
    """Rename, move within the caller's villages, re-own, relocate or note new firmware."""
    device = await get_device(principal, uid)
    changes = await _changes(principal, device, patch)
    if not changes:
        return device
    async with in_transaction():
        await Device.filter(id=device.id).update(**changes)
        await _audit(principal, "device.changed", device, {name: str(value) for name, value in changes.items()})
    if "gateway_id" in changes:
        await principals_changed()  # the old gateway stops relaying for it at once
    return await get_device(principal, uid)


STATUS_ACTIONS = {
    DeviceStatus.ACTIVE: "device.enabled", DeviceStatus.DISABLED: "device.disabled",
    DeviceStatus.DECOMMISSIONED: "device.decommissioned",
}


def _alive(device: Device) -> None:
    if device.status is DeviceStatus.DECOMMISSIONED:
        raise Conflict(_("The device is decommissioned"), field="device_id")


#: Told of a re-key before it is stored, with the device id, state and new token digest; raising stops the re-key.
Rekeyed = Callable[[str, DeviceStatus, str], Awaitable[None]]


async def rotate_token(principal: Principal, uid: str, rekeyed: Rekeyed | None = None) -> tuple[Device, str]:
    """A new token, shown this once; the old one stops working at once, in every process (and on the
    broker: ``rekeyed`` must take the new one first)."""
    device = await get_device(principal, uid)
    _alive(device)
    token = new_device_token()
    if rekeyed is not None:
        await rekeyed(device.uid, device.status, token_hash(token))
    async with in_transaction():
        await Device.filter(id=device.id).update(token_hash=token_hash(token), token_version=F("token_version") + 1)
        await _audit(principal, "device.token_rotated", device)
    await principals_changed()
    return await get_device(principal, uid), token


async def set_status(principal: Principal, uid: str, status: DeviceStatus) -> Device:
    """Disable, enable or decommission; a decommissioned device stays so. Stopping a token is immediate."""
    device = await get_device(principal, uid)
    if device.status is status:
        return device
    _alive(device)
    async with in_transaction():
        await Device.filter(id=device.id).update(status=status)
        await _audit(principal, STATUS_ACTIONS[status], device)
    if status is not DeviceStatus.ACTIVE:
        await principals_changed()
    return await get_device(principal, uid)


# -- wire shapes ---------------------------------------------------------------------


async def last_values_at(devices: Iterable[Device]) -> dict[int, datetime]:
    """``dateLastValueReported`` of each device: its newest stored reading's time."""
    ids = [device.id for device in devices]
    if not ids:
        return {}
    rows = await (TelemetryLatest.filter(device_id__in=ids).group_by("device_id")
                  .annotate(last=Max("ts")).values("device_id", "last"))
    return {row["device_id"]: row["last"] for row in rows}


def device_out(device: Device, last_value: datetime | None = None) -> DeviceOut:
    model: DeviceModel = device.model
    location = None
    if device.longitude is not None and device.latitude is not None:
        location = Point(type="Point", coordinates=(device.longitude, device.latitude))
    return DeviceOut(
        id=device.uid, ref_device_model=model.key, category=model.category, serial_number=device.serial_number,
        name=device.name, area=device.area_id, owner=device.organisation_id, location=location,
        date_installed=device.install_date, firmware_version=device.firmware_version,
        device_state=device.status.value, connection_state=device.connection.value,
        date_last_value_reported=last_value, last_seen=device.last_seen_at,
        controlled_property=sorted(model.properties), date_created=device.created_at,
        gateway=device.gateway.uid if device.gateway_id is not None else None,
    )


def device_token_out(device: Device, token: str, mqtt_password: str | None = None) -> DeviceTokenOut:
    return DeviceTokenOut(**msgspec.structs.asdict(device_out(device)), token=token, mqtt_password=mqtt_password)
