"""Activation state and its history."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class ModuleActivation(Model):
    """A module switched on for one township (and so for every village under it)."""

    id = fields.IntField(primary_key=True)
    area = fields.ForeignKeyField("tulou.Area", related_name="activations", on_delete=fields.CASCADE)
    plugin = fields.CharField(max_length=64)
    enabled_by = fields.CharField(max_length=128)
    enabled_at = fields.DatetimeField(auto_now_add=True)

    area_id: str

    class Meta:
        table = "core_module_activation"
        unique_together = (("area", "plugin"),)


class ActivationAction(str, enum.Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class ActivationEvent(Model):
    """Who switched which module on or off for which township, and when."""

    id = fields.IntField(primary_key=True)
    area = fields.ForeignKeyField("tulou.Area", related_name="activation_events", on_delete=fields.CASCADE)
    plugin = fields.CharField(max_length=64, db_index=True)
    action = fields.CharEnumField(ActivationAction, max_length=16)
    actor = fields.CharField(max_length=128)
    at = fields.DatetimeField(auto_now_add=True)

    area_id: str

    class Meta:
        table = "core_module_event"
        ordering = ["id"]
