"""Device models, devices, provisioning keys, connection events and the latest value of each property.

Raw readings are not a Tortoise model: they are written and read in bulk on the
driver, and their table is created by the migration (see :mod:`tulou.devices.telemetry_store`).
"""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class DeviceStatus(str, enum.Enum):
    """Where a device is in its life: only an active device's token is accepted."""

    ACTIVE = "active"
    DISABLED = "disabled"
    DECOMMISSIONED = "decommissioned"


class Connection(str, enum.Enum):
    """Whether the device has been heard from within its model's heartbeat."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


class DeviceModel(Model):
    """A kind of device a maker sells: what it measures, in which units and ranges, and how often it reports.

    Plugins register models in code and the core keeps them in step at start-up, the
    county adds others through the API. ``version`` grows with every change, so
    validators compiled for an older version are dropped.
    """

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    category = fields.CharField(max_length=32)
    manufacturer = fields.CharField(max_length=200)
    brand = fields.CharField(max_length=200, default="")
    model_name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    properties = fields.JSONField(default=dict)
    heartbeat_seconds = fields.IntField(default=300)
    protocols = fields.JSONField(default=list)
    alert_rules = fields.JSONField(default=list)
    plugin = fields.CharField(max_length=64, null=True)
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "core_device_model"
        ordering = ["id"]


class ProvisioningKey(Model):
    """Lets installers claim devices of one model into one village for one owner, a limited number of times.

    Kept only as the SHA-256 of the key handed out once.
    """

    id = fields.IntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    label = fields.CharField(max_length=200, default="")
    model: fields.ForeignKeyRelation[DeviceModel] = fields.ForeignKeyField(
        "tulou.DeviceModel", related_name="provisioning_keys", on_delete=fields.RESTRICT
    )
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="provisioning_keys", on_delete=fields.RESTRICT
    )
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="provisioning_keys", null=True, on_delete=fields.RESTRICT
    )
    uses_left = fields.IntField()
    expires_at = fields.DatetimeField()
    revoked = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    model_id: int
    area_id: str
    organisation_id: int | None

    class Meta:
        table = "core_provisioning_key"
        ordering = ["id"]


class Device(Model):
    """One device in a village, of one model, known to the outside by ``uid`` (``dev_`` and 12 letters).

    Its token is kept only as a SHA-256 digest. ``last_seen_at`` is when the server
    last stored a reading from it, which the status job compares with the heartbeat.
    ``refused_count`` counts what it sent that was refused (see :class:`DeviceErrorRecord`).
    ``gateway`` is the gateway that may send readings on its behalf, for a device with
    no connection of its own (a LoRa or RS-485 sensor behind a village gateway).
    """

    id = fields.IntField(primary_key=True)
    uid = fields.CharField(max_length=16, unique=True)
    model: fields.ForeignKeyRelation[DeviceModel] = fields.ForeignKeyField(
        "tulou.DeviceModel", related_name="devices", on_delete=fields.RESTRICT
    )
    serial_number = fields.CharField(max_length=128)
    name = fields.CharField(max_length=200)
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="devices", on_delete=fields.RESTRICT
    )
    organisation: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "tulou.Organisation", related_name="devices", null=True, on_delete=fields.RESTRICT
    )
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    install_date = fields.DateField(null=True)
    firmware_version = fields.CharField(max_length=64, default="")
    status = fields.CharEnumField(DeviceStatus, max_length=16, default=DeviceStatus.ACTIVE)
    connection = fields.CharEnumField(Connection, max_length=16, default=Connection.UNKNOWN)
    token_hash = fields.CharField(max_length=64, unique=True)
    token_version = fields.IntField(default=1)
    provisioning_key: fields.ForeignKeyNullableRelation[ProvisioningKey] = fields.ForeignKeyField(
        "tulou.ProvisioningKey", related_name="devices", null=True, on_delete=fields.SET_NULL
    )
    gateway: fields.ForeignKeyNullableRelation[Device] = fields.ForeignKeyField(
        "tulou.Device", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    last_seen_at = fields.DatetimeField(null=True, db_index=True)
    refused_count = fields.IntField(default=0)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    model_id: int
    area_id: str
    organisation_id: int | None
    provisioning_key_id: int | None
    gateway_id: int | None

    class Meta:
        table = "core_device"
        unique_together = (("model", "serial_number"),)
        ordering = ["id"]


class DeviceEventRecord(Model):
    """Something that happened to a device that others may react to: it went online or offline.

    ``kind`` names the event (``connection``, or ``alert`` for an alert raised, cleared or
    acknowledged), ``state`` what it became. Plugins hear of each through the ``device_event`` hook.
    """

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "tulou.Device", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=32)
    state = fields.CharField(max_length=32)
    at = fields.DatetimeField(db_index=True)
    detail = fields.JSONField(default=dict)

    device_id: int

    class Meta:
        table = "core_device_event"
        ordering = ["id"]


class DeviceErrorRecord(Model):
    """One thing a device sent that was refused: a reading over HTTP or MQTT, or a message over MQTT.

    Only the newest few per device are kept (see :mod:`tulou.devices.device_errors`),
    while the device's ``refused_count`` counts them all. ``message`` is in the
    language the refusal was answered in (over MQTT the server's default), ``problems``
    lists each reason as a 422 does.
    """

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "tulou.Device", related_name="errors", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    transport = fields.CharField(max_length=8)
    reason = fields.CharField(max_length=32)
    message = fields.TextField()
    problems = fields.JSONField(default=list)

    device_id: int

    class Meta:
        table = "core_device_error"
        ordering = ["id"]


class TelemetryProperty(Model):
    """A property name, numbered so raw readings store a small integer instead of the name."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "core_telemetry_property"
        ordering = ["id"]


class TelemetryLatest(Model):
    """The newest reading of each property of each device, kept up to date with every write."""

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "tulou.Device", related_name="latest", on_delete=fields.CASCADE
    )
    property: fields.ForeignKeyRelation[TelemetryProperty] = fields.ForeignKeyField(
        "tulou.TelemetryProperty", related_name="latest", on_delete=fields.RESTRICT
    )
    ts = fields.DatetimeField()
    value = fields.FloatField(null=True)
    text_value = fields.TextField(null=True)

    device_id: int
    property_id: int

    class Meta:
        table = "core_telemetry_latest"
        unique_together = (("device", "property"),)
        ordering = ["id"]
