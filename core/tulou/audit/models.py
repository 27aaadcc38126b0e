"""Audit entries and the one-row head that serialises appends."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    """One audited action. The id is the chain order and hash covers every other field."""

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64, db_index=True)
    area_code = fields.CharField(max_length=12, null=True, db_index=True)
    target_type = fields.CharField(max_length=64, null=True)
    target_id = fields.CharField(max_length=128, null=True)
    purpose = fields.TextField(null=True)
    detail = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "core_audit_entry"
        ordering = ["id"]


class AuditHead(Model):
    """The single row every append updates first, which makes appends take turns.

    It also remembers the last entry, so truncating the tail of the log is noticed.
    """

    id = fields.IntField(primary_key=True)
    appends = fields.BigIntField(default=0)
    last_id = fields.IntField(default=0)
    last_hash = fields.CharField(max_length=64, default="0" * 64)

    class Meta:
        table = "core_audit_head"
