"""The ``Area`` table."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from tulou.areas.codes import AreaLevel


class Area(Model):
    """An administrative division, whose level and parent follow from its code."""

    code = fields.CharField(max_length=12, primary_key=True)
    name = fields.CharField(max_length=100)
    name_en = fields.CharField(max_length=200, null=True)
    level = fields.CharEnumField(AreaLevel, max_length=12, db_index=True)
    parent: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "tulou.Area", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    parent_id: str | None

    class Meta:
        table = "core_area"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
