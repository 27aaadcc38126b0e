"""Alerts raised by devices' rules, and what each device says about its model's rules."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Alert(Model):
    """One raise of one rule on one device, and its clear once the condition ends.

    ``open_key`` (device and rule) is set while the alert is open and emptied when it
    clears: being unique, it lets one alert at most be open per device and rule,
    whichever process judges the readings. ``area`` is the device's village when raised.
    ``detail`` keeps the rule as it was, so an alert explains itself after the rule changes.
    """

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Device", related_name="alerts", on_delete=fields.CASCADE
    )
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="alerts", on_delete=fields.RESTRICT
    )
    rule = fields.CharField(max_length=32)
    kind = fields.CharField(max_length=16)
    property = fields.CharField(max_length=64, null=True)
    severity = fields.CharField(max_length=16)
    description = fields.CharField(max_length=200, default="")
    raised_at = fields.DatetimeField(db_index=True)
    cleared_at = fields.DatetimeField(null=True)
    value = fields.JSONField(null=True)
    detail = fields.JSONField(default=dict)
    open_key = fields.CharField(max_length=64, null=True, unique=True)
    acknowledged_at = fields.DatetimeField(null=True)
    acknowledged_by = fields.CharField(max_length=100, null=True)

    device_id: int
    area_id: str

    class Meta:
        table = "core_alert"
        indexes = (("area_id", "cleared_at"), ("device_id", "cleared_at"))
        ordering = ["id"]


class DeviceAlertRule(Model):
    """A device's own rule, its version of a model's rule (``rule``), or a model's rule left as it is
    (``rule`` null) and only switched off or on (``enabled``)."""

    id = fields.IntField(primary_key=True)
    device: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Device", related_name="alert_rules", on_delete=fields.CASCADE
    )
    rule_id = fields.CharField(max_length=32)
    rule = fields.JSONField(null=True)
    enabled = fields.BooleanField(default=True)
    updated_by = fields.CharField(max_length=100)
    updated_at = fields.DatetimeField(auto_now=True)

    device_id: int

    class Meta:
        table = "core_device_alert_rule"
        unique_together = (("device", "rule_id"),)
        ordering = ["id"]
