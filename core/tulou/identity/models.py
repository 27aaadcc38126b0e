"""Organisations, residents and households, with personal numbers stored only encrypted."""

from __future__ import annotations

import enum

from tortoise import fields
from tortoise.models import Model


class OrganisationKind(str, enum.Enum):
    DEPARTMENT = "department"
    TOWNSHIP_GOVERNMENT = "township_government"
    VILLAGE_COMMITTEE = "village_committee"
    VENDOR = "vendor"
    INTEGRATOR = "integrator"
    OTHER = "other"


class Sex(str, enum.Enum):
    MALE = "male"
    FEMALE = "female"


class Organisation(Model):
    """A body that acts in an area, such as a county bureau, a village committee or a vendor."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(OrganisationKind, max_length=32, db_index=True)
    area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="organisations", on_delete=fields.RESTRICT
    )
    parent: fields.ForeignKeyNullableRelation[Organisation] = fields.ForeignKeyField(
        "tulou.Organisation", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    area_id: str
    parent_id: int | None

    class Meta:
        table = "core_organisation"
        ordering = ["id"]


class Household(Model):
    """A registered household of a village, whose number is unique within that village."""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=32)
    address = fields.CharField(max_length=300, default="")
    village: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="households", on_delete=fields.RESTRICT
    )
    # A plain column, not a foreign key: Person already points at Household and tortoise
    # cannot create tables that point at each other. The service keeps it a member's id.
    head_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    village_id: str

    class Meta:
        table = "core_household"
        unique_together = (("village", "number"),)
        ordering = ["id"]


class Person(Model):
    """A resident. Resident ID and phone are kept only as ciphertext plus a keyed blind index."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, db_index=True)
    resident_id_cipher = fields.TextField()
    resident_id_index = fields.CharField(max_length=64, unique=True)
    birth_date = fields.DateField()
    sex = fields.CharEnumField(Sex, max_length=8)
    phone_cipher = fields.TextField(null=True)
    phone_index = fields.CharField(max_length=64, null=True, db_index=True)
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "tulou.Household", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    home_area: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "tulou.Area", related_name="residents", on_delete=fields.RESTRICT
    )
    tags = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    household_id: int | None
    home_area_id: str

    class Meta:
        table = "core_person"
        ordering = ["id"]
