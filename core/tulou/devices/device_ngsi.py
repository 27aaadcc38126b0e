"""Devices and device models as NGSI-LD entities of the FIWARE Smart Data Models ``Device`` and ``DeviceModel``.

``GET /api/v1/devices/{id}?format=ngsi-ld`` answers a device, and ``GET /api/v1/devices/?format=ngsi-ld``
a page of them (an array, paged by a ``Link`` header), as ``application/ld+json``, to
callers holding ``telemetry:read`` as well as ``device:read`` in the device's village:
FIWARE tools then read Tulou's devices without a converter. A device's entity has:

- ``id`` ``urn:ngsi-ld:Device:<device id>``, ``type`` ``Device``;
- the model's attributes: ``name``, ``serialNumber``, ``category`` (a list of one),
  ``controlledProperty``, ``refDeviceModel`` (``urn:ngsi-ld:DeviceModel:<model id>``),
  ``deviceState``, and when known ``firmwareVersion``, ``dateInstalled``, ``location``,
  ``owner`` (``urn:ngsi-ld:Organization:<id>``) and ``dateLastValueReported``;
- ``value``: the latest values as the model writes several, ``name=value`` pairs joined by
  ``;`` and percent-encoded (each value percent-encoded first);
- each property's latest value as an attribute of its own name, unless ``Device`` already
  has an attribute of that name (``batteryLevel`` means something else there);
- ``address``, ``areaServed`` and ``dateCreated`` as the exchange gives records, and ``@context``.

A model's entity (``GET /api/v1/device-models/?format=ngsi-ld``) has ``id``
``urn:ngsi-ld:DeviceModel:<model id>``, ``category``, ``controlledProperty``, the names,
``description``, ``supportedProtocol`` and ``dateCreated``/``dateModified``: the schema
readings are checked against and the alert rules are Tulou's own and stay out.

Attributes without a value are left out: NGSI-LD has no null attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timezone
from typing import Any
from urllib.parse import quote

from tulou.devices.models import Device, DeviceModel
from tulou.devices.readings import latest_of_each
from tulou.devices.registry import get_device
from tulou.devices.telemetry_schemas import LatestValue
from tulou.errors import Forbidden
from tulou.exchange.ngsi import CONTEXT, addresses, timestamp
from tulou.i18n import gettext as _
from tulou.security.principal import Principal

READ_TELEMETRY = "telemetry:read"
#: The attributes of the Smart Data Model ``Device``: a property of the same name is left to ``value``.
DEVICE_ATTRIBUTES = frozenset({
    "address", "alternateName", "areaServed", "batteryLevel", "category", "configuration", "controlledAsset",
    "controlledProperty", "dataProvider", "dateCreated", "dateFirstUsed", "dateInstalled", "dateLastCalibration",
    "dateLastValueReported", "dateManufactured", "dateModified", "dateObserved", "depth", "description",
    "deviceState", "direction", "distance", "dstAware", "firmwareVersion", "hardwareVersion", "id", "ipAddress",
    "location", "macAddress", "mcc", "mnc", "name", "osVersion", "owner", "provider", "refDeviceModel",
    "relativePosition", "rssi", "seeAlso", "serialNumber", "softwareVersion", "source", "supportedProtocol", "type",
    "value",
})


def _text(value: float | bool | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encoded_value(latest: dict[str, LatestValue]) -> str:
    """``a=1;b=ok``, percent-encoded as the Smart Data Model's multi-value sensors write ``value``."""
    return quote(";".join(f"{name}={quote(_text(v.value), safe='')}" for name, v in latest.items()), safe="")


def _device_attributes(device: Device) -> dict[str, Any]:
    model: DeviceModel = device.model
    attributes: dict[str, Any] = {
        "name": device.name, "serialNumber": device.serial_number, "category": [model.category],
        "controlledProperty": sorted(model.properties), "refDeviceModel": f"urn:ngsi-ld:DeviceModel:{model.key}",
        "deviceState": device.status.value, "firmwareVersion": device.firmware_version or None,
    }
    if device.install_date is not None:
        attributes["dateInstalled"] = timestamp(datetime.combine(device.install_date, time(), timezone.utc))
    if device.longitude is not None and device.latitude is not None:
        attributes["location"] = {"type": "Point", "coordinates": [device.longitude, device.latitude]}
    if device.organisation_id is not None:
        attributes["owner"] = [f"urn:ngsi-ld:Organization:{device.organisation_id}"]
    return attributes


def entity(device: Device, latest: dict[str, LatestValue], address: dict[str, str]) -> dict[str, Any]:
    """The device and its latest values as the entity described above."""
    body: dict[str, Any] = {"id": f"urn:ngsi-ld:Device:{device.uid}", "type": "Device", **_device_attributes(device)}
    if latest:
        body["dateLastValueReported"] = timestamp(max(v.t for v in latest.values()))
        body["value"] = encoded_value(latest)
        body.update({name: v.value for name, v in latest.items() if name not in DEVICE_ATTRIBUTES})
    body.update({"address": address, "areaServed": device.area_id, "dateCreated": timestamp(device.created_at)})
    body["@context"] = list(CONTEXT)
    return {name: value for name, value in body.items() if value is not None}


def telemetry_reader(principal: Principal) -> Principal:
    """The caller seen only where it may read telemetry too, as the entities carry latest values; 403 if nowhere."""
    if not principal.has_permission(READ_TELEMETRY):
        raise Forbidden(_("You do not have the permission %(permission)s") % {"permission": READ_TELEMETRY})
    return principal.narrowed_to(READ_TELEMETRY)


async def entities(devices: Sequence[Device]) -> list[dict[str, Any]]:
    """The devices' entities in their order, with a query each for the latest values and the addresses."""
    latest = await latest_of_each(devices)
    places = await addresses(device.area_id for device in devices)
    return [entity(device, latest[device.id], places[device.area_id]) for device in devices]


async def device_entity(principal: Principal, uid: str) -> dict[str, Any]:
    """The entity of a device the caller may read the telemetry of: 403 without ``telemetry:read``, 404 outside it."""
    [found] = await entities([await get_device(telemetry_reader(principal), uid)])
    return found


def model_entity(model: DeviceModel) -> dict[str, Any]:
    """The model as the ``DeviceModel`` entity described above."""
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:DeviceModel:{model.key}", "type": "DeviceModel", "category": [model.category],
        "controlledProperty": sorted(model.properties), "manufacturerName": model.manufacturer,
        "brandName": model.brand or None, "modelName": model.model_name, "description": model.description or None,
        "supportedProtocol": list(model.protocols) or None, "dateCreated": timestamp(model.created_at),
        "dateModified": timestamp(model.updated_at), "@context": list(CONTEXT),
    }
    return {name: value for name, value in body.items() if value is not None}
