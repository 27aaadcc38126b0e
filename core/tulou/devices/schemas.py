"""Wire shapes of device models, devices, provisioning keys and device events.

Member names follow FIWARE Smart Data Models ``Device`` and ``DeviceModel`` where
those have one (``serialNumber``, ``deviceState``, ``dateLastValueReported``...);
the mapping is in standards/devices/. Telemetry has its own module, :mod:`telemetry_schemas`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from tulou.devices.alert_schemas import AlertRule
from tulou.identity.schemas import AreaCode

ModelKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_.-]{1,63}$", description="the model's id")]
DeviceId = Annotated[str, msgspec.Meta(pattern=r"^dev_[a-z2-7]{12}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=200)]
SerialNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Firmware = Annotated[str, msgspec.Meta(max_length=64)]
Protocol = Literal["http", "mqtt"]
PropertySpecIn = dict[str, Any]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]


class Point(msgspec.Struct, forbid_unknown_fields=True):
    """A GeoJSON Point: ``coordinates`` are longitude then latitude (WGS 84), as GeoJSON has them."""

    type: Literal["Point"]
    coordinates: tuple[Longitude, Latitude]


class DeviceModelIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A model the county adds; ``telemetry`` maps property names to specs such as
    ``{"type": "number", "unit": "CEL", "minimum": -40, "maximum": 85}``; ``alertRules``
    apply to every device of the model unless the device changes them."""

    id: ModelKey
    category: str
    manufacturer_name: Name
    model_name: Name
    telemetry: dict[str, PropertySpecIn]
    heartbeat_seconds: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] = 300
    brand_name: Text = ""
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    supported_protocol: list[Protocol] = msgspec.field(default_factory=lambda: ["http"])
    alert_rules: list[AlertRule] = msgspec.field(default_factory=list)


class DeviceModelPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Only the members present change. Properties may be added or widened; devices keep their readings."""

    category: str | msgspec.UnsetType = msgspec.UNSET
    manufacturer_name: Name | msgspec.UnsetType = msgspec.UNSET
    model_name: Name | msgspec.UnsetType = msgspec.UNSET
    telemetry: dict[str, PropertySpecIn] | msgspec.UnsetType = msgspec.UNSET
    heartbeat_seconds: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] | msgspec.UnsetType = msgspec.UNSET
    brand_name: Text | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, msgspec.Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    supported_protocol: list[Protocol] | msgspec.UnsetType = msgspec.UNSET
    alert_rules: list[AlertRule] | msgspec.UnsetType = msgspec.UNSET


class DeviceModelOut(msgspec.Struct, rename="camel"):
    """``source`` is ``county`` or ``plugin:<name>``; plugin models change only with their plugin."""

    id: str
    category: str
    manufacturer_name: str
    brand_name: str
    model_name: str
    description: str
    controlled_property: list[str]
    telemetry: dict[str, dict[str, Any]]
    heartbeat_seconds: int
    supported_protocol: list[str]
    alert_rules: list[AlertRule]
    source: str
    version: int
    date_modified: datetime
    type: str = "DeviceModel"


class DeviceIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A device registered by staff in a village where they hold ``device:write``."""

    model: ModelKey
    serial_number: SerialNumber
    name: Name
    area: AreaCode
    owner: int | None = None
    location: Point | None = None
    date_installed: date | None = None
    firmware_version: Firmware = ""
    gateway: DeviceId | None = None


class DevicePatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Only the members present change; ``location: null`` removes the location."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    area: AreaCode | msgspec.UnsetType = msgspec.UNSET
    owner: int | None | msgspec.UnsetType = msgspec.UNSET
    location: Point | None | msgspec.UnsetType = msgspec.UNSET
    date_installed: date | None | msgspec.UnsetType = msgspec.UNSET
    firmware_version: Firmware | msgspec.UnsetType = msgspec.UNSET
    gateway: DeviceId | None | msgspec.UnsetType = msgspec.UNSET


class DeviceOut(msgspec.Struct, rename="camel"):
    """``deviceState`` is the device's life (active, disabled, decommissioned);
    ``connectionState`` whether it is heard from (unknown, online, offline)."""

    id: str
    ref_device_model: str
    category: str
    serial_number: str
    name: str
    area: str
    owner: int | None
    location: Point | None
    date_installed: date | None
    firmware_version: str
    device_state: str
    connection_state: str
    date_last_value_reported: datetime | None
    last_seen: datetime | None
    controlled_property: list[str]
    date_created: datetime
    gateway: str | None = None
    type: str = "Device"


class DeviceTokenOut(DeviceOut, rename="camel"):
    """A device with its access token: the answer to creating, claiming or re-keying it, and nowhere else.

    ``mqttPassword`` is the device's password on the county's MQTT broker (user name:
    the device id), derived from the token; null when the instance has no broker.
    """

    token: str = ""
    mqtt_password: str | None = None


class ProvisioningKeyIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """Lets installers claim up to ``uses`` devices of ``model`` into the village ``area`` until ``expiresAt``."""

    model: ModelKey
    area: AreaCode
    uses: Annotated[int, msgspec.Meta(ge=1, le=10_000)]
    owner: int | None = None
    label: Text = ""
    expires_at: datetime | None = None


class ProvisioningKeyOut(msgspec.Struct, rename="camel"):
    id: int
    label: str
    model: str
    area: str
    owner: int | None
    uses_left: int
    expires_at: datetime
    revoked: bool
    created_by: str
    date_created: datetime


class ProvisioningKeySecretOut(ProvisioningKeyOut, rename="camel"):
    """A key with its secret value, shown in the answer to creating it and never again."""

    key: str = ""


class ClaimIn(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """What a device (or its installer) says about itself when claiming with a provisioning key."""

    serial_number: SerialNumber
    name: Name | None = None
    location: Point | None = None
    firmware_version: Firmware = ""


class DeviceEventOut(msgspec.Struct):
    id: int
    device: str
    kind: str
    state: str
    at: datetime
    detail: dict[str, Any]


class DeviceErrorOut(msgspec.Struct):
    """Something the device sent that was refused, and how it came: ``problems`` as a 422 lists them."""

    at: datetime
    transport: Literal["http", "mqtt"]
    reason: str
    message: str
    problems: list[dict[str, Any]]


class DeviceErrorsOut(msgspec.Struct, rename="camel"):
    """How much the device sent was refused since it was registered, over HTTP or MQTT, and the newest refusals."""

    device: str
    refused_count: int
    recent: list[DeviceErrorOut]
