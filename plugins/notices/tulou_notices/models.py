"""The ``notices_notice`` table."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from tulou.api import Area

TITLE_MAX_LENGTH = 100


class NoticeStatus(str, enum.Enum):
    """Where a notice is in its life: on the board, taken down early, or past its end."""

    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    ARCHIVED = "archived"


class Notice(Model):
    """A notice published to one village or township, shown while valid and kept after."""

    id = fields.IntField(primary_key=True)
    area: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "tulou.Area", related_name=False, on_delete=fields.RESTRICT, db_index=True
    )
    title = fields.CharField(max_length=TITLE_MAX_LENGTH)
    body = fields.TextField()
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField(null=True)
    status = fields.CharEnumField(NoticeStatus, max_length=16, default=NoticeStatus.PUBLISHED)
    published_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    area_id: str

    class Meta:
        table = "notices_notice"
        ordering = ["-valid_from", "-id"]
